"""Refine GANs published on TF-Hub (or any SavedModel with signatures).

`hub.KerasLayer` is a tf_keras layer, which Keras 3 models reject, so this
module wraps the signatures of a `hub.load`ed object in Keras 3 layers of its
own. Three layouts are recognised:

- **compare_gan** (TF1 Hub format, e.g. `google/compare_gan/s3gan_...`): one
  MetaGraph per tag set `{"gen", "bs<N>"}` and `{"disc", "bs<N>"}` with N in
  8..128 or `None`, each with a `default` signature: the generator maps
  `z` (standard normal in S3GAN and SSGAN) to `generated` images, the
  discriminator maps `images` to its output (S3GAN's `prediction` is a
  sigmoid, whose logit is served instead; `labels` in conditional modules).
- **named signatures**: `generator` and, optionally, `discriminator`
  signatures in one MetaGraph: TF2 SavedModels (normal `z`), and compare_gan's
  TF1 `model_N` exports (`z` uniform in `[-1, 1]`).
- **generator only** (ProGAN, BigGAN): a `default` or `serving_default`
  signature. Refine it with a critic you supply or train (e.g.
  `dgflow_tf.train_corrector`); asking for its discriminator is an error.

Signatures with a fixed batch size (compare_gan's `bs64`) are served by
padding the last chunk and mapping over chunks, so any number of samples can
be refined. Gradients flow through the loaded graphs; `load_gan` checks that
they do before refinement starts.

Nothing here downloads anything unless `handle` is a URL and the machine is
online; the tests build small modules with the same layouts on disk.

Examples:
    >>> gan = load_gan("/path/to/compare_gan_module")  # doctest: +SKIP
    >>> model = hub_refinement_model(gan, num_steps=25, seed=0)  # doctest: +SKIP
    >>> images = model.predict(model.sample_latents(64, seed=0))  # doctest: +SKIP
"""

from dgflow_tf.adapters.hub.gan import (
    HubGAN,
    check_differentiable,
    family_prior,
    hub_refinement_model,
    load_gan,
)
from dgflow_tf.adapters.hub.signature import HubSignature

__all__ = [
    "HubGAN",
    "HubSignature",
    "check_differentiable",
    "family_prior",
    "hub_refinement_model",
    "load_gan",
]
