"""A reference model with a closed-form density ratio: two diagonal Gaussians.

The data are `mu = N(data_mean, diag(data_std^2))`; the "model" pushes a
standard normal latent through the affine generator
`g(z) = model_mean + model_std * z`, so `rho = N(model_mean, diag(model_std^2))`.
The exact critic is `d(x) = log mu(x) - log rho(x)`, a quadratic in `x`, and the
frozen-ratio DGflow-KL update in data space is then affine:

    x_{k+1} = x_k + eta * (a * x_k + c) + sqrt(2 * gamma * eta) * xi_k,
    a = 1 / model_std^2 - 1 / data_std^2,   c = data_mean / data_std^2 - model_mean / model_std^2

which gives the refined mean and variance in closed form (`refined_moments`).
That makes this pair the library's known-answer test and its quickest demo.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def _as_vector(value, name):
    array = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if array.ndim != 1 or not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must be a finite scalar or vector. Received: {name}={value!r}")
    return array


class GaussianPair:
    """Data and model Gaussians with their exact log density ratio.

    Args:
        data_mean: mean of the data distribution (scalar or vector).
        data_std: positive standard deviations of the data.
        model_mean: mean of the model's samples.
        model_std: positive standard deviations of the model's samples.
        dtype: dtype of the generator and critic. Defaults to `"float32"`.

    Raises:
        ValueError: if a standard deviation is not positive, or the sizes of
            the four arguments do not agree.

    Examples:
        >>> pair = GaussianPair(data_mean=1.0, data_std=0.5, model_mean=0.0, model_std=1.0)
        >>> pair.log_ratio(tf.constant([[1.0]])).shape
        TensorShape([1])
    """

    def __init__(self, data_mean, data_std, model_mean, model_std, dtype="float32"):
        self.data_mean = _as_vector(data_mean, "data_mean")
        self.data_std = _as_vector(data_std, "data_std")
        self.model_mean = _as_vector(model_mean, "model_mean")
        self.model_std = _as_vector(model_std, "model_std")
        sizes = {a.size for a in (self.data_mean, self.data_std, self.model_mean, self.model_std)}
        self.dim = max(sizes)
        if not sizes <= {1, self.dim}:
            raise ValueError(
                f"Means and standard deviations must have matching sizes. Received sizes {sorted(sizes)}"
            )
        for name in ("data_mean", "data_std", "model_mean", "model_std"):
            setattr(self, name, np.broadcast_to(getattr(self, name), [self.dim]).copy())
        for name in ("data_std", "model_std"):
            if np.any(getattr(self, name) <= 0):
                raise ValueError(f"`{name}` must be positive. Received: {name}={getattr(self, name)}")
        self.dtype = tf.as_dtype(dtype)
        cast = lambda v: tf.constant(v, self.dtype)  # noqa: E731
        self.data = tfd.MultivariateNormalDiag(cast(self.data_mean), cast(self.data_std))
        self.model = tfd.MultivariateNormalDiag(cast(self.model_mean), cast(self.model_std))

    def generator(self, latents):
        """`g(z) = model_mean + model_std * z`."""
        return (
            tf.constant(self.model_mean, latents.dtype) + tf.constant(self.model_std, latents.dtype) * latents
        )

    def log_ratio(self, samples):
        """The exact critic `d(x) = log mu(x) - log rho(x)`, shape `[batch]`."""
        return self.data.log_prob(samples) - self.model.log_prob(samples)

    def sample_latents(self, num_samples, seed):
        """Standard normal latents, NumPy, from a NumPy seed."""
        return (
            np.random.default_rng(seed)
            .standard_normal((num_samples, self.dim))
            .astype(self.dtype.as_numpy_dtype)
        )

    def refined_moments(self, step_size, entropy_weight, num_steps):
        """Exact mean and standard deviation after DGflow-KL in data space.

        Args:
            step_size: `eta`.
            entropy_weight: `gamma`.
            num_steps: `K`.

        Returns:
            `(mean, std)`, each a `[dim]` float64 array.
        """
        a = 1.0 / self.model_std**2 - 1.0 / self.data_std**2
        c = self.data_mean / self.data_std**2 - self.model_mean / self.model_std**2
        contraction = 1.0 + step_size * a
        mean = self.model_mean.copy()
        variance = self.model_std**2
        for _ in range(num_steps):
            mean = contraction * mean + step_size * c
            variance = contraction**2 * variance + 2.0 * entropy_weight * step_size
        return mean, np.sqrt(variance)


def gaussian_kl(mean, std, target_mean, target_std):
    """KL(N(mean, diag std^2) || N(target_mean, diag target_std^2)), summed over dimensions."""
    mean, std, target_mean, target_std = map(np.asarray, (mean, std, target_mean, target_std))
    ratio = (std / target_std) ** 2
    return float(np.sum(0.5 * (ratio + ((mean - target_mean) / target_std) ** 2 - 1.0 - np.log(ratio))))
