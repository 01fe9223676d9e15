"""Train, save and load the 2-D GANs of the synthetic benchmark.

Two kinds of GAN are trained on 25 Gaussians and the Swiss roll:

- `"wgan-gp"`: the paper's Table 1 base model, with the toy protocol of the
  WGAN-GP authors (Gulrajani et al., 2017, `gan_toy.py` of
  https://github.com/igul222/improved_wgan_training): 2-D normal latents,
  generator and critic MLPs of 3 ReLU layers of 512 units, penalty weight
  0.1 ("smaller lambda seems to help for toy tasks"), 5 critic steps per
  generator step, batch 256, Adam(1e-4, beta_1=0.5, beta_2=0.9), 100,000
  training points. Their script runs 100,000 generator iterations; here
  16,000 critic steps (3,200 generator steps, about 5 minutes on 2 CPU
  cores) give a model that covers every mode but leaves many samples
  between them, the regime in which refinement matters.
- `"nsgan"`: a non-saturating GAN with 256-unit MLPs, whose samples are
  already mostly on the modes.

`train_toy_gan` is a function of its arguments: the data, the initial
weights, the training latents and the data order all come from `seed`
(bit for bit on one kind of CPU; oneDNN's AVX2 and AVX-512 kernels round
differently, so other machines give another model of the same quality).
The package ships the weights it produced for seed 0 with each loss's
`DEFAULTS` (`dgflow_tf/zoo/weights/`), so `dgflow-tf demo` starts at once;
`python -m dgflow_tf.zoo.toy_gans --loss wgan-gp --output DIR` remakes them.

Examples:
    >>> generator, critic = load_toy_gan("25gaussians", "wgan-gp")  # shipped weights
    >>> generator.input_shape
    (None, 2)
"""

import argparse
import contextlib
import hashlib
import json
import os
import platform

import numpy as np
import tensorflow as tf

from dgflow_tf import datasets
from dgflow_tf._validation import check_non_negative_int, check_positive_int
from dgflow_tf.cli.options import non_negative_int, positive_int
from dgflow_tf.zoo import gan_training, mlp

LOSSES = ("wgan-gp", "nsgan")
WEIGHTS_DIRECTORY = os.path.join(os.path.dirname(__file__), "weights")
#: Training settings of the shipped weights, per loss. `steps` counts critic
#: (discriminator) steps.
DEFAULTS = {
    "wgan-gp": {
        "steps": 16_000,
        "batch_size": 256,
        "num_data": 100_000,
        "width": 512,
        "depth": 3,
        "latent_dim": 2,
        "gradient_penalty_weight": 0.1,
        "critic_steps": 5,
    },
    "nsgan": {
        "steps": 20_000,
        "batch_size": 256,
        "num_data": 100_000,
        "width": 256,
        "depth": 3,
        "latent_dim": 2,
    },
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


def settings_for(loss, **overrides):
    """The training settings of `loss` (`DEFAULTS[loss]`) with `overrides` that are not `None`.

    Raises:
        ValueError: for an unknown loss, or an override the loss does not take.
    """
    settings = dict(DEFAULTS[_check_loss(loss)])
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in settings:
            raise ValueError(
                f"`{key}` is not a training setting of loss={loss!r}. Expected some of: {sorted(settings)}"
            )
        settings[key] = value
    return settings


def train_toy_gan(
    dataset: str = "25gaussians",
    loss: str = "nsgan",
    *,
    seed: int = 0,
    steps: int | None = None,
    batch_size: int | None = None,
    num_data: int | None = None,
    width: int | None = None,
    depth: int | None = None,
    latent_dim: int | None = None,
    gradient_penalty_weight: float | None = None,
    critic_steps: int | None = None,
    verbose: str | int = "auto",
    callbacks: list | None = None,
):
    """Trains an MLP GAN on a 2-D data set with `fit`.

    Every setting left at `None` takes the loss's value in `DEFAULTS` (the
    shipped weights' settings).

    Args:
        dataset: `"25gaussians"` or `"swissroll"`. Defaults to `"25gaussians"`.
        loss: `"nsgan"` (non-saturating, logit discriminator) or
            `"wgan-gp"` (Wasserstein critic with gradient penalty). Defaults
            to `"nsgan"`.
        seed: int >= 0; sets the training data, initial weights, latents and
            data order. Defaults to `0`.
        steps: training steps (critic steps for WGAN-GP).
        batch_size: samples per step.
        num_data: size of the training set drawn from the data set.
        width: units per hidden layer.
        depth: number of hidden layers.
        latent_dim: the latents' width.
        gradient_penalty_weight: WGAN-GP's `lambda` (`"wgan-gp"` only).
        critic_steps: critic iterations per generator iteration
            (`"wgan-gp"` only).
        verbose: as in `keras.Model.fit` (a progress bar by default).
        callbacks: Keras callbacks for `fit`.

    Returns:
        A tuple `(generator, discriminator, history)`; for WGAN-GP the
        discriminator is the critic (wrap it in `critics.WassersteinCritic`).

    Raises:
        ValueError: for an unknown data set or loss, or a WGAN-GP setting
            passed with `loss="nsgan"`.
    """
    key = datasets.canonical_name(dataset)
    settings = settings_for(
        loss,
        steps=steps,
        batch_size=batch_size,
        num_data=num_data,
        width=width,
        depth=depth,
        latent_dim=latent_dim,
        gradient_penalty_weight=gradient_penalty_weight,
        critic_steps=critic_steps,
    )
    seed = check_non_negative_int(seed, "seed")
    steps = check_positive_int(settings["steps"], "steps")
    batch_size = check_positive_int(settings["batch_size"], "batch_size")
    data = datasets.load(key, check_positive_int(settings["num_data"], "num_data"), seed=seed)
    shape = {name: settings[name] for name in ("width", "depth")}
    generator = mlp.mlp_generator(latent_dim=settings["latent_dim"], seed=seed, **shape)
    discriminator = mlp.mlp_discriminator(seed=seed, **shape)
    if loss == "nsgan":
        trainer = gan_training.NonSaturatingGAN(generator, discriminator, seed=seed)
    else:
        trainer = gan_training.WGANGP(
            generator,
            discriminator,
            critic_steps=settings["critic_steps"],
            gradient_penalty_weight=settings["gradient_penalty_weight"],
            seed=seed,
        )
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


def cpu_kind():
    """The SIMD extensions of this CPU that change oneDNN's rounding, e.g. `"avx2 avx512f"`.

    Training is bit for bit reproducible only on CPUs of the same kind, so
    the kind is recorded with the shipped weights.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except OSError:
        return platform.processor() or "unknown"
    return " ".join(sorted(f for f in set(flags) if f.startswith(("avx", "amx", "fma"))))


def save_toy_gan(generator, discriminator, directory, dataset, loss, seed, settings=None):
    """Writes the two models' weights and a JSON of their settings; returns the paths.

    The JSON also records both models' weight digests and `cpu_kind()`, so
    a retrained model can be checked bit for bit on a CPU of the same kind.
    """
    os.makedirs(directory, exist_ok=True)
    generator_path, discriminator_path, info_path = _paths(directory, dataset, loss, seed)
    generator.save_weights(generator_path)
    discriminator.save_weights(discriminator_path)
    info = {
        "dataset": dataset,
        "loss": loss,
        "seed": seed,
        **(settings or DEFAULTS[loss]),
        "generator_digest": weights_digest(generator),
        "discriminator_digest": weights_digest(discriminator),
        "cpu_kind": cpu_kind(),
    }
    with open(info_path, "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=1)
    return generator_path, discriminator_path, info_path


def training_info(dataset="25gaussians", loss="nsgan", seed=0, directory=None):
    """The JSON saved with a 2-D GAN's weights (settings, digests, CPU kind); `{}` if there is none."""
    info_path = _paths(directory or WEIGHTS_DIRECTORY, dataset, loss, check_non_negative_int(seed, "seed"))[2]
    if not os.path.exists(info_path):
        return {}
    with open(info_path, encoding="utf-8") as handle:
        return json.load(handle)


def load_toy_gan(
    dataset: str = "25gaussians",
    loss: str = "nsgan",
    seed: int = 0,
    directory: str | None = None,
    train_if_missing: bool = False,
    verbose: int = 0,
):
    """Loads (or trains) a 2-D GAN.

    Args:
        dataset: `"25gaussians"` or `"swissroll"`.
        loss: `"nsgan"` or `"wgan-gp"` (then the second model is a
            Wasserstein critic: wrap it in `critics.WassersteinCritic`).
            Defaults to `"nsgan"`.
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
    settings = DEFAULTS[loss]
    if os.path.exists(info_path):
        with open(info_path, encoding="utf-8") as handle:
            settings = {**DEFAULTS[loss], **json.load(handle)}
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
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument(
        "--steps", type=positive_int, default=None, help="training steps (default: the loss's)"
    )
    parser.add_argument("--output", required=True, help="directory for the weights and their JSON")
    args = parser.parse_args(argv)
    generator, discriminator, _ = train_toy_gan(args.dataset, args.loss, seed=args.seed, steps=args.steps)
    settings = settings_for(args.loss, steps=args.steps)
    paths = save_toy_gan(generator, discriminator, args.output, args.dataset, args.loss, args.seed, settings)
    print("wrote", *paths, "generator digest", weights_digest(generator))


if __name__ == "__main__":
    main()
