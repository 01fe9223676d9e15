"""Train, save and load the 2-D GANs of the synthetic benchmark.

`train_toy_gan` is a function of its arguments: the data, the initial
weights, the training latents and the data order all come from `seed`.
The package ships the weights it produced for seed 0 with the defaults
(`dgflow_tf/zoo/weights/`), so `dgflow-tf demo` starts at once;
`python -m dgflow_tf.zoo.toy_gans --output DIR` remakes them.

Example:

>>> generator, discriminator = load_toy_gan("25gaussians")  # shipped weights
>>> generator.input_shape
(None, 2)
"""

import argparse
import contextlib
import json
import os

import numpy as np
import tensorflow as tf

from dgflow_tf import datasets
from dgflow_tf._validation import check_non_negative_int, check_positive_int
from dgflow_tf.zoo import gan_training, mlp

LOSSES = ("nsgan", "wgan-gp")
WEIGHTS_DIRECTORY = os.path.join(os.path.dirname(__file__), "weights")
#: Training settings of the shipped weights.
DEFAULTS = {
    "steps": 20_000,
    "batch_size": 256,
    "num_data": 100_000,
    "width": 256,
    "depth": 3,
    "latent_dim": 2,
}


def _check_loss(loss):
    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}. Expected one of: {list(LOSSES)}")
    return loss


@contextlib.contextmanager
def _default_global_seed():
    """Builds tf.data ops as if no global TF seed were set.

    `Dataset.shuffle(seed=s)` pairs its op seed with TensorFlow's global seed
    (a fixed default when none is set), so a caller's `tf.random.set_seed` or
    `keras.utils.set_random_seed` would change the data order. The shipped
    weights were made with no global seed; a caller's global seed is
    restored on exit (which, like any `tf.random.set_seed`, restarts its
    per-op seed counter).
    """
    previous = tf.compat.v1.get_seed(None)[0]
    if previous is None:
        yield
        return
    tf.random.set_seed(None)
    try:
        yield
    finally:
        tf.random.set_seed(previous)


def train_toy_gan(
    dataset="25gaussians",
    loss="nsgan",
    *,
    seed=0,
    steps=DEFAULTS["steps"],
    batch_size=DEFAULTS["batch_size"],
    num_data=DEFAULTS["num_data"],
    width=DEFAULTS["width"],
    depth=DEFAULTS["depth"],
    latent_dim=DEFAULTS["latent_dim"],
    verbose="auto",
    callbacks=None,
):
    """Trains an MLP GAN on a 2-D data set with `fit`.

    Args:
        dataset: `"25gaussians"` or `"swissroll"`. Defaults to `"25gaussians"`.
        loss: `"nsgan"` (non-saturating, logit discriminator) or `"wgan-gp"`.
            Defaults to `"nsgan"`.
        seed: int >= 0; sets the training data, initial weights, latents and
            data order. Defaults to `0`.
        steps: training steps (discriminator steps for WGAN-GP). Defaults
            to `20_000`.
        batch_size: Defaults to `256`.
        num_data: size of the training set drawn from the data set.
            Defaults to `100_000`.
        width, depth, latent_dim: the MLPs' shape. Default to `256`, `3`, `2`.
        verbose: as in `keras.Model.fit` (a progress bar by default).
        callbacks: Keras callbacks for `fit`.

    Returns:
        A tuple `(generator, discriminator, history)`.
    """
    key = datasets.canonical_name(dataset)
    _check_loss(loss)
    seed = check_non_negative_int(seed, "seed")
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    data = datasets.load(key, check_positive_int(num_data, "num_data"), seed=seed)
    generator = mlp.mlp_generator(latent_dim=latent_dim, width=width, depth=depth, seed=seed)
    discriminator = mlp.mlp_discriminator(width=width, depth=depth, seed=seed)
    trainer_class = gan_training.NonSaturatingGAN if loss == "nsgan" else gan_training.WGANGP
    trainer = trainer_class(generator, discriminator, seed=seed)
    trainer.compile()
    with _default_global_seed():
        pipeline = (
            tf.data.Dataset.from_tensor_slices(data)
            .shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
            .repeat()
            .batch(batch_size, drop_remainder=True)
        )
    epochs = 10 if steps >= 10 and steps % 10 == 0 else 1
    history = trainer.fit(
        pipeline,
        steps_per_epoch=steps // epochs,
        epochs=epochs,
        verbose=verbose,
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles, seeded
    )
    return generator, discriminator, history


def _paths(directory, dataset, loss, seed):
    stem = os.path.join(directory, f"{datasets.canonical_name(dataset)}-{_check_loss(loss)}-seed{seed}")
    return stem + ".generator.weights.h5", stem + ".discriminator.weights.h5", stem + ".json"


def save_toy_gan(generator, discriminator, directory, dataset, loss, seed, settings=None):
    """Writes the two models' weights and a JSON of their settings; returns the paths."""
    os.makedirs(directory, exist_ok=True)
    generator_path, discriminator_path, info_path = _paths(directory, dataset, loss, seed)
    generator.save_weights(generator_path)
    discriminator.save_weights(discriminator_path)
    with open(info_path, "w", encoding="utf-8") as handle:
        json.dump(
            {"dataset": dataset, "loss": loss, "seed": seed, **(settings or DEFAULTS)}, handle, indent=1
        )
    return generator_path, discriminator_path, info_path


def load_toy_gan(
    dataset="25gaussians", loss="nsgan", seed=0, directory=None, train_if_missing=False, verbose=0
):
    """Loads (or trains) a 2-D GAN.

    Args:
        dataset: `"25gaussians"` or `"swissroll"`.
        loss: `"nsgan"` or `"wgan-gp"`. Defaults to `"nsgan"`.
        seed: the training seed. Defaults to `0`.
        directory: where the weights are. Defaults to the shipped ones.
        train_if_missing: train with `DEFAULTS` (and save, when `directory`
            is given) if the weights are not there. Defaults to `False`.
        verbose: `fit`'s verbosity when training. Defaults to `0`.

    Returns:
        A tuple `(generator, discriminator)`.

    Raises:
        FileNotFoundError: if the weights are missing and
            `train_if_missing` is false; the message names the path.
    """
    seed = check_non_negative_int(seed, "seed")
    generator_path, discriminator_path, info_path = _paths(
        directory or WEIGHTS_DIRECTORY, dataset, loss, seed
    )
    if not (os.path.exists(generator_path) and os.path.exists(discriminator_path)):
        if not train_if_missing:
            raise FileNotFoundError(
                f"No weights at {generator_path}. Train them with "
                f"`python -m dgflow_tf.zoo.toy_gans --dataset {dataset} --loss {loss} --seed {seed} "
                f"--output DIR` and pass directory=DIR, or pass train_if_missing=True."
            )
        generator, discriminator, _ = train_toy_gan(dataset, loss, seed=seed, verbose=verbose)
        if directory is not None:
            save_toy_gan(generator, discriminator, directory, dataset, loss, seed)
        return generator, discriminator
    settings = DEFAULTS
    if os.path.exists(info_path):
        with open(info_path, encoding="utf-8") as handle:
            settings = {**DEFAULTS, **json.load(handle)}
    generator = mlp.mlp_generator(settings["latent_dim"], width=settings["width"], depth=settings["depth"])
    discriminator = mlp.mlp_discriminator(width=settings["width"], depth=settings["depth"])
    try:
        generator.load_weights(generator_path)
        discriminator.load_weights(discriminator_path)
    except (OSError, ValueError) as error:
        raise ValueError(f"Could not load toy GAN weights from {generator_path}: {error}") from error
    return generator, discriminator


def weights_digest(model):
    """A short checksum of a model's weights, for reproducibility checks."""
    import hashlib

    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m dgflow_tf.zoo.toy_gans", description="Train a 2-D GAN and save its weights."
    )
    parser.add_argument("--dataset", default="25gaussians", choices=datasets.names())
    parser.add_argument("--loss", default="nsgan", choices=LOSSES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    parser.add_argument("--output", required=True, help="directory for the weights and their JSON")
    args = parser.parse_args(argv)
    generator, discriminator, _ = train_toy_gan(args.dataset, args.loss, seed=args.seed, steps=args.steps)
    settings = {**DEFAULTS, "steps": args.steps}
    paths = save_toy_gan(generator, discriminator, args.output, args.dataset, args.loss, args.seed, settings)
    print("wrote", *paths, "generator digest", weights_digest(generator))


if __name__ == "__main__":
    main()
