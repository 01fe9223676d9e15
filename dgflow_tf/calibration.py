"""`RefinementModel.calibrate`: a tuned step size in one call, for users who have data.

`calibrate(model, real_samples)` refines one tuning batch at step sizes
spread around the model's `auto` step (`STEP_FACTORS` times it), scores each
result against the real samples, and sets the best on the model. The
unrefined samples are scored too and come first in the table, so a setting
is only chosen when it beats no refinement on the tuning batch; when none
does, the model's `num_steps` is set to 0 (it then returns `g(z)`) and a
warning says so. The default score is the exact optimal-transport distance
(earth mover's, `metrics.ot_distance`) between the refined samples and the
real ones, flattened: it needs no feature extractor, so it suits points,
images and sequences alike; pass `metric` for FID or any other.

Keep the evaluation apart from the calibration: the tuning batch uses
latents of its own (`seed`), and the real samples passed here should not be
the ones you report against.

Examples:
    >>> from dgflow_tf import RefinementModel, critics, datasets
    >>> from dgflow_tf.zoo import toy_gans
    >>> generator, critic = toy_gans.load_toy_gan("25gaussians", "wgan-gp")
    >>> model = RefinementModel(generator, critics.WassersteinCritic(critic), seed=0)
    >>> table = model.calibrate(datasets.twenty_five_gaussians(500, seed=100))  # doctest: +SKIP
    >>> model.step_size, model.num_steps  # doctest: +SKIP
"""

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dgflow_tf.refinement import RefinementModel

import math
import time
import warnings

import numpy as np

from dgflow_tf import config, tuning
from dgflow_tf._validation import check_positive_int
from dgflow_tf.errors import caller_stacklevel

#: The step sizes tried, as multiples of the `auto` step. `auto` is cautious by design (it must not
#: hurt flat critics); the MNIST DCGAN's best step on its tuning seed was 15x it, hence up to 32x.
STEP_FACTORS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
#: The default tuning batch: at most this many latents, and as many real samples in the default score.
MAX_SAMPLES = config.CALIBRATION_SAMPLES
#: The tuning latents' seed, apart from the refinement seeds users report with.
CALIBRATION_SEED = 7_919


def _ot_score(real):
    from dgflow_tf.metrics import ot_distance

    reference = real.reshape(len(real), -1)

    def score(samples):
        return ot_distance(np.asarray(samples, np.float64).reshape(len(samples), -1), reference)

    return score


class _ProgressBar:
    """A Keras progress bar over the settings showing the best score so far; forwards rows to `progress`."""

    def __init__(self, total, name, higher_is_better, verbose, progress):
        import keras

        self.name = f"best {name}"
        self.bar = keras.utils.Progbar(
            total, verbose=verbose, stateful_metrics=[self.name], unit_name="setting"
        )
        self.sign, self.progress = -1.0 if higher_is_better else 1.0, progress
        self.done, self.best = 0, math.inf

    def __call__(self, row):
        if row["status"] == "ok" and math.isfinite(row["score"]):
            self.best = min(self.best, self.sign * row["score"])
        self.update(self.done + 1)
        if self.progress is not None:
            self.progress(row)

    def update(self, done):
        self.done = done
        best = [(self.name, self.sign * self.best)] if math.isfinite(self.best) else []
        self.bar.update(done, values=best)

    def finish(self):
        # Settings the sweep skipped (larger steps at more K after a divergence) report no row.
        if self.done < self.bar.target:
            self.update(self.bar.target)


def calibrate(
    model: "RefinementModel",
    real_samples: np.ndarray,
    *,
    latents: np.ndarray | None = None,
    metric: Callable[[np.ndarray], float] | None = None,
    higher_is_better: bool = False,
    step_sizes: Sequence[float] | None = None,
    num_steps: Sequence[int] | None = None,
    seed: int = CALIBRATION_SEED,
    num_samples: int = MAX_SAMPLES,
    verbose: int = 1,
    progress: Callable[[dict], None] | None = None,
) -> tuning.SweepResult:
    """Chooses `model`'s step size (and number of steps) on a tuning batch; sets and returns it.

    Args:
        model: a `RefinementModel`.
        real_samples: `[n, ...]` real data in the generator's output space
            (the first `num_samples` are used by the default metric).
        latents: the tuning batch. Defaults to `min(n, num_samples)` latents
            drawn from the model's prior with `seed`.
        metric: callable from refined samples to a number. Defaults to the
            optimal-transport distance to `real_samples`.
        higher_is_better: how `metric` ranks. Defaults to `False` (a
            distance); ignored for the default metric.
        step_sizes: the step sizes to try. Defaults to `STEP_FACTORS` times
            the `auto` step for the model's `num_steps`.
        num_steps: step counts to try. Defaults to the model's `num_steps`.
        seed: the tuning latents' and the noise's seed. Defaults to
            `CALIBRATION_SEED`.
        num_samples: positive int, the size of the default tuning batch and
            of the default score's reference. Defaults to `MAX_SAMPLES`; the
            cost is one refinement of this many samples per setting tried, so
            lower it for a large model (a 784-dimensional flow took minutes
            per setting at 1,000).
        verbose: 1 for a progress bar over the settings (with the best score
            so far), 0 for none. Defaults to 1.
        progress: optional callable `(row) -> None` after each setting, no
            refinement first.

    Returns:
        A `tuning.SweepResult` whose first row (`step_size` 0, `num_steps`
        0) is no refinement; `result.best` is the setting now on the model.

    Raises:
        ValueError: for real samples whose per-sample shape differs from the
            generator's output, or that are empty or not finite; for a
            `num_samples` that is not a positive int or a `verbose` not 0 or 1.
    """
    real = np.asarray(real_samples)
    if real.ndim == 0 or len(real) == 0 or not np.all(np.isfinite(real)):
        raise ValueError(
            "`real_samples` must be a non-empty array of finite values, one row per sample. "
            f"Received an array of shape {real.shape}."
        )
    num_samples = check_positive_int(num_samples, "num_samples")
    if verbose not in (0, 1):
        raise ValueError(f"`verbose` must be 0 or 1. Received: verbose={verbose!r}")
    if latents is None:
        latents = model.sample_latents(min(len(real), num_samples), seed=seed)
    base = model.generate(latents) if model.generator is not None else np.asarray(latents)
    if base.shape[1:] != real.shape[1:]:
        raise ValueError(
            f"`real_samples` must have the generator's per-sample shape {list(base.shape[1:])}. "
            f"Received: {list(real.shape[1:])}."
        )
    name = "score"
    if metric is None:
        metric, higher_is_better, name = _ot_score(real[:num_samples]), False, "OT distance"
    steps = (
        [model.num_steps or 1]
        if num_steps is None
        else [check_positive_int(k, "num_steps") for k in num_steps]
    )
    if step_sizes is None:
        # The model's own step (auto resolves on the tuning batch if it needs inputs), for its K;
        # each K tried gets the same total time.
        center = model.resolve_step_size(latents)
        step_sizes = [factor * center * (model.num_steps or 1) / steps[0] for factor in STEP_FACTORS]

    def build(step_size, num_steps):
        # The same generator and critic objects (a config round trip would rebuild their weights).
        # The model's dtype policy too: a float64 (or mixed-precision) model is tuned as it will run.
        settings = {**model.config.arguments(), "step_size": step_size, "num_steps": num_steps, "seed": seed}
        return type(model)(model.generator, model.critic, dtype=model.dtype_policy, **settings)

    bar = _ProgressBar(1 + len(step_sizes) * len(steps), name, higher_is_better, verbose, progress)
    start = time.perf_counter()
    base_score = float(metric(base))
    base_row = {
        "step_size": 0.0,
        "num_steps": 0,
        "score": base_score,
        "status": "ok",
        "seconds": time.perf_counter() - start,
    }
    bar(base_row)
    result = tuning.sweep(
        build,
        latents,
        metric,
        step_sizes=step_sizes,
        num_steps=steps,
        metric=name,
        higher_is_better=higher_is_better,
        reference=real[:num_samples],
        progress=bar,
    )
    bar.finish()
    result.rows.insert(0, base_row)
    best = result.best  # the first of equals: no refinement wins ties
    if best is base_row or not math.isfinite(best["score"]):
        warnings.warn(
            "calibrate: no step size refined the tuning batch better than no refinement, so "
            "num_steps is set to 0 (the model returns g(z) unchanged). The critic may not be "
            "informative enough for this generator, or the metric may not see the difference.",
            stacklevel=caller_stacklevel(),
        )
        model.set_settings(num_steps=0)
    else:
        model.set_settings(step_size=best["step_size"], num_steps=best["num_steps"])
    return result
