"""An independent NumPy re-derivation of DGflow for the tests.

Generator g(z) = tanh(z W1 + b1) W2 + b2 and critic
d(x) = tanh(x U1 + c1) u2 + c2, with their gradients derived by hand, and the
update of the method document (`docs/method.md`, section 3) with the drift
scales of its table:

    z_{k+1} = z_k + eta * s(d(g(z_k))) * grad_z d(g(z_k)) + sqrt(2 gamma eta) * xi_k
"""

import numpy as np

DRIFT_SCALES = {
    "KL": lambda d: np.ones_like(d),
    "JS": lambda d: 1.0 / (1.0 + np.exp(-d)),
    "logD": lambda d: 1.0 / (1.0 + np.exp(d)),
    "chi2": lambda d: 2.0 * np.exp(-d),
}


class TanhMLPs:
    """Weights for a one-hidden-layer generator and critic, drawn from a seed."""

    def __init__(self, latent_dim=3, data_dim=2, hidden=5, seed=0):
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(0, 0.8, (latent_dim, hidden))
        self.b1 = rng.normal(0, 0.1, hidden)
        self.W2 = rng.normal(0, 0.8, (hidden, data_dim))
        self.b2 = rng.normal(0, 0.1, data_dim)
        self.U1 = rng.normal(0, 0.8, (data_dim, hidden))
        self.c1 = rng.normal(0, 0.1, hidden)
        self.u2 = rng.normal(0, 0.8, hidden)
        self.c2 = 0.3
        self.latent_dim, self.data_dim = latent_dim, data_dim

    def generator(self, z):
        return np.tanh(z @ self.W1 + self.b1) @ self.W2 + self.b2

    def critic(self, x):
        return np.tanh(x @ self.U1 + self.c1) @ self.u2 + self.c2

    def critic_grad(self, x):
        h = np.tanh(x @ self.U1 + self.c1)
        return ((1.0 - h**2) * self.u2) @ self.U1.T

    def latent_grad(self, z):
        a = np.tanh(z @ self.W1 + self.b1)
        grad_x = self.critic_grad(self.generator(z))
        return ((grad_x @ self.W2.T) * (1.0 - a**2)) @ self.W1.T

    def latent_drift(self, z, divergence):
        """`s(d(g(z))) * grad_z d(g(z))`."""
        return DRIFT_SCALES[divergence](self.critic(self.generator(z)))[:, None] * self.latent_grad(z)

    def refine_latent(self, z, divergence, step_size, num_steps, entropy_weight=0.0, noise=None):
        """Algorithm 1; `noise` is `[batch, num_steps, latent_dim]` standard normals (or None).

        `step_size` is one float, or a sequence of each step's size (a step schedule)."""
        sizes = np.broadcast_to(np.asarray(step_size, np.float64), [num_steps])
        for k in range(num_steps):
            z = z + sizes[k] * self.latent_drift(z, divergence)
            if noise is not None:
                z = z + np.sqrt(2.0 * entropy_weight * sizes[k]) * noise[:, k]
        return self.generator(z), z

    def refine_data(self, x, divergence, step_size, num_steps):
        for _ in range(num_steps):
            d = self.critic(x)
            x = x + step_size * DRIFT_SCALES[divergence](d)[:, None] * self.critic_grad(x)
        return x

    def keras_models(self, dtype="float64"):
        """The same networks as Keras 3 models with these weights."""
        import keras

        generator = keras.Sequential(
            [
                keras.Input((self.latent_dim,), dtype=dtype),
                keras.layers.Dense(len(self.b1), activation="tanh", dtype=dtype),
                keras.layers.Dense(self.data_dim, dtype=dtype),
            ]
        )
        generator.set_weights([self.W1, self.b1, self.W2, self.b2])
        critic = keras.Sequential(
            [
                keras.Input((self.data_dim,), dtype=dtype),
                keras.layers.Dense(len(self.c1), activation="tanh", dtype=dtype),
                keras.layers.Dense(1, dtype=dtype),
            ]
        )
        critic.set_weights([self.U1, self.c1, self.u2[:, None], np.array([self.c2])])
        return generator, critic
