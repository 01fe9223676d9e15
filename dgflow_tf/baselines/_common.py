"""What the baselines share: inputs, seeds, proposals and the result type."""

from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from dgflow_tf import batching
from dgflow_tf import critics as critics_lib
from dgflow_tf import noise as noise_lib
from dgflow_tf._validation import as_batch_tensor, check_positive_int
from dgflow_tf.inputs import infer_input_shape
from dgflow_tf.layers import as_layer
from dgflow_tf.runner import batch_spec, compile_once

tfd = tfp.distributions
_SEED_AND_POSITIONS = (tf.TensorSpec([2], tf.int32), tf.TensorSpec([None], tf.int64))


class BaselineResult(NamedTuple):
    """What a baseline's `refine` returns.

    Attributes:
        samples: `[n, ...]` kept samples, NumPy.
        states: `[n, ...]` latents (or data-space states) of the kept
            samples, NumPy.
        generator_evaluations: generator forward passes spent per kept
            sample (one-off calibration excluded; see `info`).
        critic_evaluations: critic forward passes spent per kept sample.
        info: method-specific diagnostics (acceptance rate, `k_eff`, ...).
    """

    samples: np.ndarray
    states: np.ndarray
    generator_evaluations: float
    critic_evaluations: float
    info: dict


class Baseline:
    """A generator, a critic, a seed and batched evaluation, as `RefinementModel` takes them.

    Args:
        generator: callable from latents to samples, or `None` where the
            method works in data space on samples.
        critic: callable from samples to log density ratios (see
            `RefinementModel`).
        seed: `None` or an int (or `[2]` integer tensor). Defaults to `None`.
        latent_shape: per-sample input shape. Defaults to the generator's
            declared input shape.
        batch_size: samples per compiled evaluation. Defaults to `1024`.
    """

    _salt = "baseline"

    def __init__(self, generator, critic, *, seed=None, latent_shape=None, batch_size=1024):
        if generator is not None and not callable(generator):
            raise TypeError(
                "`generator` must be a callable mapping latents to samples. Received: "
                f"generator={generator!r} of type {type(generator).__name__}"
            )
        self.generator = None if generator is None else as_layer(generator, name="generator")
        self.critic = critics_lib.get(critic)
        if seed is not None:
            noise_lib.sanitize_seed(seed)
        self.seed = seed
        if latent_shape is None and generator is not None:
            latent_shape = infer_input_shape(generator)
        self.latent_shape = None if latent_shape is None else tuple(int(d) for d in latent_shape)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self._compiled = {}

    def _seed(self, seed, salt):
        return noise_lib.sanitize_seed(self.seed if seed is None else seed, salt=f"{self._salt}-{salt}")

    def _function(self, key, fn, *specs):
        """`fn` compiled once for arguments like `specs` (`runner.compile_once`), cached by `key`."""
        if key not in self._compiled:
            self._compiled[key] = compile_once(fn, list(specs))
        return self._compiled[key]

    def _generate(self, latents):
        return latents if self.generator is None else self.generator(latents, training=False)

    def _as_input(self, x, name):
        """`x` as a batch tensor of latents; errors name it `name`, the argument as the user spelled it."""
        return as_batch_tensor(x, name, self.latent_shape)

    def _as_samples(self, x, name):
        """`x` as a batch tensor of data-space samples (real or generated): no latent shape applies."""
        return as_batch_tensor(x, name)

    def _batched(self, fn, *arrays):
        """Applies compiled `fn` to aligned arrays in chunks of `batch_size`; concatenates NumPy outputs."""
        return batching.map_batches(fn, list(arrays), self.batch_size)

    def generate_and_score(self, latents):
        """`(g(z), d(g(z)))` for host latents, batched; NumPy outputs."""

        def evaluate(z):
            samples = self._generate(z)
            return samples, self.critic(samples)

        latents = tf.convert_to_tensor(latents)
        return self._batched(self._function("score", evaluate, batch_spec(latents)), latents)

    def prior_latents(self, seed, positions, num_per_position=None, dtype=tf.float32):
        """Standard normal latents keyed by `(seed, position)`.

        Returns:
            `[len(positions), *latent_shape]`, or with `num_per_position`,
            `[len(positions), num_per_position, *latent_shape]` (several
            independent latents per position).
        """
        if self.latent_shape is None:
            raise ValueError(
                "This method draws its own latents, so it needs `latent_shape`. Pass "
                "latent_shape=(dim,) or a generator that declares its input shape."
            )
        normal = tfd.Normal(tf.constant(0.0, dtype), tf.constant(1.0, dtype))
        shape = (
            list(self.latent_shape) if num_per_position is None else [num_per_position, *self.latent_shape]
        )
        draw = self._function(
            ("prior", dtype, num_per_position),
            lambda s, p: noise_lib.position_draws(s, p, shape, normal),
            *_SEED_AND_POSITIONS,
        )
        return self._batched(lambda p: draw(seed, p), tf.constant(positions, tf.int64))

    def uniforms(self, seed, positions, num_draws=1):
        """Uniform[0, 1) draws keyed by `(seed, position)`: `[len(positions), num_draws]` float64."""
        uniform = tfd.Uniform(tf.constant(0.0, tf.float64), tf.constant(1.0, tf.float64))
        draw = self._function(
            ("uniform", num_draws),
            lambda s, p: noise_lib.position_draws(s, p, [num_draws], uniform),
            *_SEED_AND_POSITIONS,
        )
        return self._batched(lambda p: draw(seed, p), tf.constant(positions, tf.int64))
