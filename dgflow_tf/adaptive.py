"""Euler-Maruyama with a step per sample that shrinks where the sample overshoots: `solver="adaptive"`.

A fixed step size trades evaluations against accuracy for every sample at
once: long steps move the samples that still travel quickly, but throw those
that have reached a sharp mode of the critic back and forth across it, by
about `eta * |drift|` a step. The `"linear"` schedule shrinks every sample's
step on one timetable; this solver lets each sample shrink its own, when it
shows that it overshot. Every sample `i` keeps a step `eta_i`, starting at
`INITIAL_FACTOR * step_size`, and after each evaluation compares its new
drift `v_k` with the one it stepped along:

    eta_i <- SHRINK * eta_i   if <v_k, v_{k-1}>_i < 0  (the last step crossed a ridge of d)
    eta_i <- GROW * eta_i     otherwise
    z_{k+1} = z_k + eta_i * v_k + sqrt(2 * gamma * eta_i) * xi_k

the "bold driver" rule for learning rates (Battiti, 1989), per sample. With
the chosen `GROW = 1` a step only shrinks, so a run's total time is at most
`INITIAL_FACTOR * step_size * K`: long steps while a sample travels, halved
each time it overshoots. Each step's noise is scaled by the sample's own
step, so the run is Euler-Maruyama of the same flow on a time grid of the
sample's own, not another flow.

Cost: the drift a step evaluates is the one the next step compares with, so
`K` steps cost `K` critic and `K + 1` generator evaluations, exactly Euler's.
The noise is Euler's (keyed by seed, position and step, normal or Rademacher)
and the per-sample arithmetic runs in float64, so the same seed gives the
same samples at any batch size; memory does not grow with `K`.

The module constants were chosen from the `auto` step on the tuning seed of
the 25-Gaussian WGAN-GP and both digits GANs, at 10 and 25 steps, by the
largest least share of the gain Euler reaches at its tuned step in 25
(`benchmarks/quality_per_eval.py`, which measures the solver on every 2-D
and digits GAN at 2 to 25 steps). On evaluation seeds 0-2, 10 steps from
`auto` reach HQ 93.0 % on the 2-D WGAN-GPs against 93.9 % for 25 Euler
steps at the step tuned on seed 100, and FID 19.07 against 18.84 on the
digits SN-DCGANs; on the digits DCGANs (9.73 against 9.31) and the
Swiss-roll WGAN-GP it is worse than Euler with `auto` at the same budget,
so it is not the default. With its `step_size` tuned on seed 100 as
Euler's is, 10 steps reach HQ 94.6 % and FID 9.30 (DCGANs; tuned Euler
at 25: 9.29) and 19.07.

Examples:
    >>> from dgflow_tf import critics, divergences
    >>> critic = critics.get(lambda x: -tf.reduce_sum(tf.square(x), axis=-1) / 0.02)
    >>> out = simulate_adaptive(lambda z: z, critic, divergences.get("KL"), tf.fill([4, 2], 3.0),
    ...                         tf.range(4, dtype=tf.int64), tf.constant([1, 2]),
    ...                         step_size=0.02, entropy_weight=0.0, num_steps=10)
    >>> bool(tf.reduce_all(tf.abs(out["samples"]) < 0.1))  # onto the mode at 0, where Euler's 0.02 oscillates
    True
"""

import tensorflow as tf

from dgflow_tf import engine
from dgflow_tf import noise as noise_lib

#: A sample's first step as a multiple of `step_size`, and the factors its step takes after a step
#: whose drift it reverses (`SHRINK`) or keeps (`GROW`). Chosen on the tuning seed's 25-Gaussian
#: WGAN-GP and digits DCGAN and SN-DCGAN at 10 and 25 steps, from {1, 1.5, 2, 3} x {1, 1.1, 1.25} x
#: {0.5, 0.7} (`benchmarks/quality_per_eval.py` publishes the sweep and the rule).
INITIAL_FACTOR = 1.5
GROW = 1.0
SHRINK = 0.5


def adaptive_step(velocity, *, entropy_weight, noise, grow=None, shrink=None):
    """One step of the adaptive solver: `step(z, k, (v_prev, eta)) -> (z', g(z), d(g(z)), (v, eta'))`.

    Args:
        velocity: callable `z -> (v(z), g(z), d(g(z)))` (`engine.drift` bound).
        entropy_weight: float >= 0, `gamma`; `0` takes no noise.
        noise: callable `k -> xi_k` of the shape of `z`.
        grow: the factor of a step whose drift kept its direction; defaults
            to `GROW` (read at call time).
        shrink: the factor of a step whose drift reversed; defaults to
            `SHRINK` (read at call time).

    Returns:
        A step for `engine.run` with a carry of the previous drift and the
        `[batch]` float64 step sizes.
    """
    grow = tf.constant(GROW if grow is None else grow, tf.float64)
    shrink = tf.constant(SHRINK if shrink is None else shrink, tf.float64)

    def step(states, k, carry):
        previous, sizes = carry
        v, samples, logits = velocity(states)
        # The first step has nothing to compare with; a NaN drift compares false and its sample is
        # frozen by the loop anyway.
        reversed_ = engine.per_sample_sum(tf.cast(v, tf.float64) * tf.cast(previous, tf.float64)) < 0.0
        sizes = tf.where(k > 0, tf.where(reversed_, sizes * shrink, sizes * grow), sizes)
        dtype = states.dtype
        proposal = states + tf.cast(engine.broadcast_per_sample(sizes, states), dtype) * v
        if entropy_weight > 0.0:
            noise_std = tf.sqrt(2.0 * tf.constant(entropy_weight, tf.float64) * sizes)
            proposal = proposal + tf.cast(engine.broadcast_per_sample(noise_std, states), dtype) * noise(k)
        return proposal, samples, logits, (v, sizes)

    return step


def simulate_adaptive(
    generator,
    critic,
    divergence,
    states,
    positions,
    seed,
    *,
    step_size,
    entropy_weight,
    num_steps,
    trajectory_every=0,
    log_prior=None,
    constrain=None,
    noise_distribution="normal",
    initial_factor=None,
    grow=None,
    shrink=None,
):
    """`num_steps` adaptive Euler-Maruyama steps with per-sample step sizes, in one graph loop.

    Takes `engine.simulate`'s arguments (every sample starts at
    `initial_factor * step_size`; no schedule: the solver sets the steps)
    and returns its dict, plus `step_sizes`, each sample's last step.

    Args:
        initial_factor: each sample's first step as a multiple of
            `step_size`; defaults to `INITIAL_FACTOR`.
        grow: defaults to `GROW` (see `adaptive_step`).
        shrink: defaults to `SHRINK` (see `adaptive_step`).

    Raises:
        ValueError: for a `step_size` or factor that is not positive, or
            `shrink >= 1` (a reversal must shorten the step).
    """
    initial_factor = INITIAL_FACTOR if initial_factor is None else float(initial_factor)
    grow, shrink = GROW if grow is None else float(grow), SHRINK if shrink is None else float(shrink)
    if not (step_size > 0.0 and initial_factor > 0.0 and grow > 0.0 and 0.0 < shrink < 1.0):
        raise ValueError(
            "solver='adaptive' needs step_size > 0, initial_factor > 0, grow > 0 and 0 < shrink < 1. "
            f"Received: step_size={step_size}, initial_factor={initial_factor}, grow={grow}, shrink={shrink}"
        )
    event_shape, dtype = states.shape[1:], states.dtype
    draw = noise_lib.STEP_NOISE[noise_distribution]
    step = adaptive_step(
        lambda z: engine.drift(generator, critic, divergence, z, log_prior),
        entropy_weight=entropy_weight,
        noise=lambda k: draw(seed, positions, k, event_shape, dtype),
        grow=grow,
        shrink=shrink,
    )
    if constrain is not None:
        step = engine.constrained(step, constrain)
    sizes = tf.fill([tf.shape(states)[0]], tf.constant(initial_factor * step_size, tf.float64))
    outputs = engine.run(
        step,
        generator,
        critic,
        states,
        num_steps,
        trajectory_every=trajectory_every,
        carry=(tf.zeros_like(states), sizes),
    )
    outputs["step_sizes"] = tf.cast(outputs.pop("carry")[1], dtype)
    return outputs
