"""GAN trainers as Keras models: `compile`, then `fit` on real data.

`NonSaturatingGAN` (Goodfellow et al., 2014) trains a discriminator whose
logit estimates `log(mu / rho)`; `WGANGP` (Gulrajani et al., 2017,
https://arxiv.org/abs/1704.00028) trains a Wasserstein critic with the
gradient penalty at uniform interpolates. Both draw their latents from
`keras.random.SeedGenerator(seed)`, so a run is a function of its seed and
its data order.

Examples:
    >>> from dgflow_tf import datasets
    >>> from dgflow_tf.zoo import mlp
    >>> gan = NonSaturatingGAN(mlp.mlp_generator(seed=0), mlp.mlp_discriminator(seed=0), seed=0)
    >>> gan.compile()
    >>> data = datasets.twenty_five_gaussians(1024, seed=0)
    >>> history = gan.fit(data, batch_size=256, epochs=1, verbose=0)
"""

import keras
import tensorflow as tf

from dgflow_tf._validation import check_non_negative_float, check_non_negative_int, check_positive_int


def _input_dim(model, name):
    shape = getattr(model, "input_shape", None)
    if not isinstance(shape, tuple) or len(shape) != 2 or not isinstance(shape[1], int):
        raise ValueError(
            f"`{name}` must be a built Keras model with input shape (None, dim). "
            f"Received input shape: {shape}"
        )
    return shape[1]


class _GANTrainer(keras.Model):
    """Shared set-up: sub-models, seeded latents, two optimisers, loss trackers."""

    def __init__(self, generator, discriminator, *, seed=0, **kwargs):
        super().__init__(**kwargs)
        for name, model in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(model, keras.Model):
                raise TypeError(f"`{name}` must be a keras.Model. Received: {type(model).__name__}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = _input_dim(generator, "generator")
        self.seed = check_non_negative_int(seed, "seed")
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.generator_loss_tracker = keras.metrics.Mean(name="generator_loss")
        self.discriminator_loss_tracker = keras.metrics.Mean(name="discriminator_loss")
        # Every sub-model is a built functional model, so weights can be saved
        # and loaded before the first call.
        self.built = True

    def compile(self, generator_optimizer=None, discriminator_optimizer=None, **kwargs):
        """Sets the two optimisers; `None` takes the trainer's documented default."""
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer or self._default_optimizer()
        self.discriminator_optimizer = discriminator_optimizer or self._default_optimizer()
        # Built up front so that variables are never created inside a branch.
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        return [self.generator_loss_tracker, self.discriminator_loss_tracker]

    def call(self, latents, training=False):
        return self.generator(latents, training=training)

    def _latents(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def _step(self, model, optimizer, loss_fn):
        with tf.GradientTape() as tape:
            loss = loss_fn()
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    def _results(self):
        return {metric.name: metric.result() for metric in self.metrics}


class NonSaturatingGAN(_GANTrainer):
    """The non-saturating GAN: one discriminator and one generator step per batch.

        loss_D = softplus(-d(x)) + softplus(d(g(z)))     (logistic loss)
        loss_G = softplus(-d(g(z)))                       (non-saturating)

    At the optimum `d(x) = log(mu(x) / rho(x))`, the logit DGflow needs.

    Args:
        generator: `keras.Model` from `[batch, latent_dim]` latents to samples.
        discriminator: `keras.Model` from samples to `[batch, 1]` logits.
        seed: int >= 0 for the training latents. Defaults to `0`.

    Optimisers default to Adam(2e-4, beta_1=0.5).
    """

    def _default_optimizer(self):
        return keras.optimizers.Adam(2e-4, beta_1=0.5)

    @staticmethod
    def discriminator_loss(real_logits, fake_logits):
        return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))

    @staticmethod
    def generator_loss(fake_logits):
        return tf.reduce_mean(tf.nn.softplus(-fake_logits))

    def train_step(self, real):
        batch_size = tf.shape(real)[0]
        fake = self.generator(self._latents(batch_size), training=True)

        def discriminator_loss():
            return self.discriminator_loss(
                self.discriminator(real, training=True), self.discriminator(fake, training=True)
            )

        def generator_loss():
            fake = self.generator(self._latents(batch_size), training=True)
            return self.generator_loss(self.discriminator(fake, training=True))

        d_loss = self._step(self.discriminator, self.discriminator_optimizer, discriminator_loss)
        g_loss = self._step(self.generator, self.generator_optimizer, generator_loss)
        self.discriminator_loss_tracker.update_state(d_loss)
        self.generator_loss_tracker.update_state(g_loss)
        return self._results()


class HingeGAN(NonSaturatingGAN):
    """The hinge-loss GAN of SN-GAN (Miyato et al., 2018):

        loss_D = relu(1 - d(x)) + relu(1 + d(g(z)))
        loss_G = -d(g(z))

    Its logit is not a calibrated log ratio (the hinge optimum is a sign, not
    `log(mu / rho)`); DGflow uses it as the paper does, or after a
    density-ratio corrector (`critics.train_corrector`) recalibrates it.
    """

    @staticmethod
    def discriminator_loss(real_logits, fake_logits):
        return tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))

    @staticmethod
    def generator_loss(fake_logits):
        return -tf.reduce_mean(fake_logits)


def rational_quadratic_mmd2(a, b, alphas=(0.2, 0.5, 1.0, 2.0, 5.0)):
    """Biased squared MMD between feature batches with a mixture of rational-quadratic kernels.

    `k(u, v) = sum_alpha (1 + ||u - v||^2 / (2 alpha))^(-alpha)`, the kernel
    of Binkowski et al. (2018, https://arxiv.org/abs/1801.01401).

    Args:
        a: `[n, k]` features of real samples.
        b: `[m, k]` features of generated samples.
        alphas: the mixture's shape parameters.

    Returns:
        A scalar tensor.
    """

    def kernel(u, v):
        squared = (
            tf.reduce_sum(u * u, axis=1)[:, None]
            - 2.0 * tf.matmul(u, v, transpose_b=True)
            + tf.reduce_sum(v * v, axis=1)[None, :]
        )
        squared = tf.maximum(squared, 0.0)
        return tf.add_n([(1.0 + squared / (2.0 * alpha)) ** (-alpha) for alpha in alphas])

    return tf.reduce_mean(kernel(a, a)) + tf.reduce_mean(kernel(b, b)) - 2.0 * tf.reduce_mean(kernel(a, b))


class MMDGAN(_GANTrainer):
    """MMD-GAN with a vector-valued critic (Li et al., 2017; Binkowski et al., 2018).

    The critic `phi` maps samples to feature vectors; the generator minimises
    the squared MMD between `phi(x)` and `phi(g(z))` under a mixture of
    rational-quadratic kernels, and the critic maximises it. The critic is
    kept smooth by spectral normalisation in its layers (build it with
    `spectral_norm=True`) instead of a gradient penalty.

    Its critic has no scalar log ratio, so DGflow needs a density-ratio
    corrector to refine it (`critics.train_corrector`).

    Args:
        generator: `keras.Model` from `[batch, latent_dim]` latents to samples.
        discriminator: `keras.Model` from samples to `[batch, k]` features.
        seed: int >= 0 for the training latents. Defaults to `0`.

    Optimisers default to Adam(1e-4, beta_1=0.5, beta_2=0.9).
    """

    def _default_optimizer(self):
        return keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)

    def train_step(self, real):
        batch_size = tf.shape(real)[0]

        def mmd2():
            fake = self.generator(self._latents(batch_size), training=True)
            return rational_quadratic_mmd2(
                self.discriminator(real, training=True), self.discriminator(fake, training=True)
            )

        d_loss = self._step(self.discriminator, self.discriminator_optimizer, lambda: -mmd2())
        g_loss = self._step(self.generator, self.generator_optimizer, mmd2)
        self.discriminator_loss_tracker.update_state(d_loss)
        self.generator_loss_tracker.update_state(g_loss)
        return self._results()


class WGANGP(_GANTrainer):
    """WGAN-GP: a critic step on every batch, a generator step every `critic_steps` batches.

        loss_C = d(g(z)) - d(x) + lambda * (||grad d(x_hat)||_2 - 1)^2,
                 x_hat = a x + (1 - a) g(z),  a ~ Uniform[0, 1] per sample
        loss_G = -d(g(z))

    Every critic step sees a fresh real batch, as in the paper's Algorithm 1,
    so `fit`'s steps count critic iterations.

    Args:
        generator: `keras.Model` from `[batch, latent_dim]` latents to samples.
        discriminator: `keras.Model` from samples to `[batch, 1]` critic values.
        critic_steps: critic iterations per generator iteration. Defaults to `5`.
        gradient_penalty_weight: `lambda` >= 0. Defaults to `10.0`.
        seed: int >= 0 for the training latents and interpolation weights.
            Defaults to `0`.

    Optimisers default to Adam(1e-4, beta_1=0.5, beta_2=0.9), the paper's.
    """

    def __init__(
        self, generator, discriminator, *, critic_steps=5, gradient_penalty_weight=10.0, seed=0, **kwargs
    ):
        super().__init__(generator, discriminator, seed=seed, **kwargs)
        self.critic_steps = check_positive_int(critic_steps, "critic_steps")
        self.gradient_penalty_weight = check_non_negative_float(
            gradient_penalty_weight, "gradient_penalty_weight"
        )
        self.iteration = tf.Variable(0, dtype=tf.int64, trainable=False, name="iteration")

    def _default_optimizer(self):
        return keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)

    def gradient_penalty(self, real, fake):
        """`mean((||grad d(x_hat)|| - 1)^2)` at uniform interpolates `x_hat`."""
        batch_size = tf.shape(real)[0]
        weight_shape = tf.concat([[batch_size], tf.ones([tf.rank(real) - 1], tf.int32)], axis=0)
        weights = keras.random.uniform(weight_shape, dtype=real.dtype, seed=self.seed_generator)
        interpolates = weights * real + (1.0 - weights) * fake
        with tf.GradientTape() as tape:
            tape.watch(interpolates)
            values = self.discriminator(interpolates, training=True)
        gradients = tape.gradient(values, interpolates)
        norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=tf.range(1, tf.rank(gradients))) + 1e-12)
        return tf.reduce_mean(tf.square(norms - 1.0))

    def critic_loss(self, real, fake):
        """`mean(d(fake)) - mean(d(real)) + lambda * gradient_penalty(real, fake)`."""
        wasserstein = tf.reduce_mean(self.discriminator(fake, training=True)) - tf.reduce_mean(
            self.discriminator(real, training=True)
        )
        return wasserstein + self.gradient_penalty_weight * self.gradient_penalty(real, fake)

    def train_step(self, real):
        batch_size = tf.shape(real)[0]
        fake = self.generator(self._latents(batch_size), training=True)
        d_loss = self._step(
            self.discriminator, self.discriminator_optimizer, lambda: self.critic_loss(real, fake)
        )
        self.discriminator_loss_tracker.update_state(d_loss)

        def generator_update():
            def generator_loss():
                fake = self.generator(self._latents(batch_size), training=True)
                return -tf.reduce_mean(self.discriminator(fake, training=True))

            loss = self._step(self.generator, self.generator_optimizer, generator_loss)
            self.generator_loss_tracker.update_state(loss)
            return tf.constant(0)

        self.iteration.assign_add(1)
        tf.cond(tf.equal(self.iteration % self.critic_steps, 0), generator_update, lambda: tf.constant(0))
        return self._results()
