"""Refine TensorFlow Probability normalizing flows with DGflow.

A flow is a bijector `f` from a base space (usually `N(0, I)`) to data. DGflow
can refine its samples in either space:

- base space: the generator is `f` itself and the latents are base draws,
  `z <- z + eta s(d(f(z))) grad_z d(f(z)) + noise`, returning `f(z_K)`;
- data space: the samples `x = f(z)` are refined directly.

`FlowGenerator` turns a `tfd.TransformedDistribution` (or a bijector with
its base shape) into the generator `RefinementModel` expects, and
`flow_refinement_model` builds the whole model.

Examples:
    >>> flow = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(2)), tfb.Exp())
    >>> model = flow_refinement_model(flow, lambda x: -tf.reduce_sum(x, -1), num_steps=3, seed=0)
    >>> model.predict(base_latents(flow, 4, seed=0), verbose=0).shape
    (4, 2)
"""

from collections.abc import Callable
from typing import Any, Literal

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from dgflow_tf._validation import check_non_negative_int, check_positive_int
from dgflow_tf.refinement import RefinementModel

tfb = tfp.bijectors
tfd = tfp.distributions


def _is_transformed_distribution(flow):
    # TFP returns a non-composite `_TransformedDistribution` (not a subclass of
    # the public class) when a bijector is not a CompositeTensor, e.g. RealNVP
    # with a Python coupling function; both carry `bijector` and `distribution`.
    return isinstance(flow, tfd.Distribution) and hasattr(flow, "bijector") and hasattr(flow, "distribution")


def _unpack(flow, latent_shape):
    if _is_transformed_distribution(flow):
        base = flow.distribution
        event_shape = tf.TensorShape(base.event_shape)
        if not event_shape.is_fully_defined():
            raise ValueError(
                f"The flow's base distribution must have a static event shape. Received: {event_shape}"
            )
        return flow.bijector, base, tuple(event_shape.as_list())
    if isinstance(flow, tfb.Bijector):
        if latent_shape is None:
            raise ValueError(
                "`latent_shape` is required when `flow` is a bare bijector: pass the shape of one "
                "base-space sample, e.g. latent_shape=(64,), or pass a tfd.TransformedDistribution."
            )
        return flow, None, tuple(check_positive_int(d, "latent_shape") for d in latent_shape)
    raise TypeError(
        "`flow` must be a tfd.TransformedDistribution or a tfb.Bijector. "
        f"Received: {flow!r} of type {type(flow).__name__}"
    )


class FlowGenerator(keras.layers.Layer):
    """A flow's forward map as a generator: base latents `z` to samples `f(z)`.

    Args:
        flow: a `tfd.TransformedDistribution` (its bijector and base shape
            are used) or a `tfb.Bijector`.
        latent_shape: shape of one base sample; required for a bare
            bijector, ignored otherwise.
        **kwargs: standard `keras.layers.Layer` arguments.

    Raises:
        TypeError: if `flow` is neither a transformed distribution nor a
            bijector.
        ValueError: for a bijector without `latent_shape`.

    Attributes:
        latent_shape: the base sample shape, as `RefinementModel` needs it.
        base_distribution: the base distribution, or `None` for a bijector.
    """

    def __init__(self, flow: Any, latent_shape: tuple[int, ...] | None = None, **kwargs: Any):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.bijector, self.base_distribution, self.latent_shape = _unpack(flow, latent_shape)

    def build(self, input_shape):
        # Nothing to create; building eagerly keeps bijector caches out of a
        # scratch graph.
        self.built = True

    def call(self, latents):
        return self.bijector.forward(latents)


def base_latents(
    flow: Any, num_samples: int, seed: int | None = None, latent_shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """Draws `num_samples` base-space latents for a flow.

    A transformed distribution's base distribution is sampled; a bare
    bijector gets `N(0, I)` draws of `latent_shape`.

    Args:
        flow: a `tfd.TransformedDistribution` or `tfb.Bijector`.
        num_samples: positive int.
        seed: `None` or an int >= 0 (stateless draws). Defaults to `None`.
        latent_shape: base shape, for a bare bijector.

    Returns:
        A NumPy array `[num_samples, *latent_shape]`.
    """
    _, base, shape = _unpack(flow, latent_shape)
    num_samples = check_positive_int(num_samples, "num_samples")
    seed = None if seed is None else tf.constant([0, check_non_negative_int(seed, "seed")], tf.int32)
    if base is None:
        base = tfd.Normal(tf.zeros(shape), 1.0)
        base = tfd.Independent(base, len(shape))
    return base.sample(num_samples, seed=seed).numpy()


def flow_refinement_model(
    flow: Any,
    critic: Callable,
    space: Literal["latent", "data"] = "latent",
    latent_shape: tuple[int, ...] | None = None,
    **kwargs: Any,
) -> RefinementModel:
    """A `RefinementModel` that refines a flow's samples.

    Args:
        flow: a `tfd.TransformedDistribution` or `tfb.Bijector`.
        critic: the log density ratio `d(x)`, e.g. a `critics.SumCritic` of a
            pre-trained discriminator and a corrector.
        space: `"latent"` refines base-space latents through the forward
            map; `"data"` refines the samples `f(z)` directly. Inputs are
            base latents in both cases. Defaults to `"latent"`.
        latent_shape: base shape, for a bare bijector.
        **kwargs: other `RefinementModel` arguments (`divergence`,
            `step_size`, `entropy_weight`, `num_steps`, `seed`, ...).

    Returns:
        A `RefinementModel`.
    """

    generator = FlowGenerator(flow, latent_shape=latent_shape, name="flow_generator")
    return RefinementModel(generator, critic, space=space, latent_shape=generator.latent_shape, **kwargs)
