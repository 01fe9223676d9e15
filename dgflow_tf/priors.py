"""Latent priors: where refinement starts, and where it may go.

A generator is trained on latents from a prior: a standard normal for most
GANs, `Uniform(-1, 1)` for the compare_gan modules on TF-Hub, a truncated
normal for BigGAN's truncation trick, a flow's base distribution. The prior
matters twice to `RefinementModel`:

- it draws the initial latents (`RefinementModel.sample_latents`), keyed by
  position like the refinement noise, so a seed gives the same latents at
  any batch size;
- for a bounded prior it keeps the refined latents in the support, since a
  generator has never seen latents outside it. The `boundary` rule applies
  after every step:

  - `"reflect"` (the default): mirror a step that leaves the box back into
    it. A reflected Langevin diffusion keeps the same stationary law inside
    the box, so this is the choice that respects the flow.
  - `"clip"`: the Euclidean projection onto the box (coordinate-wise
    clipping). Mass that leaves collects on the faces.
  - `"none"`: no constraint, as in the paper's Algorithm 1, which has no
    bounded priors.

The paper's latent DGflow adds no prior term to the drift, and neither do
these classes: the prior only samples and constrains.

Examples:
    >>> prior = get("uniform")
    >>> prior.sample(4, (2,), seed=0).shape
    TensorShape([4, 2])
    >>> constrain(tf.constant([[1.5, -3.5]]), prior, "reflect").numpy().tolist()
    [[0.5, 0.5]]
"""

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from dgflow_tf import noise as noise_lib
from dgflow_tf._validation import check_non_negative_int
from dgflow_tf.config import BOUNDARIES, PRIORS

tfd = tfp.distributions


class LatentPrior:
    """Base class: a distribution over one latent, with an optional box support.

    Subclasses set `low` and `high` (Python floats, `-inf`/`inf` when
    unbounded) and implement `distribution(dtype)`, a scalar TFP distribution
    drawn independently for each coordinate.
    """

    low = -math.inf
    high = math.inf

    @property
    def bounded(self):
        """Whether the support is a box with finite faces."""
        return math.isfinite(self.low) or math.isfinite(self.high)

    def distribution(self, dtype):
        raise NotImplementedError

    def sample(
        self,
        num_samples: int,
        latent_shape: tuple[int, ...],
        seed: int | None = None,
        dtype: str = "float32",
        start: int = 0,
    ) -> tf.Tensor:
        """Draws `num_samples` latents, sample `i` keyed by `(seed, start + i)`.

        Args:
            num_samples: int >= 0 (`0` gives an empty `[0, *latent_shape]` batch).
            latent_shape: shape of one latent, e.g. `(128,)`.
            seed: `None`, an int or a `[2]` integer tensor.
            dtype: floating dtype. Defaults to `"float32"`.
            start: position of the first sample, so that draws made in
                pieces equal one draw of the whole. Defaults to `0`.

        Returns:
            A `[num_samples, *latent_shape]` tensor.
        """
        num_samples = check_non_negative_int(num_samples, "num_samples")
        if num_samples == 0:
            return tf.zeros([0, *latent_shape], tf.as_dtype(dtype))
        positions = tf.range(start, start + num_samples, dtype=tf.int64)
        # A salt of its own: the latents must not equal the step noise of the
        # same seed and position.
        seed = noise_lib.sanitize_seed(seed, salt="dgflow_tf.latents")
        distribution = self.distribution(tf.as_dtype(dtype))
        key = (self, tf.as_dtype(dtype).name, tuple(latent_shape))
        return _draw_in_graph(key, seed, positions, list(latent_shape), distribution, ())

    def contains(self, latents):
        """NumPy: whether every coordinate of `latents` lies in the support."""
        latents = np.asarray(latents)
        return bool(np.all((latents >= self.low) & (latents <= self.high)))

    def get_config(self):
        return {}

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


_DRAW_FUNCTIONS = {}


def _draw_in_graph(key, seed, positions, sample_shape, distribution, event_shape):
    # One traced map over positions (eager map_fn costs milliseconds per sample), traced once per
    # prior, dtype and shape: drawing in pieces (streaming) must not retrace for every piece.
    if key not in _DRAW_FUNCTIONS:

        def draw(seed, positions):
            return noise_lib.position_draws(
                seed, positions, sample_shape, distribution, event_shape=event_shape
            )

        _DRAW_FUNCTIONS[key] = tf.function(
            draw, input_signature=[tf.TensorSpec([2], tf.int32), tf.TensorSpec([None], tf.int64)]
        )
    return _DRAW_FUNCTIONS[key](seed, positions)


def _check_box(low, high):
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(
            f"`low` and `high` must be finite with low < high. Received: low={low!r}, high={high!r}"
        )
    return low, high


@keras.saving.register_keras_serializable(package="dgflow_tf")
class Normal(LatentPrior):
    """The standard normal prior `N(0, I)`: unbounded."""

    def distribution(self, dtype):
        return tfd.Normal(tf.constant(0.0, dtype), tf.constant(1.0, dtype))


@keras.saving.register_keras_serializable(package="dgflow_tf")
class Uniform(LatentPrior):
    """The uniform prior on the box `[low, high]^d`.

    Args:
        low: lower face. Defaults to `-1.0` (compare_gan's prior).
        high: upper face. Defaults to `1.0`.

    Raises:
        ValueError: unless `low < high`, both finite.
    """

    def __init__(self, low: float = -1.0, high: float = 1.0):
        self.low, self.high = _check_box(low, high)

    def distribution(self, dtype):
        return tfd.Uniform(tf.constant(self.low, dtype), tf.constant(self.high, dtype))

    def get_config(self):
        return {"low": self.low, "high": self.high}


@keras.saving.register_keras_serializable(package="dgflow_tf")
class TruncatedNormal(LatentPrior):
    """`scale` times a standard normal truncated to `[low, high]^d` (BigGAN's truncation trick).

    BigGAN's generators take `z = truncation * TruncatedNormal(0, 1)` on
    `[-2, 2]`: `TruncatedNormal(-2, 2, scale=truncation)`. The support is
    `[scale * low, scale * high]^d`.

    Args:
        low: lower face of the standard normal's box. Defaults to `-2.0`.
        high: upper face of the standard normal's box. Defaults to `2.0`.
        scale: positive multiplier (BigGAN's `truncation`). Defaults to `1.0`.

    Raises:
        ValueError: unless `low < high`, both finite, and `scale` is a
            positive finite number.
    """

    def __init__(self, low: float = -2.0, high: float = 2.0, scale: float = 1.0):
        self.standard_low, self.standard_high = _check_box(low, high)
        scale = float(scale)
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"`scale` must be a positive finite number. Received: scale={scale!r}")
        self.scale = scale
        self.low, self.high = scale * self.standard_low, scale * self.standard_high

    def distribution(self, dtype):
        return tfd.TruncatedNormal(
            tf.constant(0.0, dtype),
            tf.constant(self.scale, dtype),
            tf.constant(self.low, dtype),
            tf.constant(self.high, dtype),
        )

    def get_config(self):
        config = {"low": self.standard_low, "high": self.standard_high}
        if self.scale != 1.0:  # configs of version 0.1 priors stay as they were
            config["scale"] = self.scale
        return config


class DistributionPrior(LatentPrior):
    """Any TFP distribution whose event is one latent, e.g. a flow's base.

    It is used for sampling only (its support is not constrained), and is
    kept as a live object in configs, like other non-Keras callables.

    Args:
        distribution: a `tfd.Distribution` with a fully defined event shape
            and an empty batch shape.

    Raises:
        TypeError: if `distribution` is not a TFP distribution.
        ValueError: if its batch shape is not empty.
    """

    def __init__(self, distribution: Any):
        if not isinstance(distribution, tfd.Distribution):
            raise TypeError(
                "`distribution` must be a tfp.distributions.Distribution over one latent. "
                f"Received: {distribution!r} of type {type(distribution).__name__}"
            )
        if tf.TensorShape(distribution.batch_shape).rank != 0:
            raise ValueError(
                "The prior distribution must describe one latent: its batch shape must be [] (wrap "
                "per-coordinate distributions in tfd.Independent). Received: batch shape "
                f"{tf.TensorShape(distribution.batch_shape)}"
            )
        self.wrapped = distribution

    def sample(self, num_samples, latent_shape, seed=None, dtype="float32", start=0):
        event_shape = tuple(tf.TensorShape(self.wrapped.event_shape).as_list())
        if tuple(latent_shape) != event_shape:
            raise ValueError(
                f"The prior's event shape {event_shape} does not match latent_shape {tuple(latent_shape)}."
            )
        num_samples = check_non_negative_int(num_samples, "num_samples")
        if num_samples == 0:
            return tf.zeros([0, *latent_shape], tf.as_dtype(dtype))
        positions = tf.range(start, start + num_samples, dtype=tf.int64)
        seed = noise_lib.sanitize_seed(seed, salt="dgflow_tf.latents")
        return _draw_in_graph((self, tuple(event_shape)), seed, positions, [], self.wrapped, event_shape)

    def get_config(self):
        return {"distribution": self.wrapped}

    def __hash__(self):
        return id(self.wrapped)


_NAMES = {"normal": Normal, "uniform": Uniform, "truncated_normal": TruncatedNormal}
#: The named priors (`config.PRIORS`, the CLI's choices).
NAMES = PRIORS


def get(identifier: str | LatentPrior | Any | None) -> LatentPrior:
    """Returns a `LatentPrior` from a name, a TFP distribution, a config or a prior.

    Args:
        identifier: `None` or `"normal"` (standard normal), `"uniform"`
            (`[-1, 1]` box), `"truncated_normal"` (`[-2, 2]`), a
            `LatentPrior`, a `tfd.Distribution` over one latent, or a dict
            from `serialize`.

    Returns:
        A `LatentPrior`.

    Raises:
        ValueError: for an unknown name.
        TypeError: for any other type.
    """
    if identifier is None:
        return Normal()
    if isinstance(identifier, LatentPrior):
        return identifier
    if isinstance(identifier, tfd.Distribution):
        return DistributionPrior(identifier)
    if isinstance(identifier, str):
        if identifier not in _NAMES:
            raise ValueError(f"Unknown latent_prior {identifier!r}. Expected one of: {sorted(_NAMES)}")
        return _NAMES[identifier]()
    if isinstance(identifier, dict) and identifier.get("name") in _NAMES:
        return _NAMES[identifier["name"]](**identifier.get("config", {}))
    raise TypeError(
        "`latent_prior` must be a name ('normal', 'uniform', 'truncated_normal'), a LatentPrior or "
        f"a tfp.distributions.Distribution. Received: {identifier!r} of type {type(identifier).__name__}"
    )


def serialize(prior):
    """A JSON-friendly config for the named priors; the live object otherwise."""
    for name, cls in _NAMES.items():
        if type(prior) is cls:
            return {"name": name, "config": prior.get_config()}
    return prior


def check_boundary(boundary):
    """Validates a `boundary` rule name; returns it."""
    if boundary not in BOUNDARIES:
        raise ValueError(f"Unknown boundary {boundary!r}. Expected one of: {list(BOUNDARIES)}")
    return boundary


def constrain(states: tf.Tensor, prior: LatentPrior, boundary: str) -> tf.Tensor:
    """Applies the `boundary` rule of a bounded `prior` to a batch of latents.

    Args:
        states: floating tensor of latents.
        prior: a `LatentPrior`.
        boundary: `"reflect"`, `"clip"` or `"none"`.

    Returns:
        `states` mapped into the prior's support (unchanged for an unbounded
        prior or `"none"`).
    """
    if boundary == "none" or not prior.bounded:
        return states
    low = tf.constant(prior.low, states.dtype)
    high = tf.constant(prior.high, states.dtype)
    if boundary == "clip":
        return tf.clip_by_value(states, low, high)
    # Reflection in a box of width w is periodic with period 2w: fold the
    # distance from `low` into [0, 2w), then mirror the upper half.
    # Coordinates inside the box are returned bit for bit.
    width = high - low
    folded = tf.math.floormod(states - low, 2.0 * width)
    reflected = low + width - tf.abs(folded - width)
    return tf.where((states < low) | (states > high), reflected, states)
