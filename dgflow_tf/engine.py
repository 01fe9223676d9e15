"""The DGflow engine: the drift, one Euler-Maruyama step and the K-step loop.

DGflow (Ansari et al., ICLR 2021, https://arxiv.org/abs/2012.00780) refines
samples by simulating the gradient flow of an entropy-regularised
f-divergence between the model and the data. In the generator's latent space
its Euler-Maruyama discretisation is the paper's Algorithm 1:

    z_0 ~ prior
    for k in 0 .. K-1:
        z_{k+1} = z_k + eta * s(d(g(z_k))) * grad_z d(g(z_k)) + sqrt(2 * gamma * eta) * xi_k
    return g(z_K)

with `d` the critic's log density ratio, `s` the divergence's drift scale,
`eta` the step size, `gamma` the entropy weight and `xi_k ~ N(0, I)`. In data
space the same update acts on `x` (`g` the identity). A step schedule
(`schedules`) may vary `eta` from step to step at the same total time.

This module is that algorithm, top to bottom:

- `drift`: `s(d) * grad d` in one forward and one backward pass;
- `langevin_step`: one Euler-Maruyama step, `step(z, k) -> (z', g(z), d(g(z)))`,
  for any drift (DGflow's; DDLS's adds a log-prior term);
- `constrained`: a step wrapped to keep latents in a bounded prior's box;
- `run`: K steps of any step in one `tf.while_loop`, freezing a sample that
  turns NaN/Inf at its last finite state, and recording a trajectory;
- `simulate`: DGflow's step with its per-step noise, run K times.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from dgflow_tf import noise as noise_lib
from dgflow_tf import schedules


def drift(
    generator: Callable,
    critic: Callable,
    divergence: Any,
    states: tf.Tensor,
    log_prior: Callable | None = None,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The DGflow drift `s(d(g(z))) * grad_z d(g(z))` for a batch of states.

    Args:
        generator: callable mapping states to samples (identity in data space).
        critic: a `Critic`, returning `[batch]` log density ratios.
        divergence: a `Divergence`.
        states: `[batch, ...]` floating tensor.
        log_prior: optional callable `states -> [batch]` log prior density
            (up to a constant) whose gradient is added to the drift, as in
            DDLS's energy. DGflow itself has none. Defaults to `None`.

    Returns:
        A tuple `(drift, samples, logits)`: the drift (shape of `states`), the
        samples `g(states)` and the critic values `d(g(states))`.

    Raises:
        ValueError: if the critic's value does not depend on `states` through
            differentiable ops, or the generator changes the batch size.

    Examples:
        >>> from dgflow_tf import critics, divergences
        >>> velocity, x, d = drift(lambda z: z, critics.get(lambda x: -tf.reduce_sum(x**2, -1)),
        ...                        divergences.get("KL"), tf.ones([3, 2]))
        >>> velocity.numpy()[0]  # grad of -|x|^2 at (1, 1)
        array([-2., -2.], dtype=float32)
    """
    with tf.GradientTape() as tape:
        tape.watch(states)
        samples = generator(states)
        logits = critic(samples)
        prior_values = None if log_prior is None else log_prior(states)
    if samples.shape[0] is not None and states.shape[0] is not None and samples.shape[0] != states.shape[0]:
        raise ValueError(
            f"`generator` must return one sample per latent. Received {samples.shape[0]} samples "
            f"for {states.shape[0]} latents."
        )
    # s(d) is a per-sample constant of the update, not differentiated: it
    # enters as the output gradient of the single backward pass.
    scale = tf.stop_gradient(divergence.drift_scale(logits))
    if prior_values is None:
        gradient = tape.gradient(logits, states, output_gradients=scale)
    else:
        gradient = tape.gradient(
            [logits, prior_values], states, output_gradients=[scale, tf.ones_like(prior_values)]
        )
    if gradient is None:
        raise ValueError(
            "The critic's output does not depend on the refined states through differentiable "
            "operations (the gradient is disconnected), so DGflow has no drift. Check that the "
            "generator and critic are built from TensorFlow ops, do not call .numpy() or "
            "tf.stop_gradient, and (in latent space) that the critic is applied to the "
            "generator's output."
        )
    return gradient, samples, logits


def langevin_step(velocity, *, step_size, entropy_weight, noise):
    """One Euler-Maruyama step of `dz = v(z) dt + sqrt(2 gamma) dW`.

        z' = z + eta_k * v(z) + sqrt(2 * gamma * eta_k) * xi_k

    Args:
        velocity: callable `z -> (v(z), g(z), d(g(z)))`, e.g. `drift` bound to
            a generator, critic and divergence.
        step_size: positive float, `eta` for every step, or a `[K]` array of
            each step's size (`schedules.step_sizes`).
        entropy_weight: float >= 0, `gamma`; `0` takes no noise.
        noise: callable `k -> xi_k` of the shape of `z` (drawn at step `k`).

    Returns:
        A step `step(z, k) -> (z', g(z), d(g(z)))`.
    """
    sizes = np.asarray(step_size, np.float64)
    noise_stds = np.sqrt(2.0 * entropy_weight * sizes)

    def step(states, k):
        dtype = states.dtype
        eta, noise_std = tf.constant(sizes, dtype), tf.constant(noise_stds, dtype)
        if sizes.ndim:  # a schedule: this step's entries
            eta, noise_std = tf.gather(eta, k), tf.gather(noise_std, k)
        v, samples, logits = velocity(states)
        proposal = states + eta * v
        if entropy_weight > 0.0:
            proposal = proposal + noise_std * noise(k)
        return proposal, samples, logits

    return step


def constrained(step, constrain):
    """`step` followed by `constrain` (e.g. reflection into a bounded prior's box) of its output."""

    def wrapped(states, k, *carry):
        proposal, *outputs = step(states, k, *carry)
        return constrain(proposal), *outputs

    return wrapped


class FlowState(NamedTuple):
    """The loop's state: `states` (`z_k`), `last_good` (the last state whose sample and critic
    value were finite) and `nonfinite_step` (`[batch]` int32: the first bad step, -1 if none)."""

    states: tf.Tensor
    last_good: tf.Tensor
    nonfinite_step: tf.Tensor


def all_finite_per_sample(tensor):
    finite = tf.math.is_finite(tensor)
    if tensor.shape.rank > 1:
        finite = tf.reduce_all(finite, axis=list(range(1, tensor.shape.rank)))
    return finite


def per_sample_sum(tensor):
    """The sum of each sample's entries: `[batch, ...]` to `[batch]`."""
    return tf.reduce_sum(tf.reshape(tensor, [tf.shape(tensor)[0], -1]), axis=1)


def broadcast_per_sample(values, like):
    """`[batch]` `values` reshaped to `[batch, 1, ...]`, to broadcast over the other axes of `like`."""
    return tf.reshape(values, tf.concat([tf.shape(values), tf.ones([like.shape.rank - 1], tf.int32)], 0))


def where_per_sample(condition, x, y):
    """`tf.where` with a `[batch]` condition broadcast over the other axes."""
    return tf.where(broadcast_per_sample(condition, x), x, y)


def freeze_nonfinite(flow, proposal, samples, logits, k):
    """Accepts `proposal` for samples still finite; freezes the others at their last finite state.

    Step `k` is rejected for a sample if `g(z_k)`, `d(g(z_k))` or `z_{k+1}`
    has a NaN or Inf. Finite samples are unaffected, bit for bit.
    """
    active = flow.nonfinite_step < 0
    state_ok = all_finite_per_sample(samples) & tf.math.is_finite(logits)
    last_good = where_per_sample(active & state_ok, flow.states, flow.last_good)
    step_ok = state_ok & all_finite_per_sample(proposal)
    nonfinite_step = tf.where(active & ~step_ok, k, flow.nonfinite_step)
    states = where_per_sample(nonfinite_step < 0, proposal, last_good)
    return FlowState(states, last_good, nonfinite_step)


def record_steps(num_steps, every):
    """The steps a trajectory records: `0, every, 2 every, ...` and `num_steps`."""
    if not every:
        return []
    steps = list(range(0, num_steps + 1, every))
    if steps[-1] != num_steps:
        steps.append(num_steps)
    return steps


def run(step, generator, critic, states, num_steps, *, trajectory_every=0, carry=None):
    """Runs `num_steps` of `step` from `states` in one `tf.while_loop`.

    Args:
        step: `step(z, k) -> (z', g(z), d(g(z)))`, e.g. from `langevin_step`;
            with `carry`, `step(z, k, c) -> (z', g(z), d(g(z)), c')`.
        generator: callable from states to samples, for the final `g(z_K)`.
        critic: callable from samples to `[batch]` values, for the last
            recorded critic value.
        states: `[batch, ...]` initial states.
        num_steps: Python int >= 0, `K`.
        trajectory_every: Python int; if positive, also record the state,
            sample and critic value every this many steps and at step `K`.
        carry: optional nest of tensors a step passes to the next besides
            `z` (e.g. per-sample step sizes, `adaptive`); its initial value.

    Returns:
        A dict with `samples` (`g(z_K)`), `states` (`z_K`), `nonfinite_step`
        (`[batch]` int32: the first step at which a sample became NaN/Inf,
        `num_steps` for the final output, -1 if never), with `carry` its
        last value, and, when recording, `state_trajectory`,
        `sample_trajectory` and `critic_trajectory`.

    A sample that turns non-finite is frozen at its last finite state for the
    remaining steps (`freeze_nonfinite`), so one bad sample never costs the
    others. A sample whose first state is already non-finite stays so.
    """
    steps = record_steps(num_steps, trajectory_every)
    recording = tuple(
        tf.TensorArray(states.dtype, size=len(steps), element_shape=None) for _ in range(3 if steps else 0)
    )

    def record(arrays, index, values):
        return tuple(array.write(index, value) for array, value in zip(arrays, values, strict=True))

    def body(k, flow, arrays, *carried):
        proposal, samples, logits, *carried = step(flow.states, k, *carried)
        if steps:
            arrays = tf.cond(
                tf.equal(k % trajectory_every, 0),
                lambda: record(arrays, k // trajectory_every, (flow.states, samples, logits)),
                lambda: tuple(arrays),
            )
        return k + 1, freeze_nonfinite(flow, proposal, samples, logits, k), arrays, *carried

    initial = FlowState(states, states, tf.fill([tf.shape(states)[0]], tf.constant(-1, tf.int32)))
    _, flow, recording, *carried = tf.while_loop(
        lambda k, *_: k < num_steps,
        body,
        (tf.constant(0, tf.int32), initial, recording, *([] if carry is None else [carry])),
        maximum_iterations=num_steps,
    )
    states, samples = flow.states, generator(flow.states)
    newly_bad = (flow.nonfinite_step < 0) & ~all_finite_per_sample(samples)
    nonfinite_step = tf.where(newly_bad, num_steps, flow.nonfinite_step)
    if num_steps > 0:
        # The last step's output is non-finite for some samples: fall back to
        # their last finite state (one more generator pass, only if needed).
        states = where_per_sample(newly_bad, flow.last_good, states)
        samples = tf.cond(
            tf.reduce_any(newly_bad),
            lambda: where_per_sample(newly_bad, generator(states), samples),
            lambda: samples,
        )
    outputs = {"samples": samples, "states": states, "nonfinite_step": nonfinite_step}
    if carry is not None:
        outputs["carry"] = carried[0]
    if steps:
        if steps[-1] == num_steps:
            # The final state was not visited by the loop body: evaluate it once.
            recording = record(recording, len(steps) - 1, (states, samples, critic(samples)))
        for name, array in zip(("state", "sample", "critic"), recording, strict=True):
            outputs[f"{name}_trajectory"] = array.stack()
    return outputs


def simulate(
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
    step_schedule="constant",
    noise_distribution="normal",
):
    """DGflow: `num_steps` Euler-Maruyama steps of the drift from `states`, in one graph loop.

    Args:
        generator: callable from states to samples (identity in data space).
        critic: a `Critic`.
        divergence: a `Divergence`.
        states: `[batch, ...]` floating tensor, the initial states.
        positions: `[batch]` integer tensor, each sample's index in the full
            input, which keys its noise (`noise.step_noise_at`).
        seed: `[2]` int32 stateless seed.
        step_size: positive float, `eta`.
        entropy_weight: non-negative float, `gamma`.
        num_steps: non-negative Python int, `K`.
        trajectory_every: Python int; if positive, also record every this
            many steps and at step `K` (see `run`).
        log_prior: optional callable `states -> [batch]` whose gradient is
            added to the drift (see `drift`). Defaults to `None`.
        constrain: optional callable applied to the states after every step,
            e.g. `priors.constrain` for a bounded latent prior. Defaults to
            `None`.
        step_schedule: how the total time `step_size * num_steps` is spread
            over the steps: `"constant"` or `"linear"` (`schedules`).
            Defaults to `"constant"`.
        noise_distribution: `"normal"` (`noise.step_noise_at`) or
            `"rademacher"` (`noise.step_signs_at`: signs of the same mean and
            variance, 4 times cheaper to draw). Defaults to `"normal"`.

    Returns:
        `run`'s dict.
    """
    event_shape, dtype = states.shape[1:], states.dtype
    draw = noise_lib.STEP_NOISE[noise_distribution]
    if step_schedule != "constant":
        step_size = schedules.step_sizes(step_size, num_steps, step_schedule)
    step = langevin_step(
        lambda z: drift(generator, critic, divergence, z, log_prior),
        step_size=step_size,
        entropy_weight=entropy_weight,
        # Drawn inside the loop, one step at a time: memory does not grow with num_steps.
        noise=lambda k: draw(seed, positions, k, event_shape, dtype),
    )
    if constrain is not None:
        step = constrained(step, constrain)
    return run(step, generator, critic, states, num_steps, trajectory_every=trajectory_every)
