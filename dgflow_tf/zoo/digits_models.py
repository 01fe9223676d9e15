"""The digits reference models: train, save and load them by name.

Five generative models of scikit-learn's 8x8 digits (native size, pixels in
`[-1, 1]`), each trainable on a CPU in about a minute:

- `"dcgan"`: DCGAN, non-saturating loss; its discriminator's logit is `d`.
- `"sn-dcgan"`: SN-DCGAN (spectral normalisation in the discriminator),
  non-saturating loss by default or hinge loss (`loss="hinge"`); its
  discriminator is the `d_pre` of the density-ratio corrector.
- `"vae"`: a convolutional VAE; the decoder mean is the generator.
- `"flow"`: a RealNVP flow from TFP bijectors, maximum likelihood; the
  generator is its bijector on base latents.
- `"mmd-gan"`: an MMD-GAN whose critic returns a 16-dimensional feature
  vector, so it has no scalar log ratio.

`train_digits_model(name, seed)` returns a `DigitsModel`; `save` and
`load_digits_model` store and restore it, so long benchmarks resume.

Examples:
    >>> model = train_digits_model("vae", seed=0, epochs=1)
    >>> model.generator(np.zeros((2, *model.latent_shape), "float32")).shape
    TensorShape([2, 8, 8, 1])
"""

import os
from dataclasses import dataclass, field

import keras
import numpy as np

from dgflow_tf import datasets
from dgflow_tf._validation import check_non_negative_int, check_positive_int
from dgflow_tf.adapters.flows import FlowGenerator
from dgflow_tf.zoo import dcgan, gan_training, saved_weights
from dgflow_tf.zoo.flows import RealNVPFlow
from dgflow_tf.zoo.vae import ConvolutionalVAE

NAMES = ("dcgan", "sn-dcgan", "vae", "flow", "mmd-gan")
GAN_LATENT_DIM = 32
VAE_LATENT_DIM = 16
MMD_FEATURES = 16
#: Training settings per model: epochs over the 1,797 digits, batch size.
DEFAULTS = {
    "dcgan": {"epochs": 60, "batch_size": 64, "width": 64},
    "sn-dcgan": {"epochs": 60, "batch_size": 64, "width": 64},
    "vae": {"epochs": 60, "batch_size": 64, "width": 32},
    "flow": {"epochs": 100, "batch_size": 128, "width": 256},
    "mmd-gan": {"epochs": 100, "batch_size": 64, "width": 64},
}


@dataclass
class DigitsModel:
    """A trained digits model, in the two callables DGflow needs.

    Attributes:
        name: one of `NAMES`.
        seed: the training seed.
        generator: callable from `[batch, *latent_shape]` to images.
        latent_shape: the generator's per-sample input shape.
        discriminator: the model's own logit `d(x)`, or `None` (VAE, flow,
            MMD-GAN) when it has no scalar log ratio.
        trainer: the trained Keras model (GAN trainer, VAE or flow).
        info: training settings and final losses.
    """

    name: str
    seed: int
    generator: object
    latent_shape: tuple
    discriminator: object
    trainer: keras.Model
    info: dict = field(default_factory=dict)

    def sample_latents(self, num_samples, seed):
        """Seeded `N(0, I)` latents, `[num_samples, *latent_shape]` float32."""
        rng = np.random.default_rng(seed)
        return rng.standard_normal(
            (check_positive_int(num_samples, "num_samples"), *self.latent_shape)
        ).astype("float32")

    def generate(self, latents, batch_size=500):
        """`generator(latents)` in batches, as a NumPy array."""
        return np.concatenate(
            [
                np.asarray(self.generator(latents[i : i + batch_size]))
                for i in range(0, len(latents), batch_size)
            ]
        )

    def sample(self, num_samples, seed, batch_size=500):
        """Seeded samples `generator(z)` as a NumPy array."""
        return self.generate(self.sample_latents(num_samples, seed), batch_size)


def canonical_name(name):
    """`name` as `NAMES` spells it (case, `_` and `-` ignored).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    key = str(name).lower().replace("_", "-")
    if key not in NAMES:
        raise ValueError(f"Unknown digits model {name!r}. Expected one of: {list(NAMES)}")
    return key


def _build(name, seed, settings, loss):
    width = settings["width"]
    if name in ("dcgan", "sn-dcgan", "mmd-gan"):
        generator = dcgan.dcgan_generator(GAN_LATENT_DIM, width=width, channels=1, image_size=8)
        discriminator = dcgan.dcgan_discriminator(
            width=width,
            channels=1,
            image_size=8,
            spectral_norm=name != "dcgan",
            outputs=MMD_FEATURES if name == "mmd-gan" else 1,
        )
        if name == "mmd-gan":
            trainer = gan_training.MMDGAN(generator, discriminator, seed=seed)
        elif loss == "hinge":
            trainer = gan_training.HingeGAN(generator, discriminator, seed=seed)
        else:
            trainer = gan_training.NonSaturatingGAN(generator, discriminator, seed=seed)
        return trainer
    if name == "vae":
        return ConvolutionalVAE(latent_dim=VAE_LATENT_DIM, width=width, seed=seed)
    return RealNVPFlow(event_shape=(8, 8, 1), hidden_units=width, seed=seed)


def _compile(trainer):
    if isinstance(trainer, gan_training._GANTrainer):
        trainer.compile()  # each trainer's documented optimiser defaults
    else:
        trainer.compile(optimizer=keras.optimizers.Adam(1e-3))


def _wrap(name, seed, trainer, info):
    if name == "vae":
        return DigitsModel(name, seed, trainer.decoder, (VAE_LATENT_DIM,), None, trainer, info)
    if name == "flow":
        generator = FlowGenerator(trainer.distribution, name="flow_generator")
        return DigitsModel(name, seed, generator, generator.latent_shape, None, trainer, info)
    discriminator = None if name == "mmd-gan" else trainer.discriminator
    return DigitsModel(name, seed, trainer.generator, (GAN_LATENT_DIM,), discriminator, trainer, info)


def train_digits_model(
    name: str,
    seed: int = 0,
    epochs: int | None = None,
    loss: str = "nsgan",
    verbose: int = 0,
    callbacks: list | None = None,
) -> DigitsModel:
    """Trains one digits model with `fit` on all 1,797 images.

    `keras.utils.set_random_seed(seed)` is called first: the initial
    weights, the training latents and the data order all follow `seed`.

    Args:
        name: one of `NAMES`.
        seed: int >= 0. Defaults to `0`.
        epochs: positive int, or `None` for `DEFAULTS[name]["epochs"]`.
        loss: `"nsgan"` or `"hinge"`, for the two DCGANs. Defaults to
            `"nsgan"`.
        verbose: as in `keras.Model.fit`.
        callbacks: Keras callbacks for `fit`.

    Returns:
        A `DigitsModel`.

    Raises:
        ValueError: for an unknown `name` or `loss`, or a bad `seed`/`epochs`.
    """
    name = canonical_name(name)
    seed = check_non_negative_int(seed, "seed")
    if loss not in ("nsgan", "hinge"):
        raise ValueError(f"Unknown loss {loss!r}. Expected 'nsgan' or 'hinge'.")
    settings = dict(DEFAULTS[name])
    if epochs is not None:
        settings["epochs"] = check_positive_int(epochs, "epochs")
    keras.utils.set_random_seed(seed)
    trainer = _build(name, seed, settings, loss)
    _compile(trainer)
    history = trainer.fit(
        datasets.digits(),
        batch_size=settings["batch_size"],
        epochs=settings["epochs"],
        shuffle=True,
        verbose=verbose,
        callbacks=callbacks,
    )
    final = {key: float(values[-1]) for key, values in history.history.items()}
    info = {"name": name, "seed": seed, "loss": loss, **settings, "final": final}
    return _wrap(name, seed, trainer, info)


def _paths(directory, name, seed, loss):
    stem = os.path.join(directory, f"{name}-{loss}-seed{seed}")
    return stem + ".weights.h5", stem + ".json"


def save_digits_model(model, directory):
    """Writes the model's weights (not its optimiser state) and info to `directory`.

    The weights are written to a temporary file and renamed, so an
    interrupted save never leaves a truncated file behind.
    """
    os.makedirs(directory, exist_ok=True)
    loss = model.info.get("loss", "nsgan")
    weights_path, _ = _paths(directory, model.name, model.seed, loss)
    saved_weights.save(
        model.trainer, lambda info: _build(model.name, model.seed, info, loss), weights_path, model.info
    )
    return weights_path


def load_digits_model(name, seed, directory, loss="nsgan"):
    """Restores a model saved by `save_digits_model`.

    Raises:
        FileNotFoundError: if the files are missing, naming them.
    """
    name = canonical_name(name)
    weights_path, _ = _paths(directory, name, seed, loss)
    trainer, info = saved_weights.load(
        weights_path,
        lambda info: _build(name, seed, info, loss),
        f"No saved {name!r} model for seed {seed} in {directory!r} (looked for {weights_path}). "
        "Train it with train_digits_model and save_digits_model.",
    )
    return _wrap(name, seed, trainer, info)


def train_or_load(name, seed, directory=None, loss="nsgan", verbose=0):
    """Loads the model from `directory` if saved there, else trains and saves it."""
    if directory is not None:
        try:
            return load_digits_model(name, seed, directory, loss)
        except FileNotFoundError:
            pass
    model = train_digits_model(name, seed, loss=loss, verbose=verbose)
    if directory is not None:
        save_digits_model(model, directory)
    return model
