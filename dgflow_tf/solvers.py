"""A Metropolis-adjusted DGflow step with a step size per sample: `solver="mala"`.

In latent space (and in data space) the DGflow update

    z' = z + eta * s(d) * grad d + sqrt(2 * gamma * eta) * xi

is the unadjusted Langevin algorithm on the log density `phi(d(g(z))) / gamma`,
with `phi` the divergence's potential (`phi' = s`; `phi(d) = d - 1` for KL)
and Langevin step `eta * gamma`. Its discretisation error is what a fixed
step size trades against speed: too small wastes evaluations, too large
throws samples past the modes. The Metropolis-adjusted Langevin algorithm
(MALA; Roberts and Tweedie, 1996) measures that error for each sample and
step: it accepts the proposal `z'` with probability

    alpha = min(1, exp(log pi(z') - log pi(z) + log q(z | z') - log q(z' | z)))

where `log pi = phi(d(g(z))) / gamma` and `q(a | b) = N(a; b + eta * v(b), 2 gamma eta I)`.
A rejected step keeps the sample where it was. Each sample then adapts its
own step size to the acceptance it sees, `eta <- eta * exp(rate * (alpha -
target))` (a per-sample, continuous form of TFP's
`SimpleStepSizeAdaptation`): samples in smooth regions take longer steps,
samples near a sharp mode shorter ones. The rate decays as `1/k` after the
first `ADAPTATION_CONSTANT_STEPS` steps: adaptation that never stops biases
a long chain (300 steps on a standard normal left its spread 13 % short).

Cost: the drift at each proposal is also the next step's drift, so `K` steps
cost `K + 1` generator and critic evaluations (Euler: `K + 1` generator and
`K` critic), and the refined sample `g(z_K)` needs no further pass. The noise
`xi` is Euler's (keyed by seed, position and step), and the acceptance draws
are keyed the same way, so the same seed gives the same samples at any batch
size. Because the step sizes adapt during the run, the chain is an adaptive
sampler, not an exact MALA chain; as the adaptation diminishes it approaches
the flow's fixed point `exp(phi(d) / gamma)`. With a bounded prior the proposal is reflected into
the box and the acceptance ratio ignores the reflection (exact away from the
faces).

Examples:
    >>> from dgflow_tf import critics, divergences
    >>> critic = critics.get(lambda x: -tf.reduce_sum(tf.square(x), axis=-1) / 0.02)
    >>> out = simulate_mala(lambda z: z, critic, divergences.get("KL"), tf.fill([4, 2], 3.0),
    ...                     tf.range(4, dtype=tf.int64), tf.constant([1, 2]),
    ...                     step_size=0.01, entropy_weight=0.01, num_steps=30)
    >>> bool(tf.reduce_all(tf.abs(out["samples"]) < 0.5))  # pulled from 3 onto the mode at 0
    True
"""

import tensorflow as tf

from dgflow_tf import engine
from dgflow_tf import noise as noise_lib

#: The acceptance rate each sample's step size is steered to, and how fast:
#: `eta <- eta * exp(ADAPTATION_RATE * (alpha - TARGET_ACCEPTANCE))` after every step. Chosen on the
#: tuning seed's 2-D WGAN-GP at K = 10 by KDE, from targets {0.5, 0.75, 0.9} x rates {1, 3}
#: (`benchmarks/quality_per_eval.py --tune` publishes the sweep).
TARGET_ACCEPTANCE = 0.5
ADAPTATION_RATE = 3.0
#: The rate holds for the first `ADAPTATION_CONSTANT_STEPS` steps, then decays as
#: `(ADAPTATION_CONSTANT_STEPS / (k + 1)) ** ADAPTATION_DECAY`. Adaptation that never stops biases a long
#: chain (the step depends on where the sample has been); diminishing it (Andrieu and Thoms, 2008)
#: keeps the chain's limit. Short runs (K <= 10, the solver's use) adapt at the full rate. The power was
#: chosen from {0.6, 0.75, 1} on a flat critic with a standard normal prior, 300 steps from 3: std 0.93,
#: 0.94, 0.97 (0.87 without decay; `tests/test_solvers.py` checks the 1/k rule).
ADAPTATION_CONSTANT_STEPS = 10
ADAPTATION_DECAY = 1.0
# Keys the acceptance draws apart from the step noise of the same seed.
_ACCEPT_SALT = 0x6D616C61


def log_acceptance(
    states, proposal, potential, proposal_potential, velocity, proposal_velocity, step_sizes, gamma
):
    """MALA's log acceptance ratio per sample, for the target `exp(potential / gamma)`.

    Args:
        states: `[batch, ...]` current states.
        proposal: `[batch, ...]` proposed states.
        potential: `[batch]` `phi(d)` at `states`.
        proposal_potential: `[batch]` `phi(d)` at `proposal`.
        velocity: the drift `grad phi(d)` at `states`.
        proposal_velocity: the drift at `proposal`.
        step_sizes: `[batch]` per-sample `eta`.
        gamma: positive float, the entropy weight.

    Returns:
        `[batch]` log ratios; NaN where a value was not finite (a rejection).
    """
    eta = engine.broadcast_per_sample(step_sizes, states)
    forward = engine.per_sample_sum(tf.square(proposal - states - eta * velocity))
    backward = engine.per_sample_sum(tf.square(states - proposal - eta * proposal_velocity))
    return (proposal_potential - potential) / gamma - (backward - forward) / (4.0 * gamma * step_sizes)


def simulate_mala(
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
    target_acceptance=None,
    adaptation_rate=None,
):
    """`num_steps` MALA-adjusted DGflow steps with per-sample step sizes, in one graph loop.

    Takes `engine.simulate`'s arguments (`step_size` is each sample's initial
    step; `target_acceptance` and `adaptation_rate` default to the module's
    constants) and returns its dict, plus `step_sizes` (each sample's final step)
    and `acceptance_rate` (each sample's share of accepted proposals).
    A proposal whose sample or critic value is NaN/Inf is rejected, so a
    finite start never turns non-finite; `nonfinite_step` is 0 for a sample
    whose initial state is already non-finite, -1 otherwise.
    """
    if entropy_weight <= 0.0:
        raise ValueError("solver='mala' needs entropy_weight > 0.")
    target_acceptance = TARGET_ACCEPTANCE if target_acceptance is None else target_acceptance
    adaptation_rate = ADAPTATION_RATE if adaptation_rate is None else adaptation_rate
    constant_steps = tf.constant(ADAPTATION_CONSTANT_STEPS, tf.float64)
    decay = tf.constant(ADAPTATION_DECAY, tf.float64)
    event_shape, dtype = states.shape[1:], states.dtype
    # The per-sample arithmetic (step sizes, acceptance, the uniform draw) runs in float64: Eigen
    # evaluates exp and erfc in SIMD packets and the tail elements apart, whose results can differ
    # in the last bit, so in float32 a sample's step would depend on its place in the batch. From
    # float64 a 1-ULP difference reaches the float32 states only when it straddles a rounding
    # boundary (odds about 2^-29 per operation).
    gamma = tf.constant(entropy_weight, tf.float64)
    accept_seed = tf.cast(tf.random.experimental.stateless_fold_in(seed, _ACCEPT_SALT), tf.int32)

    def evaluate(z):
        velocity, samples, logits = engine.drift(generator, critic, divergence, z, log_prior)
        potential = divergence.potential(logits)
        if log_prior is not None:
            potential = potential + log_prior(z)
        return velocity, samples, logits, potential

    steps = engine.record_steps(num_steps, trajectory_every)
    recording = tuple(
        tf.TensorArray(dtype, size=len(steps), element_shape=None) for _ in range(3 if steps else 0)
    )

    def body(k, z, velocity, samples, logits, potential, step_sizes, accepted, arrays):
        if steps:
            arrays = tf.cond(
                tf.equal(k % trajectory_every, 0),
                lambda: tuple(
                    a.write(k // trajectory_every, v)
                    for a, v in zip(arrays, (z, samples, logits), strict=True)
                ),
                lambda: tuple(arrays),
            )
        eta64 = engine.broadcast_per_sample(step_sizes, z)
        eta, noise_scale = tf.cast(eta64, dtype), tf.cast(tf.sqrt(2.0 * gamma * eta64), dtype)
        xi = noise_lib.step_noise_at(seed, positions, k, event_shape, dtype)
        proposal = z + eta * velocity + noise_scale * xi
        if constrain is not None:
            proposal = constrain(proposal)
        new_velocity, new_samples, new_logits, new_potential = evaluate(proposal)
        wide = [
            tf.cast(t, tf.float64) for t in (z, proposal, potential, new_potential, velocity, new_velocity)
        ]
        log_alpha = log_acceptance(*wide, step_sizes, gamma)
        finite = engine.all_finite_per_sample(new_samples) & tf.math.is_finite(log_alpha)
        finite = finite & engine.all_finite_per_sample(new_velocity)
        log_alpha = tf.where(finite, tf.minimum(log_alpha, 0.0), tf.constant(-float("inf"), tf.float64))
        # A uniform draw as the normal CDF of a keyed normal: the step noise's keying, another seed.
        normal = noise_lib.step_noise_at(accept_seed, positions, k, [], tf.float64)
        uniform = 0.5 * tf.math.erfc(-normal / tf.constant(2.0**0.5, tf.float64))
        accept = finite & (tf.math.log(uniform) < log_alpha)

        def pick(new, old):
            return engine.where_per_sample(accept, new, old)

        rate = adaptation_rate * tf.minimum(constant_steps / tf.cast(k + 1, tf.float64), 1.0) ** decay
        step_sizes = step_sizes * tf.exp(rate * (tf.exp(log_alpha) - target_acceptance))
        return (
            k + 1,
            pick(proposal, z),
            pick(new_velocity, velocity),
            pick(new_samples, samples),
            pick(new_logits, logits),
            pick(new_potential, potential),
            step_sizes,
            accepted + tf.cast(accept, tf.float64),
            arrays,
        )

    velocity, samples, logits, potential = evaluate(states)
    batch = tf.shape(states)[0]
    initial = (
        tf.constant(0, tf.int32),
        states,
        velocity,
        samples,
        logits,
        potential,
        tf.fill([batch], tf.constant(step_size, tf.float64)),
        tf.zeros([batch], tf.float64),
        recording,
    )
    _, z, _, samples, logits, _, step_sizes, accepted, recording = tf.while_loop(
        lambda k, *_: k < num_steps, body, initial, maximum_iterations=num_steps
    )
    start_ok = engine.all_finite_per_sample(samples) & tf.math.is_finite(logits)
    outputs = {
        "samples": samples,
        "states": z,
        "nonfinite_step": tf.where(start_ok, -1, 0),
        "step_sizes": tf.cast(step_sizes, dtype),
        "acceptance_rate": tf.cast(accepted / max(num_steps, 1), dtype),
    }
    if steps:
        if steps[-1] == num_steps:
            recording = tuple(
                a.write(len(steps) - 1, v) for a, v in zip(recording, (z, samples, logits), strict=True)
            )
        for name, array in zip(("state", "sample", "critic"), recording, strict=True):
            outputs[f"{name}_trajectory"] = array.stack()
    return outputs
