"""The MNIST reference models: conv GANs, a VAE and a flow, trained on the 60,000 training images.

Each model is trained by `train_mnist_model(name, seed)` from the seed
alone (`keras.utils.set_random_seed` fixes the initial weights, the training
latents and the data order) and states its settings and training time in
`info`:

- `"dcgan"`: the DCGAN of `zoo.dcgan` at 28x28 (7x7 projection, two stride-2
  stages), non-saturating loss; its discriminator's logit is `d`.
- `"sn-gan"`: the same with `keras.layers.SpectralNormalization` on every
  discriminator layer, non-saturating loss.
- `"wgan-gp"`: the same networks as a WGAN-GP (5 critic steps per generator
  step, lambda 10); the critic is a Wasserstein potential.
- `"vae"`: `zoo.vae.ConvolutionalVAE` at 28x28 (two stride-2 stages, so
  the dense layers stay small); the decoder mean is the
  generator and it has no discriminator (train a density-ratio corrector).
- `"flow"`: `zoo.flows.RealNVPFlow` over the 784 pixels (affine couplings of
  dense networks, 256 pixel levels dequantised), maximum likelihood; its
  forward map from the 784-dimensional normal base is the generator
  (`adapters.flows.FlowGenerator`) and, like the VAE, it has no
  discriminator.

The package ships the seed-0 weights of every model in `SHIPPED`
(`load_shipped_mnist_model`); other seeds are trained and cached by
`benchmarks/mnist.py` through `train_or_load`.

Examples:
    >>> model = load_shipped_mnist_model("dcgan")
    >>> model.sample(2, seed=0).shape
    (2, 28, 28, 1)
"""

import json
import os
import time

import keras

from dgflow_tf import datasets
from dgflow_tf._validation import check_non_negative_int, check_positive_int
from dgflow_tf.adapters.flows import FlowGenerator
from dgflow_tf.zoo import dcgan, gan_training, saved_weights
from dgflow_tf.zoo.digits_models import DigitsModel
from dgflow_tf.zoo.flows import RealNVPFlow
from dgflow_tf.zoo.vae import ConvolutionalVAE

NAMES = ("dcgan", "sn-gan", "wgan-gp", "vae", "flow")
IMAGE_SHAPE = (28, 28, 1)
GAN_LATENT_DIM = 32
VAE_LATENT_DIM = 16
#: Training settings per model: epochs over the 60,000 training images, batch size, base width.
DEFAULTS = {
    "dcgan": {"epochs": 5, "batch_size": 64, "width": 32},
    "sn-gan": {"epochs": 5, "batch_size": 64, "width": 32},
    "wgan-gp": {"epochs": 6, "batch_size": 64, "width": 32},
    "vae": {"epochs": 10, "batch_size": 128, "width": 16},
    # width: each coupling network's hidden units.
    "flow": {"epochs": 20, "batch_size": 128, "width": 128},
}
#: Coupling layers of the flow, and the pixel levels it dequantises (MNIST's 8-bit grey).
FLOW_COUPLINGS = 6
FLOW_LEVELS = 256
SHIPPED_DIRECTORY = os.path.join(os.path.dirname(__file__), "weights", "mnist")
SHIPPED = NAMES


def canonical_name(name):
    """`name` as `NAMES` spells it (case and `_` ignored).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    key = str(name).lower().replace("_", "-")
    if key not in NAMES:
        raise ValueError(f"Unknown MNIST model {name!r}. Expected one of: {list(NAMES)}")
    return key


def _build(name, seed, width):
    if name == "vae":
        return ConvolutionalVAE(latent_dim=VAE_LATENT_DIM, image_size=28, width=width, seed=seed, stages=2)
    if name == "flow":
        return RealNVPFlow(
            event_shape=IMAGE_SHAPE,
            num_couplings=FLOW_COUPLINGS,
            hidden_units=width,
            levels=FLOW_LEVELS,
            seed=seed,
        )
    generator = dcgan.dcgan_generator(GAN_LATENT_DIM, width=width, channels=1, image_size=28)
    discriminator = dcgan.dcgan_discriminator(
        width=width, channels=1, image_size=28, spectral_norm=name == "sn-gan"
    )
    if name == "wgan-gp":
        return gan_training.WGANGP(generator, discriminator, seed=seed)
    return gan_training.NonSaturatingGAN(generator, discriminator, seed=seed)


def _wrap(name, seed, trainer, info):
    if name == "vae":
        return DigitsModel(name, seed, trainer.decoder, (VAE_LATENT_DIM,), None, trainer, info)
    if name == "flow":
        generator = FlowGenerator(trainer.distribution, name="flow_generator")
        return DigitsModel(name, seed, generator, generator.latent_shape, None, trainer, info)
    return DigitsModel(name, seed, trainer.generator, (GAN_LATENT_DIM,), trainer.discriminator, trainer, info)


def train_mnist_model(
    name: str,
    seed: int = 0,
    epochs: int | None = None,
    data_path: str | None = None,
    verbose: int = 0,
    callbacks: list | None = None,
) -> DigitsModel:
    """Trains one MNIST model with `fit` on the 60,000 training images.

    Args:
        name: one of `NAMES`.
        seed: int >= 0. Defaults to `0`.
        epochs: positive int, or `None` for `DEFAULTS[name]["epochs"]`.
        data_path: folder of MNIST's IDX files, as in `datasets.mnist`.
        verbose: as in `keras.Model.fit`.
        callbacks: Keras callbacks for `fit`.

    Returns:
        A `DigitsModel` (the container every image reference model uses).

    Raises:
        ValueError: for an unknown `name`, or a bad `seed` or `epochs`.
    """
    name = canonical_name(name)
    seed = check_non_negative_int(seed, "seed")
    settings = dict(DEFAULTS[name])
    if epochs is not None:
        settings["epochs"] = check_positive_int(epochs, "epochs")
    images = datasets.mnist("train", data_path)
    keras.utils.set_random_seed(seed)
    trainer = _build(name, seed, settings["width"])
    if isinstance(trainer, gan_training._GANTrainer):
        trainer.compile()  # each trainer's documented optimiser defaults
    else:
        trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    started = time.perf_counter()
    history = trainer.fit(
        images,
        batch_size=settings["batch_size"],
        epochs=settings["epochs"],
        shuffle=True,
        verbose=verbose,
        callbacks=callbacks,
    )
    final = {key: float(values[-1]) for key, values in history.history.items()}
    info = {
        "name": name,
        "seed": seed,
        **settings,
        "final": final,
        "train_seconds": round(time.perf_counter() - started, 1),
        "command": f"python -m dgflow_tf.zoo.mnist_models --name {name} --seed {seed}"
        + ("" if epochs is None else f" --epochs {settings['epochs']}"),
    }
    return _wrap(name, seed, trainer, info)


def _paths(directory, name, seed):
    stem = os.path.join(directory, f"mnist-{name}-seed{seed}")
    return stem + ".weights.h5", stem + ".json"


def save_mnist_model(model: DigitsModel, directory: str):
    """Writes the model's weights (not its optimiser state) and info to `directory`; returns the weights path.

    The weights go to a temporary file that is then renamed, so an
    interrupted save leaves no truncated file behind.
    """
    os.makedirs(directory, exist_ok=True)
    weights_path, _ = _paths(directory, model.name, model.seed)
    saved_weights.save(
        model.trainer, lambda info: _build(model.name, model.seed, info["width"]), weights_path, model.info
    )
    return weights_path


def load_mnist_model(name: str, seed: int, directory: str) -> DigitsModel:
    """Restores a model saved by `save_mnist_model`.

    Raises:
        FileNotFoundError: if the files are missing, naming them.
    """
    name = canonical_name(name)
    weights_path, _ = _paths(directory, name, seed)
    trainer, info = saved_weights.load(
        weights_path,
        lambda info: _build(name, seed, info["width"]),
        f"No saved MNIST {name!r} model for seed {seed} in {directory!r} (looked for {weights_path}). "
        f"Train it with `python -m dgflow_tf.zoo.mnist_models --name {name} --seed {seed} --output DIR`.",
    )
    return _wrap(name, seed, trainer, info)


def load_shipped_mnist_model(name: str) -> DigitsModel:
    """The seed-0 weights of `name` that ship with the package.

    Raises:
        ValueError: for an unknown `name`.
    """
    return load_mnist_model(name, 0, SHIPPED_DIRECTORY)


def train_or_load(
    name: str, seed: int, directory: str | None = None, data_path: str | None = None, verbose: int = 0
) -> DigitsModel:
    """Loads the model from `directory` if saved there, else trains it (and saves it there)."""
    if directory is not None:
        try:
            return load_mnist_model(name, seed, directory)
        except FileNotFoundError:
            pass
    model = train_mnist_model(name, seed, data_path=data_path, verbose=verbose)
    if directory is not None:
        save_mnist_model(model, directory)
    return model


def main(argv=None):
    import argparse

    from dgflow_tf.cli.options import non_negative_int, positive_int

    parser = argparse.ArgumentParser(description="Train an MNIST reference model from a seed.")
    parser.add_argument("--name", required=True, choices=NAMES)
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument(
        "--epochs", type=positive_int, default=None, help="training epochs (default: the model's)"
    )
    parser.add_argument("--data", default=None, help="folder of MNIST's IDX files (else DGFLOW_TF_MNIST_DIR)")
    parser.add_argument("--output", default=SHIPPED_DIRECTORY, help="folder for the weights and info")
    args = parser.parse_args(argv)
    model = train_mnist_model(args.name, args.seed, args.epochs, args.data, verbose=2)
    print(save_mnist_model(model, args.output))
    print(json.dumps(model.info, indent=2))


if __name__ == "__main__":
    main()
