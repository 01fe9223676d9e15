"""The flow a `RefinementModel` refines: its generator and critic on one batch of inputs.

`flow_parts` binds a conditional model's conditions into its generator and
critic, picks the states (latents, or samples in data space) and the
per-step constraint of a bounded prior; `refine_batch` hands them to the
engine's `simulate` (Euler-Maruyama), `solvers.simulate_mala` or
`adaptive.simulate_adaptive`.
"""

from typing import NamedTuple

import tensorflow as tf

from dgflow_tf import priors as priors_lib
from dgflow_tf.adaptive import simulate_adaptive
from dgflow_tf.engine import simulate
from dgflow_tf.solvers import simulate_mala

#: The engine function of each `solver` setting.
SOLVERS = {"euler": simulate, "mala": simulate_mala, "adaptive": simulate_adaptive}


class FlowParts(NamedTuple):
    """What the engine refines for some inputs: the map from states to samples, the critic
    (conditions bound), the initial states, and the per-step constraint (or `None`)."""

    generator: object
    critic: object
    states: tf.Tensor
    constrain: object


def _identity(x):
    return x


def flow_parts(model, latents, conditions=None):
    """The `FlowParts` the engine refines for `model` on these (graph) inputs."""
    critic = model.critic
    if model.conditional:

        def critic(samples):
            return model.critic([samples, conditions])

    def generate(z):
        if model.conditional:
            return model.generator([z, conditions], training=False)
        return model.generator(z, training=False)

    if model.space == "data":
        states = latents if model.generator is None else generate(latents)
        return FlowParts(_identity, critic, states, None)
    constrain = None
    if model.latent_prior.bounded and model.boundary != "none":

        def constrain(z):
            return priors_lib.constrain(z, model.latent_prior, model.boundary)

    return FlowParts(generate, critic, latents, constrain)


def refine_batch(model, latents, positions, seed, conditions=None, trajectory_every=0):
    """Refines one batch of graph inputs with `model`'s settings and solver (`SOLVERS`).

    Args:
        model: a `RefinementModel`.
        latents: `[batch, ...]` tensor (samples in data space).
        positions: `[batch]` int64 positions in the full input (noise keys).
        seed: `[2]` int32 stateless seed.
        conditions: `[batch, ...]` conditions of a conditional model.
        trajectory_every: record every this many steps (see `engine.run`).

    Returns:
        `engine.run`'s dict of tensors.
    """
    parts = flow_parts(model, latents, conditions)
    return SOLVERS[model.solver](
        parts.generator,
        parts.critic,
        model.divergence,
        parts.states,
        positions,
        seed,
        step_size=model.step_size,
        entropy_weight=model.entropy_weight,
        num_steps=model.num_steps,
        trajectory_every=trajectory_every,
        log_prior=model.log_prior,
        constrain=parts.constrain,
        # MALA and the adaptive solver set each sample's step themselves, and MALA needs normal
        # proposals; the configuration allows them no schedule, and MALA no other noise.
        **({"step_schedule": model.step_schedule} if model.solver == "euler" else {}),
        **({"noise_distribution": model.noise_distribution} if model.solver != "mala" else {}),
    )
