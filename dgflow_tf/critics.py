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

`train_corrector` fits that corrector `c` (METHOD.md section 4).
"""

from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from dgflow_tf._validation import check_non_negative_int, check_positive_float, check_positive_int
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

    Example:

    >>> critic = LogitCritic(lambda x: tf.reduce_sum(x, axis=-1))
    >>> critic(tf.ones([4, 2])).shape
    TensorShape([4])
    """

    def __init__(self, discriminator, **kwargs):
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

    def __init__(self, critic, scale=1.0, **kwargs):
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

    def __init__(self, critics, **kwargs):
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


def get(identifier):
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


class CorrectorFit(NamedTuple):
    """What `train_corrector` returns.

    Attributes:
        critic: the corrected critic, `SumCritic([d_pre, corrector])`, or
            `LogitCritic(corrector)` without `d_pre`; pass it to
            `RefinementModel`.
        corrector: the trained network `c`, a `keras.Model` returning
            `[batch, 1]`.
        history: the `keras.callbacks.History` of its `fit`.
    """

    critic: Critic
    corrector: keras.Model
    history: keras.callbacks.History


def corrector_network(sample_shape, width=32, seed=0):
    """The default corrector `c`: a small conv net for images, an MLP for vectors.

    Its last layer starts at zero, so before training `d_pre + c = d_pre`.

    Args:
        sample_shape: shape of one sample, e.g. `(8, 8, 1)` or `(2,)`.
        width: base channel count / hidden width. Defaults to `32`.
        seed: int seed of the initial weights. Defaults to `0`.

    Returns:
        A `keras.Model` from `[batch, *sample_shape]` to `[batch, 1]`.

    Raises:
        ValueError: for a shape that is neither an image `(h, w, c)` nor a
            vector `(d,)`.
    """
    sample_shape = tuple(int(d) for d in sample_shape)
    init = keras.initializers.GlorotUniform
    x = keras.Input(sample_shape)
    if len(sample_shape) == 3:
        h = keras.layers.Conv2D(width, 3, padding="same", kernel_initializer=init(seed))(x)
        h = keras.layers.LeakyReLU(0.2)(h)
        h = keras.layers.Conv2D(2 * width, 4, strides=2, padding="same", kernel_initializer=init(seed + 1))(h)
        h = keras.layers.LeakyReLU(0.2)(h)
        h = keras.layers.Flatten()(h)
    elif len(sample_shape) == 1:
        h = keras.layers.Dense(2 * width, activation="tanh", kernel_initializer=init(seed))(x)
        h = keras.layers.Dense(2 * width, activation="tanh", kernel_initializer=init(seed + 1))(h)
    else:
        raise ValueError(
            "`sample_shape` must be an image shape (height, width, channels) or a vector shape (dim,); "
            f"pass your own `network` for other shapes. Received: sample_shape={sample_shape}"
        )
    logit = keras.layers.Dense(1, kernel_initializer="zeros")(h)
    return keras.Model(x, logit, name="corrector")


def train_corrector(
    real,
    generated,
    d_pre=None,
    network=None,
    *,
    validation_split=0.2,
    epochs=200,
    batch_size=128,
    patience=10,
    learning_rate=1e-3,
    seed=0,
    verbose=0,
):
    """Trains a density-ratio corrector `c` so that `d_pre + c` estimates `log(mu / rho)`.

    Since `log(mu / rho) = log(mu / rho_pre) + log(rho_pre / rho)`, a
    discriminator `d_pre` trained for another model (density `rho_pre`) is
    corrected for the target model (density `rho`) by a network `c` trained
    with the logistic loss on the logit `d_pre(x) + c(x)`: real data `mu`
    labelled 1, the target model's samples labelled 0, `d_pre` frozen (its
    values are computed once). With `d_pre=None`, `c` alone is a
    discriminator trained after the fact. The two classes are weighted
    equally whatever their sizes, so the logit's optimum is the log ratio
    with no `log(n_real / n_generated)` offset.

    Training is a Keras `fit` with Adam, a `validation_split` held out after
    a seeded shuffle, and early stopping on the validation loss that restores
    the best weights. `keras.utils.set_random_seed(seed)` is called first, so
    the result is a function of `seed`.

    Args:
        real: `[n_real, ...]` data samples.
        generated: `[n_generated, ...]` samples of the model to correct.
        d_pre: `None`, or a critic/callable returning a logit per sample.
        network: the corrector `c`, a `keras.Model` to `[batch, 1]`.
            Defaults to `corrector_network(sample_shape, seed=seed)`.
        validation_split: fraction in `(0, 1)` held out for early stopping.
            Defaults to `0.2`.
        epochs: maximum epochs. Defaults to `200`.
        batch_size: Defaults to `128`.
        patience: epochs without validation improvement before stopping.
            Defaults to `10`.
        learning_rate: Adam's learning rate. Defaults to `1e-3`.
        seed: int >= 0. Defaults to `0`.
        verbose: as in `keras.Model.fit`.

    Returns:
        A `CorrectorFit(critic, corrector, history)`.

    Raises:
        ValueError: for samples of different shapes, NaN/Inf samples, fewer
            than 2 samples per class, or bad training settings.

    Example:

    >>> real = np.random.default_rng(0).normal(1.0, 1.0, (2000, 1)).astype("float32")
    >>> fake = np.random.default_rng(1).normal(0.0, 1.0, (2000, 1)).astype("float32")
    >>> fit = train_corrector(real, fake, network=keras.Sequential([keras.layers.Dense(1)]))
    >>> critic = fit.critic  # about x - 0.5, the exact log ratio
    """
    real = np.asarray(real, dtype="float32")
    generated = np.asarray(generated, dtype="float32")
    for name, array in (("real", real), ("generated", generated)):
        if array.ndim < 2 or len(array) < 2:
            raise ValueError(
                f"`{name}` must be a batch [num_samples, ...] with at least 2 samples. "
                f"Received shape {array.shape}"
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"`{name}` contains NaN or Inf.")
    if real.shape[1:] != generated.shape[1:]:
        raise ValueError(
            "`real` and `generated` must have the same per-sample shape. "
            f"Received {real.shape[1:]} and {generated.shape[1:]}"
        )
    if not 0.0 < float(validation_split) < 1.0:
        raise ValueError(f"`validation_split` must be in (0, 1). Received: {validation_split!r}")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    patience = check_non_negative_int(patience, "patience")
    learning_rate = check_positive_float(learning_rate, "learning_rate")
    seed = check_non_negative_int(seed, "seed")
    keras.utils.set_random_seed(seed)

    samples = np.concatenate([real, generated])
    labels = np.concatenate([np.ones(len(real)), np.zeros(len(generated))]).astype("float32")[:, None]
    # Equal total weight per class: the logit's optimum is then log(mu / rho) exactly.
    class_weights = (len(samples) / (2 * len(real)), len(samples) / (2 * len(generated)))
    weights = np.where(labels[:, 0] == 1.0, *class_weights)
    order = np.random.default_rng(seed).permutation(len(samples))
    samples, labels, weights = samples[order], labels[order], weights[order].astype("float32")

    frozen = None if d_pre is None else get(d_pre)
    if frozen is None:
        offsets = np.zeros((len(samples), 1), "float32")
    else:
        offsets = np.concatenate(
            [np.asarray(frozen(tf.constant(samples[i : i + 1024]))) for i in range(0, len(samples), 1024)]
        ).astype("float32")[:, None]
    if not np.all(np.isfinite(offsets)):
        raise ValueError("`d_pre` returned NaN or Inf on the training samples.")

    corrector = network if network is not None else corrector_network(samples.shape[1:], seed=seed)
    sample_input = keras.Input(samples.shape[1:], name="samples")
    offset_input = keras.Input((1,), name="d_pre")
    logit = keras.layers.Add()([offset_input, corrector(sample_input)])
    trainer = keras.Model([sample_input, offset_input], logit, name="corrector_trainer")
    trainer.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        weighted_metrics=[],
    )
    history = trainer.fit(
        [samples, offsets],
        labels,
        sample_weight=weights,
        validation_split=float(validation_split),
        epochs=epochs,
        batch_size=batch_size,
        verbose=verbose,
        callbacks=[keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)],
    )
    critic = LogitCritic(corrector) if frozen is None else SumCritic([frozen, LogitCritic(corrector)])
    return CorrectorFit(critic, corrector, history)
