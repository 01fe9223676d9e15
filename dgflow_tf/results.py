"""`RefinementModel.refine`: one call, with its samples, states, trajectories and metric curves."""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from dgflow_tf import engine
from dgflow_tf import noise as noise_lib
from dgflow_tf._validation import check_non_negative_int
from dgflow_tf.errors import raise_if_nonfinite


class RefinementResult(NamedTuple):
    """What `RefinementModel.refine` returns.

    Attributes:
        samples: refined samples `g(z_K)` (or `x_K` in data space), NumPy.
        states: the final refined states `z_K` (latents, or samples in data
            space), NumPy.
        trajectory_steps: steps at which states were recorded, or `None`.
        state_trajectory: `[len(trajectory_steps), batch, ...]` states, or
            `None`.
        sample_trajectory: the corresponding samples, or `None`.
        critic_trajectory: `[len(trajectory_steps), batch]` critic values
            `d(x_k)`, or `None`.
        metric_trajectory: `{name: [len(trajectory_steps)] values}` of the
            metrics passed to `refine`, or `None`.
        nonfinite_step: `[batch]` int array, the step at which each sample
            turned NaN or Inf and was frozen (`num_steps`: its final output),
            -1 for good samples; or `None`.
    """

    samples: np.ndarray
    states: np.ndarray
    trajectory_steps: np.ndarray | None = None
    state_trajectory: np.ndarray | None = None
    sample_trajectory: np.ndarray | None = None
    critic_trajectory: np.ndarray | None = None
    metric_trajectory: dict | None = None
    nonfinite_step: np.ndarray | None = None


def check_metrics(metrics, trajectory_every):
    if metrics is None:
        return {}
    if not isinstance(metrics, dict) or not all(callable(fn) for fn in metrics.values()):
        raise TypeError(
            "`metrics` must be a dict mapping names to callables of a batch of samples, e.g. "
            "{'fid': lambda x: frechet_distance(x, reference)}."
        )
    if metrics and not trajectory_every:
        raise ValueError(
            "`metrics` are evaluated on the recorded steps: pass trajectory_every > 0 (e.g. 5) as well."
        )
    return metrics


def refinement_result(outputs, num_steps, trajectory_every, metrics):
    """A `RefinementResult` from the engine's NumPy outputs, with `metrics` evaluated on each
    recorded frame (`metrics` from `check_metrics`)."""
    steps = engine.record_steps(num_steps, trajectory_every)
    metric_trajectory = None
    if metrics:
        metric_trajectory = {
            name: np.array([float(fn(frame)) for frame in outputs["sample_trajectory"]])
            for name, fn in metrics.items()
        }
    return RefinementResult(
        samples=outputs["samples"],
        states=outputs["states"],
        trajectory_steps=np.asarray(steps) if steps else None,
        state_trajectory=outputs.get("state_trajectory"),
        sample_trajectory=outputs.get("sample_trajectory"),
        critic_trajectory=outputs.get("critic_trajectory"),
        metric_trajectory=metric_trajectory,
        nonfinite_step=outputs["nonfinite_step"],
    )


def refine(model, latents, conditions=None, seed=None, trajectory_every=0, metrics=None):
    """`RefinementModel.refine` on validated host inputs: one batch, the policy, a `RefinementResult`."""
    trajectory_every = check_non_negative_int(trajectory_every, "trajectory_every")
    metrics = check_metrics(metrics, trajectory_every)
    seed = noise_lib.sanitize_seed(model.seed if seed is None else seed)
    positions = tf.range(tf.shape(latents)[0], dtype=tf.int64)
    outputs = model._run_batch(latents, positions, seed, conditions, trajectory_every)
    outputs = {key: value.numpy() for key, value in outputs.items()}
    raise_if_nonfinite(outputs["nonfinite_step"], policy=model.on_nonfinite, samples=outputs["samples"])
    return refinement_result(outputs, model.num_steps, trajectory_every, metrics)
