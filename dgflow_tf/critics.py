"""Critics: estimators of the log density ratio `d(x) = log(mu(x) / rho(x))`.

DGflow needs, for each sample `x`, an estimate of how much more likely it is
under the data `mu` than under the model `rho`. A discriminator trained with
the logistic GAN loss has its optimum at `sigmoid(d(x)) = mu / (mu + rho)`, so
its logit is exactly that log ratio. Other models expose it differently; each
class here turns one of them into a layer that returns one value per sample,
shape `[batch]`:

- `LogitCritic`: a GAN discriminator that outputs a logit.
- `ProbabilityCritic`: a discriminator that ends in a sigmoid.
- `WassersteinCritic`: a WGAN critic, used directly as `d` (the convention of
  DOT and of the paper's code), optionally scaled.
- `SumCritic`: a sum of critics, `d_pre(x) + c(x)`, for the density-ratio
  corrector of models without a discriminator.

`corrector.train_corrector` fits that corrector `c` (the method document,
section 4); it is re-exported here.
"""

from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from dgflow_tf.layers import as_layer, deserialize_callable, serialize_callable


def per_sample_values(values, batch_size, argument="critic"):
    """Validates a critic's output and flattens it to shape `[batch]`.

    Args:
        values: the critic's output.
        batch_size: the static (int) or dynamic batch size of its input.
        argument: the name of the offending argument, for error messages.

    Returns:
        A `[batch]` floating tensor.

    Raises:
        TypeError: if the output is not a floating tensor.
        ValueError: if its shape is neither `[batch]` nor `[batch, 1]`.
    """
    if isinstance(values, (dict, list, tuple)):
        raise TypeError(
            f"`{argument}` must return a single tensor of shape [batch] or [batch, 1]. "
            f"Received: a {type(values).__name__}. Select the logit output of your model."
        )
    values = tf.convert_to_tensor(values)
    if not values.dtype.is_floating:
        raise TypeError(
            f"`{argument}` must return floating-point values (a logit or critic score). "
            f"Received: dtype {values.dtype.name}"
        )
    shape = values.shape
    if shape.rank == 2 and shape[1] == 1:
        values = values[:, 0]
    elif shape.rank != 1:
        raise ValueError(
            f"`{argument}` must return one value per sample, shape [batch] or [batch, 1]. "
            f"Received: shape {shape.as_list()}. A vector-valued critic (e.g. MMD-GAN) needs a "
            "density-ratio corrector to give a scalar log ratio."
        )
    if isinstance(batch_size, int) and values.shape[0] is not None and values.shape[0] != batch_size:
        raise ValueError(
            f"`{argument}` must return one value per sample. Received {values.shape[0]} values "
            f"for a batch of {batch_size} samples."
        )
    return values


class Critic(keras.layers.Layer):
    """Base class of critics: `call(samples)` returns `d(x)` of shape `[batch]`.

    Subclasses implement `log_ratio(samples)`; the base class validates its
    output. Inputs are not cast, so a float64 critic stays in float64.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def build(self, input_shape):
        # Wrapped models build themselves on first call; see CallableLayer.build.
        self.built = True

    def log_ratio(self, samples):
        """Returns the critic's raw estimate of `log(mu / rho)` for `samples`."""
        raise NotImplementedError

    def call(self, samples):
        # A conditional critic receives `[samples, conditions]`.
        batch = samples[0] if isinstance(samples, (list, tuple)) else samples
        return per_sample_values(self.log_ratio(samples), batch.shape[0], argument="critic")


@keras.saving.register_keras_serializable(package="dgflow_tf")
class LogitCritic(Critic):
    """A GAN discriminator's logit as the log density ratio.

    For a discriminator trained with the logistic loss (minimax or
    non-saturating), `sigmoid(logit) = mu / (mu + rho)` at the optimum, so
    `d(x) = logit(x) = log(mu(x) / rho(x))`.

    Args:
        discriminator: a callable mapping samples to logits of shape
            `[batch]` or `[batch, 1]`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Examples:
        >>> critic = LogitCritic(lambda x: tf.reduce_sum(x, axis=-1))
        >>> critic(tf.ones([4, 2])).shape
        TensorShape([4])
    """

    def __init__(self, discriminator: Callable, **kwargs: Any):
        super().__init__(**kwargs)
        self.discriminator = as_layer(discriminator, name="discriminator")

    def log_ratio(self, samples):
        return self.discriminator(samples, training=False)

    def get_config(self):
        return {**super().get_config(), "discriminator": serialize_callable(self.discriminator)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["discriminator"] = deserialize_callable(config["discriminator"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="dgflow_tf")
class ProbabilityCritic(LogitCritic):
    """A discriminator that outputs probabilities `D(x) = mu / (mu + rho)`.

    The log ratio is recovered as `d = log D - log(1 - D)`. Probabilities of
    exactly 0 or 1 give infinite logits, which the refinement reports as
    non-finite rather than clipping: prefer the logit if the model exposes
    it.
    """

    def log_ratio(self, samples):
        probability = self.discriminator(samples, training=False)
        return tf.math.log(probability) - tf.math.log1p(-probability)


@keras.saving.register_keras_serializable(package="dgflow_tf")
class WassersteinCritic(LogitCritic):
    """A WGAN critic used directly as the log density ratio, `d(x) = scale * c(x)`.

    A Wasserstein critic is only defined up to an additive constant and a
    scale, so `scale` acts as an inverse temperature on the drift.

    Args:
        critic: a callable mapping samples to scores `[batch]` or `[batch, 1]`.
        scale: positive float multiplying the scores. Defaults to `1.0`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Raises:
        ValueError: if `scale` is not a finite positive number.
    """

    def __init__(self, critic: Callable, scale: float = 1.0, **kwargs: Any):
        scale = float(scale)
        if not (scale > 0.0 and scale < float("inf")):
            raise ValueError(f"`scale` must be a finite positive number. Received: scale={scale!r}")
        super().__init__(critic, **kwargs)
        self.scale = scale

    def log_ratio(self, samples):
        scores = self.discriminator(samples, training=False)
        return scores * tf.cast(self.scale, scores.dtype)

    def get_config(self):
        config = super().get_config()
        config["critic"] = config.pop("discriminator")
        return {**config, "scale": self.scale}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["critic"] = deserialize_callable(config["critic"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="dgflow_tf")
class SumCritic(Critic):
    """The sum of several critics' log ratios, e.g. `d_pre(x) + c(x)`.

    Since `log(mu / rho) = log(mu / rho_pre) + log(rho_pre / rho)`, a
    discriminator trained for another model plus a corrector for the target
    model estimates the target's log ratio.

    Args:
        critics: a non-empty list of critics or callables (callables are
            read as logits).
        **kwargs: standard `keras.layers.Layer` arguments.

    Raises:
        ValueError: if `critics` is empty.
    """

    def __init__(self, critics: Sequence[Callable], **kwargs: Any):
        super().__init__(**kwargs)
        critics = list(critics)
        if not critics:
            raise ValueError("`critics` must contain at least one critic. Received: []")
        self.critics = [get(critic) for critic in critics]

    def log_ratio(self, samples):
        return tf.math.add_n([critic(samples) for critic in self.critics])

    def get_config(self):
        return {
            **super().get_config(),
            "critics": [serialize_callable(critic) for critic in self.critics],
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["critics"] = [deserialize_callable(critic) for critic in config["critics"]]
        return cls(**config)


def get(identifier: Callable | Critic) -> Critic:
    """Returns a `Critic`: instances as they are, other callables as logits.

    Args:
        identifier: a `Critic`, or any callable returning logits.

    Returns:
        A `Critic`.

    Raises:
        TypeError: if `identifier` is not callable.
    """
    if isinstance(identifier, Critic):
        return identifier
    if isinstance(identifier, dict) and "class_name" in identifier:
        return get(keras.saving.deserialize_keras_object(identifier))
    if not callable(identifier):
        raise TypeError(
            "`critic` must be a callable returning one log density ratio per sample "
            f"(a discriminator logit). Received: critic={identifier!r} of type "
            f"{type(identifier).__name__}"
        )
    return LogitCritic(identifier)


_CORRECTOR_NAMES = ("CorrectorFit", "corrector_network", "train_corrector")


def __getattr__(name):
    # The corrector lives in `dgflow_tf.corrector` (which imports this module); its names stay
    # reachable here, resolved on first use so that neither module imports the other at load time.
    if name in _CORRECTOR_NAMES:
        from dgflow_tf import corrector

        return getattr(corrector, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
