"""The density-ratio corrector for models without a usable discriminator.

VAEs, normalizing flows and GANs with vector-valued critics (MMD-GAN) have no
logit of the form `log(mu / rho)`. A discriminator `d_pre` trained for
another model on the same data, plus a corrector `c` trained for the target
model, gives one (the method document, section 4):

    d(x) = d_pre(x) + c(x),    since  log(mu / rho) = log(mu / rho_pre) + log(rho_pre / rho)

`train_corrector` fits `c` with the logistic loss on that logit, `d_pre`
frozen; `corrector_network` is its default architecture.
"""

from collections.abc import Callable
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from dgflow_tf._validation import check_non_negative_int, check_positive_float, check_positive_int
from dgflow_tf.critics import Critic, LogitCritic, SumCritic, get


def _shuffled_batches(inputs, labels, weights, batch_size, seed):
    """Yields `((samples, offsets), labels, weights)` batches forever, every epoch in a new order
    drawn from a NumPy generator seeded with `seed` (read in sequence, so the order is the seed's)."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(labels))
        for start in range(0, len(labels), batch_size):
            rows = order[start : start + batch_size]
            yield tuple(part[rows] for part in inputs), labels[rows], weights[rows]


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

    Images: a 3x3 convolution with `width` channels, a 4x4 convolution of
    stride 2 with `2 * width` channels (both `"same"` padding, each followed
    by a LeakyReLU of slope 0.2), then a dense logit. Vectors: two tanh dense
    layers of `2 * width` units, then a dense logit. The logit layer starts at
    zero, so before training `d_pre + c = d_pre`.

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
    real: np.ndarray,
    generated: np.ndarray,
    d_pre: Callable | None = None,
    network: keras.Model | None = None,
    *,
    validation_split: float = 0.2,
    epochs: int = 200,
    batch_size: int = 128,
    patience: int = 10,
    learning_rate: float = 1e-3,
    seed: int = 0,
    verbose: int = 0,
) -> CorrectorFit:
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
    the best weights. The training rows are reshuffled every epoch by a NumPy
    generator seeded with `seed`, so the result is a function of `seed` (and
    of `network`'s initial weights) and no global random state is touched.

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

    Examples:
        >>> real = np.random.default_rng(0).normal(1.0, 1.0, (2000, 1)).astype("float32")
        >>> fake = np.random.default_rng(1).normal(0.0, 1.0, (2000, 1)).astype("float32")
        >>> fit = train_corrector(real, fake, network=keras.Sequential([keras.layers.Dense(1)]), epochs=20)
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
    num_validation = max(1, int(round(len(samples) * float(validation_split))))
    train, validation = slice(0, len(samples) - num_validation), slice(len(samples) - num_validation, None)
    num_train = len(samples) - num_validation
    history = trainer.fit(
        _shuffled_batches((samples[train], offsets[train]), labels[train], weights[train], batch_size, seed),
        steps_per_epoch=-(-num_train // batch_size),
        shuffle=False,  # the generator shuffles, seeded
        validation_data=((samples[validation], offsets[validation]), labels[validation], weights[validation]),
        epochs=epochs,
        verbose=verbose,
        callbacks=[keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)],
    )
    critic = LogitCritic(corrector) if frozen is None else SumCritic([frozen, LogitCritic(corrector)])
    return CorrectorFit(critic, corrector, history)
