"""DGflow and the baselines on the MNIST reference GANs, scored against the held-out test set.

`compare_mnist(model, methods, seed)` refines one batch of latents of a
`zoo.mnist_models` GAN with each method and scores the result with
`metrics.mnist.mnist_metrics` (FID, KID, precision, recall and classifier
score in the shipped classifier's feature space, against the 10,000 test
images). The methods, at equal budgets of `NUM_STEPS` generator and critic
evaluations per sample for every iterative method:

- `base`: the generator's samples.
- `DGflow-KL (defaults)`: `RefinementModel(generator, critic)` with every
  default, `step_size="auto"` included: what a new user gets.
- `DGflow-KL (calibrate)`: the same after one call of
  `RefinementModel.calibrate` on `CALIBRATION_IMAGES` training images, with
  FID against their features as its metric: what a user with data gets.
  The calibration's own cost (one run per step size tried, on its own
  latents) is paid once per model and is not in the per-sample count.
- `DGflow-KL`, `DGflow-JS`, `DGflow-logD`: latent-space DGflow at a step
  size chosen on the tuning seed (`benchmarks/mnist.py --tune`).
- `DGflow-KL (data)`: DGflow-KL in pixel space (`space="data"`), started
  at `g(z)`: one generator evaluation, then `NUM_STEPS` critic steps.
- `DGflow-KL (data, defaults)`: the same with every other default,
  `RefinementModel(generator, critic, space="data")`.
- `DOT`: latent-space discriminator optimal transport, same number of steps.
- `DDLS`: Langevin in latent space on `log p0(z) + d(g(z))`.
- `DRS`: rejection sampling with a burn-in of `DRS_BURN_IN` proposals.
- `MH-GAN`: independence Metropolis-Hastings, `NUM_STEPS` proposals a chain,
  started at the generator's own sample (not at a real image).

The VAE and the flow have no discriminator: `with_corrector(model)` gives
each the shipped DCGAN's discriminator as `d_pre` plus a density-ratio
corrector trained on `CORRECTOR_IMAGES` training images against as many of
the model's samples (the method, section 4), and every method then uses
`d_pre + c` as its critic. The flow's latents are its 784-dimensional base.

A WGAN-GP critic is read as `d` directly (`critics.WassersteinCritic`) by
the gradient methods; DRS and MH-GAN calibrate it (and the GANs' logits) on
training images against generated ones, as Turner et al. do, so no test
image is seen before scoring.

Examples:
    >>> from dgflow_tf.zoo import mnist_models
    >>> model = mnist_models.load_shipped_mnist_model("dcgan")
    >>> rows, samples = compare_mnist(model, ["base"], seed=0, num_samples=20, num_subsets=2)
    >>> sorted(samples), samples["base"].shape
    (['base'], (20, 28, 28, 1))
"""

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from dgflow_tf import critics, datasets, train_corrector
from dgflow_tf.baselines import DDLS, DOT, DRS, MHGAN, fit_logit_calibration
from dgflow_tf.errors import NonFiniteRefinementError
from dgflow_tf.metrics.mnist import mnist_metrics
from dgflow_tf.refinement import RefinementModel

if TYPE_CHECKING:
    from dgflow_tf.zoo.digits_models import DigitsModel

METHODS = (
    "base",
    "DGflow-KL (defaults)",
    "DGflow-KL (calibrate)",
    "DGflow-KL",
    "DGflow-JS",
    "DGflow-logD",
    "DGflow-KL (data)",
    "DGflow-KL (data, defaults)",
    "DOT",
    "DDLS",
    "DRS",
    "MH-GAN",
)
#: Steps of every gradient method and proposals of an MH-GAN chain: the paper's K.
NUM_STEPS = 25
ENTROPY_WEIGHT = 0.01
DRS_BURN_IN = 5000
CALIBRATION_IMAGES = 1000
#: Training images (and VAE samples) the VAE's corrector is trained on, and its epochs at most.
CORRECTOR_IMAGES = 5000
CORRECTOR_EPOCHS = 10
#: The latent and noise seed on which `benchmarks/mnist.py --tune` chooses every step size.
TUNING_SEED = 100
#: The grid of the tuning sweep, the same for every gradient method (DOT's learning rate).
STEP_SIZES = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)
DRS_QUANTILES = (0.5, 0.8, 0.95)
#: DGflow-KL's step per shipped GAN, chosen by that sweep on the tuning seed (benchmarks/results/mnist.md).
TUNED_STEP_SIZES = {"dcgan": 0.03, "sn-gan": 0.03, "wgan-gp": 0.03}
#: The tuned knob of each method; `None` for methods without one.
KNOBS = {
    "DGflow-KL": "step_size",
    "DGflow-JS": "step_size",
    "DGflow-logD": "step_size",
    "DGflow-KL (data)": "step_size",
    "DOT": "learning_rate",
    "DDLS": "step_size",
    "DRS": "gamma_quantile",
}
GRIDS = {**{method: STEP_SIZES for method in KNOBS}, "DRS": DRS_QUANTILES}

# Offsets that keep the random streams apart: evaluation latents, calibration, burn-in.
_LATENTS, _CALIBRATION, _BURN_IN, _CORRECTOR = 30_000, 40_000, 50_000, 60_000


def latents_for(model, num_samples, seed):
    """The evaluation latents of `seed`, the same for every method."""
    return model.sample_latents(num_samples, _LATENTS + seed)


@functools.lru_cache(maxsize=1)
def _training_images():
    """MNIST's training split, read once: DRS, MH-GAN and calibrate each draw from it for every seed."""
    return datasets.mnist("train")


def _calibration(model, num, seed):
    """`(slope, intercept)` that turn the critic's values into logits, fit on training images."""
    real = _training_images()[np.random.default_rng(_CALIBRATION + seed).choice(60000, num, replace=False)]
    fake = model.sample(num, _CALIBRATION + seed)
    values = [np.asarray(model.discriminator(batch, training=False)).reshape(-1) for batch in (real, fake)]
    return fit_logit_calibration(*values)


def with_corrector(model, d_pre=None, seed=0):
    """`model` with a critic: `d_pre` (the shipped DCGAN's discriminator) plus a corrector trained for it.

    Args:
        model: a `zoo.mnist_models` model without a discriminator (the VAE
            or the flow).
        d_pre: a discriminator trained on MNIST for another model. Defaults
            to the shipped DCGAN's.
        seed: keys the training images, the model's samples and the corrector's
            weights. Defaults to `0`.

    Returns:
        A copy of `model` whose `discriminator` is the critic `d_pre + c`, and
        whose `info["corrector"]` holds the corrector's training settings.
    """
    from dgflow_tf.zoo import mnist_models

    d_pre_source = "the shipped DCGAN's discriminator" if d_pre is None else "given by the caller"
    if d_pre is None:
        d_pre = mnist_models.load_shipped_mnist_model("dcgan").discriminator
    rows = np.random.default_rng(_CORRECTOR + seed).choice(60000, CORRECTOR_IMAGES, replace=False)
    started = time.perf_counter()
    fit = train_corrector(
        _training_images()[rows],
        model.sample(CORRECTOR_IMAGES, _CORRECTOR + seed),
        d_pre=d_pre,
        epochs=CORRECTOR_EPOCHS,
        seed=seed,
    )
    corrector = {
        "images": CORRECTOR_IMAGES,
        "epochs_run": len(fit.history.history["loss"]),
        "val_loss": float(min(fit.history.history["val_loss"])),
        "seconds": time.perf_counter() - started,
        "d_pre": d_pre_source,
    }
    return dataclasses.replace(model, discriminator=fit.critic, info={**model.info, "corrector": corrector})


_calibrated_steps = {}


def calibrated_step_size(model):
    """The step `RefinementModel.calibrate` chooses for `model` against training images (once per model)."""
    from dgflow_tf.metrics import images as image_metrics
    from dgflow_tf.metrics.mnist import mnist_features

    key = (model.name, model.seed)
    if key not in _calibrated_steps:
        rows = np.random.default_rng(_CALIBRATION).choice(60000, CALIBRATION_IMAGES, replace=False)
        real = _training_images()[rows]
        real_features = mnist_features(real)[0]

        def fid(samples):
            return image_metrics.frechet_distance(mnist_features(samples)[0], real_features)

        critic = (
            critics.WassersteinCritic(model.discriminator) if model.name == "wgan-gp" else model.discriminator
        )
        refiner = RefinementModel(model.generator, critic)
        refiner.calibrate(real, metric=fid)
        _calibrated_steps[key] = (refiner.step_size, refiner.num_steps)
    return _calibrated_steps[key]


def _run(method, model, latents, seed, settings):
    """`(samples, generator_evals, critic_evals)` of one method."""
    critic = model.discriminator
    gradient_critic = critics.WassersteinCritic(critic) if model.name == "wgan-gp" else critic
    if method == "base":
        return model.generate(latents), 1.0, 0.0
    if method.startswith("DGflow") or method == "DDLS":
        if method == "DDLS":
            refiner = DDLS(model.generator, gradient_critic, seed=seed, num_steps=NUM_STEPS, **settings)
        elif method == "DGflow-KL (defaults)":
            refiner = RefinementModel(model.generator, gradient_critic, seed=seed)
        elif method == "DGflow-KL (data, defaults)":
            refiner = RefinementModel(model.generator, gradient_critic, seed=seed, space="data")
        elif method == "DGflow-KL (calibrate)":
            step_size, num_steps = calibrated_step_size(model)
            refiner = RefinementModel(
                model.generator, gradient_critic, seed=seed, step_size=step_size, num_steps=num_steps
            )
        else:
            divergence, _, space = method.removeprefix("DGflow-").partition(" ")
            refiner = RefinementModel(
                model.generator,
                gradient_critic,
                divergence=divergence,
                space="data" if space == "(data)" else "latent",
                entropy_weight=ENTROPY_WEIGHT,
                num_steps=NUM_STEPS,
                seed=seed,
                **settings,
            )
        counts = refiner.evaluations_per_sample()
        return refiner.predict(latents, batch_size=500, verbose=0), counts["generator"], counts["critic"]
    if method == "DOT":
        result = DOT(model.generator, gradient_critic, num_steps=NUM_STEPS, seed=seed, **settings).refine(
            latents
        )
    else:
        slope, intercept = _calibration(model, 2000, seed)

        def calibrated(samples):
            return slope * critic(samples, training=False) + intercept

        if method == "DRS":
            # The model's latent shape: a flow's generator declares none, and both draw latents.
            drs = DRS(model.generator, calibrated, seed=seed, latent_shape=model.latent_shape, **settings)
            result = drs.fit(model.sample_latents(DRS_BURN_IN, _BURN_IN + seed)).refine(latents)
        else:
            result = MHGAN(
                model.generator,
                calibrated,
                chain_length=NUM_STEPS,
                seed=seed,
                latent_shape=model.latent_shape,
            ).refine(latents)
    return result.samples, result.generator_evaluations, result.critic_evaluations


def compare_mnist(
    model: "DigitsModel",
    methods: Sequence[str] = METHODS,
    seed: int = 0,
    num_samples: int = 2000,
    settings: dict | None = None,
    num_subsets: int = 100,
    progress: Callable[[str], None] | None = None,
):
    """Refines one latent batch of `model` with each method and scores the samples against the test set.

    Args:
        model: a GAN of `zoo.mnist_models` (it needs a discriminator).
        methods: names from `METHODS`. Defaults to all.
        seed: keys the latents and every method's noise. Defaults to `0`.
        num_samples: samples per method. Defaults to `2000`.
        settings: `{method: {knob: value}}`, e.g. the tuned step sizes;
            each method in `KNOBS` needs its knob.
        num_subsets: KID's subsets. Defaults to `100`.
        progress: optional callable `(message) -> None`.

    Returns:
        `(rows, samples)`: one dict per method (the metrics of
        `mnist_metrics`, `generator_evals`, `critic_evals`, `seconds`,
        `diverged`) and `{method: images}`. A method that turned samples
        NaN or infinite has NaN metrics and `diverged` set to their number.

    Raises:
        ValueError: for an unknown method, a model without a discriminator,
            or a tuned method without its knob in `settings`.
    """
    unknown = [method for method in methods if method not in METHODS]
    if unknown:
        raise ValueError(f"Unknown methods {unknown}. Expected some of: {list(METHODS)}")
    if model.discriminator is None:
        raise ValueError(f"MNIST model {model.name!r} has no discriminator; train a corrector for it.")
    settings = settings or {}
    missing = [m for m in methods if m in KNOBS and KNOBS[m] not in settings.get(m, {})]
    if missing:
        raise ValueError(f"`settings` lacks the tuned {[KNOBS[m] for m in missing]} of {missing}.")
    latents = latents_for(model, num_samples, seed)
    rows, samples = [], {}
    for method in methods:
        if progress is not None:
            progress(f"{model.name} seed {seed}: {method}")
        start = time.perf_counter()
        diverged = 0
        try:
            output, generator_evals, critic_evals = _run(
                method, model, latents, seed, settings.get(method, {})
            )
        except NonFiniteRefinementError as error:
            output, diverged = None, len(error.sample_indices)
            generator_evals = critic_evals = float(NUM_STEPS)
        seconds = time.perf_counter() - start
        if output is not None:
            # Methods without DGflow's check (DOT, DRS, MH-GAN) may return NaN samples: the same verdict.
            finite = np.isfinite(np.asarray(output)).reshape(len(latents), -1).all(axis=1)
            if not finite.all():
                output, diverged = None, int(np.sum(~finite))
        if output is None:
            metrics = dict.fromkeys(
                ("fid", "kid", "kid_std", "precision", "recall", "score", "score_std"), np.nan
            )
        else:
            samples[method] = np.asarray(output)
            metrics = mnist_metrics(samples[method], num_subsets=num_subsets, seed=seed)
        rows.append(
            {
                "model": model.name,
                "seed": seed,
                "method": method,
                **metrics,
                "generator_evals": float(generator_evals),
                "critic_evals": float(critic_evals),
                "seconds": seconds,
                "diverged": diverged,
            }
        )
    return rows, samples
