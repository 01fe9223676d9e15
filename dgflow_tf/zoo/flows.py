"""A RealNVP normalizing flow built from TFP bijectors, trained by maximum likelihood.

The flow maps a standard normal base `z ~ N(0, I_d)` through `num_couplings`
affine coupling layers (`tfb.RealNVP`, Dinh et al., 2017,
https://arxiv.org/abs/1605.08803) with a fixed permutation between them, then
a sigmoid and an affine map onto the image range, then a reshape to the
image shape:

    x = reshape(2 (sigmoid(h) - alpha) / (1 - 2 alpha) - 1),  h = couplings(z)

computed as the equal `tanh(h / 2) / (1 - 2 alpha)`: TFP's `Sigmoid`
bijector has a NaN gradient once `h` passes about 88 (its `exp` overflows
in float32), which latent-space refinement reaches far from the data.

so samples lie in `(-1 - e, 1 + e)` with `e = 2 alpha / (1 - 2 alpha)`, like the
other models' images. `RealNVPFlow.distribution` is a plain
`tfd.TransformedDistribution`, which `dgflow_tf.adapters.flows` refines in
base space or in data space.

Examples:
    >>> flow = RealNVPFlow(event_shape=(8, 8, 1), num_couplings=2, hidden_units=16, seed=0)
    >>> flow.distribution.sample(3, seed=1).shape
    TensorShape([3, 8, 8, 1])
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from dgflow_tf._validation import check_non_negative_int, check_positive_int

tfb = tfp.bijectors
tfd = tfp.distributions


def _coupling_network(input_dim, output_dim, hidden_units, name):
    x = keras.Input((input_dim,))
    h = keras.layers.Dense(hidden_units, activation="relu")(x)
    h = keras.layers.Dense(hidden_units, activation="relu")(h)
    # Zero-initialised output: each coupling starts as the identity.
    out = keras.layers.Dense(2 * output_dim, kernel_initializer="zeros")(h)
    return keras.Model(x, out, name=name)


class RealNVPFlow(keras.Model):
    """A RealNVP flow over images, trained with `fit` by maximum likelihood.

    `fit` receives images in `[-1, 1]`. With `levels`, each pixel is taken as
    one of `levels` evenly spaced values and dequantised with fresh uniform
    noise at every step (`x = 2 (v + u) / levels - 1`), so the model has a
    density; the loss is the mean negative log-likelihood in nats per image.

    Args:
        event_shape: shape of one image, e.g. `(8, 8, 1)`.
        num_couplings: coupling layers. Defaults to `8`.
        hidden_units: width of each coupling's two hidden layers. Defaults
            to `256`.
        alpha: margin of the sigmoid output, in `(0, 0.5)`. Defaults to
            `0.05`.
        levels: number of pixel levels to dequantise, or `None` for data that
            are already continuous. Defaults to `17` (scikit-learn digits).
        seed: int >= 0 for the permutations and the dequantisation noise.
            Defaults to `0`.
        **kwargs: standard `keras.Model` arguments.

    Raises:
        ValueError: for non-positive sizes, an odd flattened dimension, or
            `alpha` outside `(0, 0.5)`.
    """

    def __init__(
        self,
        event_shape=(8, 8, 1),
        num_couplings=8,
        hidden_units=256,
        alpha=0.05,
        levels=17,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.event_shape_ = tuple(check_positive_int(d, "event_shape") for d in event_shape)
        self.dim = int(np.prod(self.event_shape_))
        if self.dim % 2:
            raise ValueError(f"The flattened `event_shape` must be even. Received: {self.event_shape_}")
        check_positive_int(num_couplings, "num_couplings")
        if not 0.0 < float(alpha) < 0.5:
            raise ValueError(f"`alpha` must be in (0, 0.5). Received: alpha={alpha!r}")
        self.alpha = float(alpha)
        self.levels = None if levels is None else check_positive_int(levels, "levels")
        seed = check_non_negative_int(seed, "seed")
        self.seed_generator = keras.random.SeedGenerator(seed)
        half = self.dim // 2
        self.coupling_networks = [
            _coupling_network(half, self.dim - half, hidden_units, f"coupling_{i}")
            for i in range(num_couplings)
        ]
        rng = np.random.default_rng(seed)
        self._permutations = [rng.permutation(self.dim).astype("int32") for _ in range(num_couplings)]
        self.loss_tracker = keras.metrics.Mean(name="nll")
        self._distribution = None
        # Every sub-model is a built functional model, so weights can be saved
        # and loaded before the first call.
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker]

    def _shift_and_log_scale(self, network):
        def fn(x, output_units):
            shift, log_scale = tf.split(network(x), 2, axis=-1)
            # tanh keeps each coupling's scale in [e^-2, e^2] for stability.
            return shift, 2.0 * tf.tanh(log_scale / 2.0)

        return fn

    @property
    def bijector(self):
        """The bijector from base `[..., dim]` vectors to images."""
        return self.distribution.bijector

    @property
    def distribution(self):
        """The flow as a `tfd.TransformedDistribution` with image-shaped events."""
        if self._distribution is None:
            # Built eagerly even on first use inside a tf.function, so the
            # bijectors' constants are not tied to one graph.
            with tf.init_scope():
                self._distribution = self._build_distribution()
        return self._distribution

    def _build_distribution(self):
        couplings = []
        for network, permutation in zip(self.coupling_networks, self._permutations, strict=True):
            shift_and_log_scale_fn = self._shift_and_log_scale(network)
            couplings.append(
                tfb.RealNVP(num_masked=self.dim // 2, shift_and_log_scale_fn=shift_and_log_scale_fn)
            )
            couplings.append(tfb.Permute(permutation))
        # 2 (sigmoid(h) - alpha) / (1 - 2 alpha) - 1 = tanh(h / 2) / (1 - 2 alpha), with a finite
        # gradient where tfb.Sigmoid's is NaN (h > 88 in float32).
        to_range = [tfb.Scale(1.0 / (1.0 - 2.0 * self.alpha)), tfb.Tanh(), tfb.Scale(0.5)]
        reshape = tfb.Reshape(event_shape_out=self.event_shape_, event_shape_in=(self.dim,))
        # Chain applies its last bijector first.
        bijector = tfb.Chain([reshape, *to_range, *reversed(couplings)])
        base = tfd.MultivariateNormalDiag(loc=tf.zeros([self.dim]))
        return tfd.TransformedDistribution(base, bijector)

    def call(self, images, training=False):
        """Log-density of images, `[batch]`."""
        return self.distribution.log_prob(images)

    def dequantize(self, images):
        """Spreads each of `levels` pixel values uniformly over its bin."""
        if self.levels is None:
            return images
        values = tf.round((images + 1.0) * (self.levels - 1) / 2.0)
        noise = keras.random.uniform(tf.shape(images), dtype=images.dtype, seed=self.seed_generator)
        return 2.0 * (values + noise) / self.levels - 1.0

    def train_step(self, images):
        images = self.dequantize(images)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(self.distribution.log_prob(images))
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables, strict=True))
        self.loss_tracker.update_state(loss)
        return {"nll": self.loss_tracker.result()}

    def test_step(self, images):
        self.loss_tracker.update_state(-tf.reduce_mean(self.distribution.log_prob(self.dequantize(images))))
        return {"nll": self.loss_tracker.result()}
