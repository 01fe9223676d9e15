"""DGflow on text: a character WGAN-GP's samples before and after refinement, by JS-n.

`compare_text(seed)` trains (or loads) the character GAN of `seed`, draws one
batch of latents, refines it in latent space with the WGAN critic under each
of the settings it is given, decodes every sample set by argmax and measures
JS-1..JS-4 against the held-out part of the corpus (`metrics.text`).
"""

import time

from dgflow_tf import critics, datasets
from dgflow_tf.metrics import text as text_metrics
from dgflow_tf.refinement import RefinementModel
from dgflow_tf.zoo import char_gan

# Latent-space DGflow-KL on the WGAN critic used as d(x) (the paper's convention for WGAN
# critics), at the paper's step size; benchmarks/text.py also runs the library's defaults
# (`step_size="auto"`) and a step tuned on a seed of its own.
DGFLOW_SETTINGS = {"space": "latent", "step_size": 0.1, "entropy_weight": 0.01, "num_steps": 25}
CRITIC_SCALE = 1.0
ORDERS = (1, 2, 3, 4)
_LATENTS = 30_000  # keeps the evaluation latents apart from the training seed's streams


def train_or_load(seed, size="cpu", cache_dir=None, critic_steps=None):
    """The character GAN of `seed`: loaded from `cache_dir` if saved there, else trained (and saved)."""
    if cache_dir is not None and critic_steps is None:
        try:
            return char_gan.load_char_gan(seed, size, cache_dir)
        except FileNotFoundError:
            pass
    model = char_gan.train_char_gan(seed, size=size, critic_steps=critic_steps)
    if cache_dir is not None and critic_steps is None:
        char_gan.save_char_gan(model, cache_dir)
    return model


def compare_text(
    seed,
    *,
    num_samples=2000,
    size="cpu",
    cache_dir=None,
    critic_steps=None,
    dgflow_settings=None,
    critic_scale=CRITIC_SCALE,
    progress=None,
    methods=None,
):
    """Base against DGflow-refined samples of one seed's character GAN.

    Args:
        seed: training seed of the GAN, and seed of the latents and noise.
        num_samples: samples per method. Defaults to `2000`.
        size: `char_gan.SIZES` key. Defaults to `"cpu"`.
        cache_dir: where trained GANs are kept between runs, or `None`.
        critic_steps: override the training length (quick runs; not cached).
        dgflow_settings: overrides of `DGFLOW_SETTINGS` for the method `"DGflow"`.
        critic_scale: scale of the WGAN critic as a log ratio.
        progress: optional callable taking a status string.
        methods: `{name: settings}` to refine with, in order, instead of
            `{"DGflow": DGFLOW_SETTINGS updated by dgflow_settings}`; settings
            `None` is `RefinementModel`'s every default.

    Returns:
        A tuple `(rows, samples)`: one row per method, the base first, with
        `js1`..`js4`, `seconds` and (refined rows) the `step_size` the method
        ran at, and `{method: decoded strings}`.

    Raises:
        ValueError: if a method is named `"base"`.
    """
    say = progress or (lambda message: None)
    if methods is None:
        methods = {"DGflow": {**DGFLOW_SETTINGS, **(dgflow_settings or {})}}
    if "base" in methods:
        raise ValueError("`methods` names the unrefined samples 'base' itself; give the method another name.")
    _, held_out, _ = datasets.python_docs_text()
    say(f"seed {seed}: character GAN")
    model = train_or_load(seed, size, cache_dir, critic_steps)
    latents = model.sample_latents(num_samples, _LATENTS + seed)
    critic = critics.WassersteinCritic(model.critic, scale=critic_scale)
    rows, samples = [], {}
    for method, settings in {"base": None, **methods}.items():
        say(f"seed {seed}: {method}")
        start = time.perf_counter()
        if method == "base":
            sequences, ran_at = model.generate(latents), {}
        else:
            refiner = RefinementModel(
                model.generator, critic, seed=seed, latent_shape=model.latent_shape, **(settings or {})
            )
            sequences = refiner.predict(latents, batch_size=500, verbose=0)
            ran_at = {"step_size": refiner.step_size}
        seconds = time.perf_counter() - start
        samples[method] = model.decode(sequences)
        row = {"seed": seed, "method": method, **text_metrics.js_table(samples[method], [held_out], ORDERS)}
        rows.append({**row, "seconds": seconds, **ran_at})
    return rows, samples
