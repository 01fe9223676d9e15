"""`step_size="auto"`: a step size from the generator and critic alone, no data.

A fixed `eta` cannot suit every model: the paper's 0.1 was set for spectrally
normalised image critics, while the gradients of other critics are several
times steeper (a 2-D WGAN-GP's, a digits GAN's), and there 0.1 throws samples
past the modes it should pull them onto. What a user can fix without data is
how far the flow may move a sample. The rule:

    eta = min(DISPLACEMENT * scale / (num_steps * q90(rms(drift))), TIME_CAP / num_steps)

with `DISPLACEMENT = 0.5` and `TIME_CAP = 1.0` (in data space, `space="data"`,
`DATA_DISPLACEMENT = 0.0625` replaces `DISPLACEMENT`)

on a probe batch of `PROBE_SIZE` states: `rms(drift)` is each sample's drift
`s(d) * grad d` (one forward and backward pass) as a root mean square over its
coordinates, `q90` its 90th percentile over the probe, and `scale` the probe
states' standard deviation (root mean square over coordinates: about 1 for a
normal prior). Over the whole run of `num_steps` steps the drift then moves
each coordinate of all but the steepest tenth of the samples by at most
`DISPLACEMENT` standard deviations in the root-mean-square sense, whether the
states have 2 coordinates or 784. Below the cap the rule is invariant to
rescaling the critic (`d -> a d`) and the states (`z -> b z`); either way it
keeps the flow's total time `eta * K` fixed when `K` changes. Both constants
were chosen on the tuning seed of every zoo model (the 2-D, digits and MNIST
GANs), by the most models improved, then the most that keep 80 % of the best
gain any setting reached on them, then the best mean rank
(`benchmarks/auto_rule_sweep.py`, which publishes the sweep). The data-space
displacement was chosen the same way on the same models refined in data
space (`--space data`): a discriminator's pixel gradient points off the
images sooner than a latent gradient leaves the prior, and at the latent
rule's 0.5 data-space refinement made the digits GANs worse.

The probe is a function of the model alone, so `auto` resolves to the same
number however the inputs are batched: latents drawn from the model's
`latent_prior` with the fixed seed `PROBE_SEED` (their generator's samples in
data space). When the model cannot draw them (no `latent_shape`, a
conditional model, or samples refined without a generator), the probe is the
first `PROBE_SIZE` rows of the first inputs the model refines.

Examples:
    >>> norms = np.array([1.0, 2.0, 4.0, 8.0])
    >>> round(auto_step_size(norms, num_steps=25, scale=1.0), 6)  # 0.5 / (25 * q90)
    0.002941
"""

import math

import numpy as np
import tensorflow as tf

from dgflow_tf._validation import check_positive_float, check_positive_int

AUTO = "auto"
#: How many prior (or data) standard deviations the drift may move each coordinate of 90 % of the
#: probe over a run, and the most total time `eta * K` the flow may run; chosen from
#: {1/16, 1/8, 1/4, 1/2, 1} x {0.1, 0.25, 0.5, 1, 2, none} in `benchmarks/auto_rule_sweep.py`.
DISPLACEMENT = 0.5
TIME_CAP = 1.0
#: The displacement of data-space refinement (`space="data"`), where every pixel is a coordinate
#: and a discriminator's pixel gradient leaves the data sooner than a latent one; chosen from
#: {1/64, 1/32, 1/16, 1/8, 1/4, 1/2} at `TIME_CAP` by the same rule (`auto_rule_sweep.py --space data`).
DATA_DISPLACEMENT = 0.0625
#: The percentile of the probe's drift norms that sets the step.
QUANTILE = 90.0
#: Probe states, and the fixed seed of their draw.
PROBE_SIZE = 256
PROBE_SEED = 2_021


def is_auto(step_size):
    """Whether `step_size` asks for the automatic rule (the string `"auto"`, any case)."""
    return isinstance(step_size, str) and step_size.lower() == AUTO


def auto_step_size(
    drift_norms: np.ndarray,
    num_steps: int,
    scale: float = 1.0,
    displacement: float | None = None,
    quantile: float | None = None,
    time_cap: float | None = None,
) -> float:
    """The automatic step size for drift norms measured on a probe batch.

    Args:
        drift_norms: `[n]` per-sample root mean squares (over coordinates) of
            the drift `s(d) * grad d`.
        num_steps: positive int, `K`.
        scale: positive float, the states' standard deviation. Defaults to 1.
        displacement: how many `scale`s the drift may move the probe's
            `quantile` over the run. Defaults to `DISPLACEMENT` (read at call time).
        quantile: percentile in (0, 100]. Defaults to `QUANTILE` (read at call time).
        time_cap: the most total time `eta * num_steps`; `float("inf")` for
            none. Defaults to `TIME_CAP` (read at call time).

    Returns:
        A positive float, `min(displacement * scale / (num_steps * q(drift_norms)),
        time_cap / num_steps)`.

    Raises:
        ValueError: if no norm is finite (non-finite ones are left out),
            or their percentile is zero (the critic has no gradient on the probe).
    """
    displacement = check_positive_float(
        DISPLACEMENT if displacement is None else displacement, "displacement"
    )
    quantile = QUANTILE if quantile is None else quantile
    norms = np.asarray(drift_norms, np.float64).reshape(-1)
    num_steps = check_positive_int(num_steps, "num_steps")
    scale = check_positive_float(scale, "scale")
    # A probe sample whose drift is NaN/Inf says nothing about the scale; the refinement itself
    # reports such samples through its `on_nonfinite` policy.
    norms = norms[np.isfinite(norms)]
    if norms.size == 0:
        raise ValueError(
            "step_size='auto' needs finite drift norms on its probe batch; the critic's gradient was "
            "NaN/Inf (or the probe was empty). Pass a float `step_size` instead."
        )
    steep = float(np.percentile(norms, quantile))
    if not steep > 0.0:
        raise ValueError(
            "step_size='auto' found no drift: the critic's gradient is zero on the probe batch, so "
            "there is no scale to set the step by. Check that the critic depends on its input, or "
            "pass a float `step_size`."
        )
    time_cap = float(TIME_CAP if time_cap is None else time_cap)
    if not time_cap > 0.0:
        raise ValueError(f"`time_cap` must be positive (inf for none). Received: time_cap={time_cap!r}")
    return min(displacement * scale / (num_steps * steep), time_cap / num_steps)


def states_scale(states):
    """The states' standard deviation: the root mean square over coordinates of per-coordinate stds."""
    flat = np.asarray(states, np.float64).reshape(len(states), -1)
    scale = math.sqrt(float(np.mean(np.var(flat, axis=0))))
    return scale if scale > 0.0 else 1.0


def needs_inputs(model):
    """Whether `model` must see inputs to resolve `auto` (it cannot draw its own probe)."""
    return model.latent_shape is None or model.conditional or model.generator is None


def probe_inputs(model, latents=None, conditions=None):
    """The probe's `(latents, conditions)`: prior draws, or the first rows of the given inputs."""
    if not needs_inputs(model):
        return model.latent_prior.sample(
            PROBE_SIZE, model.latent_shape, PROBE_SEED, model.compute_dtype
        ), None
    if latents is None:
        raise ValueError(
            "step_size='auto' resolves on the first inputs this model refines, because it cannot draw "
            "its own probe (no latent_shape, a conditional model, or no generator). Call predict or "
            "refine first, or pass a float `step_size`."
        )
    latents = latents[:PROBE_SIZE]
    return latents, None if conditions is None else conditions[:PROBE_SIZE]


def resolve(model, latents=None, conditions=None):
    """The float step size `model`'s `auto` stands for (see the module docstring).

    Args:
        model: a `RefinementModel` whose `step_size` setting is `"auto"`.
        latents: the first inputs the model refines, used when it cannot draw
            its own probe. Defaults to `None`.
        conditions: their conditions, for a conditional model.

    Returns:
        A positive float.

    Raises:
        ValueError: when there is no probe, or the drift on it is zero or
            not finite.
    """
    from dgflow_tf.engine import drift
    from dgflow_tf.runner import batch_spec, compile_once

    if tf.inside_function():
        # Resolving needs its own gradient pass, which cannot run inside another function's trace
        # (tf.init_scope would lift it out, but it also pauses gradient tapes).
        raise ValueError(
            "step_size='auto' is resolved eagerly, before the model is used inside a tf.function: call "
            "model.resolve_step_size() (or predict/refine) first, or pass a float `step_size`."
        )
    latents, conditions = probe_inputs(model, latents, conditions)
    latents = tf.cast(latents, model.compute_dtype)
    if conditions is not None:
        conditions = tf.convert_to_tensor(conditions)

    def probe(latents, conditions=None):
        parts = model._flow_parts(latents, conditions)
        velocity = drift(parts.generator, parts.critic, model.divergence, parts.states, model.log_prior)[0]
        flat = tf.reshape(tf.cast(velocity, tf.float64), [tf.shape(velocity)[0], -1])
        # Root mean square per coordinate, so that the rule moves each coordinate the same fraction
        # of its spread in 2 dimensions as in 32 or 784.
        return tf.norm(flat, axis=1) / tf.sqrt(tf.cast(tf.shape(flat)[1], tf.float64)), parts.states

    inputs = [latents] if conditions is None else [latents, conditions]
    norms, states = compile_once(probe, [batch_spec(t) for t in inputs])(*inputs)
    states = states.numpy()
    finite = np.all(np.isfinite(states.reshape(len(states), -1)), axis=1)
    scale = states_scale(states[finite]) if finite.any() else 1.0
    norms = norms.numpy()
    displacement = DATA_DISPLACEMENT if model.space == "data" else DISPLACEMENT
    return auto_step_size(norms, model.num_steps if model.num_steps > 0 else 1, scale, displacement)
