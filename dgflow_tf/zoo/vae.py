"""A convolutional variational autoencoder (Kingma and Welling, 2014) for small images.

The encoder maps an image to the mean and log-variance of a diagonal
Gaussian posterior; the decoder maps a latent to the mean of a Gaussian
likelihood with a fixed standard deviation `observation_std`. The decoder is
the generator that DGflow refines: `decoder(z)`, `z ~ N(0, I)`. A VAE has no
discriminator, so its critic comes from a density-ratio corrector
(`dgflow_tf.critics.train_corrector`).

Examples:
    >>> vae = ConvolutionalVAE(latent_dim=8, image_size=8, seed=0)
    >>> vae.compile(optimizer="adam")
    >>> vae.decoder.output_shape
    (None, 8, 8, 1)
"""

import keras
import tensorflow as tf

from dgflow_tf._validation import check_non_negative_int, check_positive_float, check_positive_int


def _encoder(image_size, channels, width, latent_dim, stages):
    x = keras.Input((image_size, image_size, channels), name="x")
    h = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    for _ in range(stages):
        h = keras.layers.Conv2D(2 * width, 4, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(8 * width, activation="relu")(h)
    mean = keras.layers.Dense(latent_dim, name="mean")(h)
    log_variance = keras.layers.Dense(latent_dim, name="log_variance")(h)
    return keras.Model(x, [mean, log_variance], name="encoder")


def _decoder(image_size, channels, width, latent_dim, stages):
    side = image_size // 2**stages
    z = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(8 * width, activation="relu")(z)
    h = keras.layers.Dense(side * side * 2 * width, activation="relu")(h)
    h = keras.layers.Reshape((side, side, 2 * width))(h)
    for stage in range(stages):
        filters = width if stage == stages - 1 else 2 * width
        h = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", activation="relu")(h)
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="tanh")(h)
    return keras.Model(z, x, name="decoder")


class ConvolutionalVAE(keras.Model):
    """A convolutional VAE trained with `fit` on images in `[-1, 1]`.

    The loss per image is the negative ELBO,
    `||x - decoder(z)||^2 / (2 observation_std^2) + KL(q(z|x) || N(0, I))`,
    with one reparameterised `z ~ q(z|x)` drawn from a
    `keras.random.SeedGenerator(seed)`.

    Args:
        latent_dim: latent size. Defaults to `16`.
        image_size: side of the square images, even. Defaults to `8`.
        channels: image channels. Defaults to `1`.
        width: base channel count. Defaults to `32`.
        observation_std: the likelihood's standard deviation; smaller values
            weigh reconstruction over the prior. Defaults to `0.2`.
        seed: int >= 0 for the reparameterisation noise. Defaults to `0`.
        stages: stride-2 convolutions in the encoder (and transposed ones
            in the decoder); 2 keeps a 28x28 model small. Defaults to `1`.
        **kwargs: standard `keras.Model` arguments.

    Raises:
        ValueError: for non-positive sizes or `observation_std`, or an
            `image_size` not divisible by `2**stages`.
    """

    def __init__(
        self,
        latent_dim=16,
        image_size=8,
        channels=1,
        width=32,
        observation_std=0.2,
        seed=0,
        stages=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        image_size = check_positive_int(image_size, "image_size")
        stages = check_positive_int(stages, "stages")
        if image_size % 2**stages:
            raise ValueError(
                f"`image_size` must be divisible by 2**stages = {2**stages}. "
                f"Received: image_size={image_size}, stages={stages}"
            )
        check_positive_int(channels, "channels")
        check_positive_int(width, "width")
        self.observation_std = check_positive_float(observation_std, "observation_std")
        self.seed_generator = keras.random.SeedGenerator(check_non_negative_int(seed, "seed"))
        self.encoder = _encoder(image_size, channels, width, self.latent_dim, stages)
        self.decoder = _decoder(image_size, channels, width, self.latent_dim, stages)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        # Every sub-model is a built functional model, so weights can be saved
        # and loaded before the first call.
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.kl_tracker]

    def call(self, images, training=False):
        mean, _ = self.encoder(images, training=training)
        return self.decoder(mean, training=training)

    def negative_elbo(self, images, training=False):
        """Per-image negative ELBO and KL term, each `[batch]`."""
        mean, log_variance = self.encoder(images, training=training)
        noise = keras.random.normal(tf.shape(mean), dtype=mean.dtype, seed=self.seed_generator)
        z = mean + tf.exp(0.5 * log_variance) * noise
        reconstruction = self.decoder(z, training=training)
        squared_error = tf.reduce_sum(
            tf.reshape(tf.square(images - reconstruction), [tf.shape(images)[0], -1]), 1
        )
        kl = 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_variance) - 1.0 - log_variance, axis=1)
        return squared_error / (2.0 * self.observation_std**2) + kl, kl

    def train_step(self, images):
        with tf.GradientTape() as tape:
            loss, kl = self.negative_elbo(images, training=True)
            loss = tf.reduce_mean(loss)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables, strict=True))
        self.loss_tracker.update_state(loss)
        self.kl_tracker.update_state(tf.reduce_mean(kl))
        return {metric.name: metric.result() for metric in self.metrics}

    def test_step(self, images):
        loss, kl = self.negative_elbo(images)
        self.loss_tracker.update_state(tf.reduce_mean(loss))
        self.kl_tracker.update_state(tf.reduce_mean(kl))
        return {metric.name: metric.result() for metric in self.metrics}
