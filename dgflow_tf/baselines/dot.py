"""DOT: discriminator optimal transport (Tanaka, NeurIPS 2019).

Discriminator Optimal Transport (https://arxiv.org/abs/1910.06832) moves each
sample `y` to the solution of a per-sample transport problem whose potential
is the critic. In latent space, for each `z_y`:

    z* = argmin_z  sqrt(||z - z_y||^2 + delta^2) - d(g(z)) / k_eff

solved by Adam (learning rate 0.01, beta_1 = 0, beta_2 = 0.9) for a fixed
number of steps from `z = z_y`, where

    k_eff = max over random pairs |d(g(z1)) - d(g(z2))| / ||z1 - z2||

estimates the critic's Lipschitz constant in `z`. In data space the same
problem is solved over `x` with `K_eff` from pairs of samples.

`delta` keeps the cost differentiable at `z = z_y`. Tanaka writes the cost
as `||z - z_y + delta||`; the smoothed norm used here has the same scale
(`delta = 0.001`) but a zero gradient at `z_y`, so a constant critic leaves
every sample exactly where it is.
"""

from collections.abc import Callable
from typing import Literal

import numpy as np
import tensorflow as tf

from dgflow_tf._validation import (
    check_non_negative_float,
    check_non_negative_int,
    check_positive_float,
    check_positive_int,
)
from dgflow_tf.baselines._common import Baseline, BaselineResult
from dgflow_tf.runner import batch_spec

SPACES = ("latent", "data")


def _flat_norm(tensor):
    return tf.sqrt(tf.reduce_sum(tf.square(tf.reshape(tensor, [tf.shape(tensor)[0], -1])), axis=1))


class DOT(Baseline):
    """Discriminator optimal transport in latent or data space.

    Args:
        generator: callable from latents to samples; `None` to refine
            samples directly (`space="data"`).
        critic: callable from samples to `d(x)` (see `RefinementModel`).
        space: `"latent"` (Tanaka's latent-space DOT) or `"data"`.
            Defaults to `"latent"`.
        num_steps: Adam steps, integer >= 0. Defaults to `25`, DGflow's
            default, so the two spend equal evaluations.
        learning_rate: positive float. Defaults to `0.01`.
        beta_1: Adam's first-moment decay in [0, 1). Defaults to `0.0`.
        beta_2: Adam's second-moment decay in [0, 1). Defaults to `0.9`.
        epsilon: Adam's denominator offset. Defaults to `1e-8`.
        delta: the cost's smoothing, >= 0. Defaults to `0.001`.
        k_eff: the transport cost's scale; `None` estimates it from
            `num_pairs` random pairs of the inputs. Defaults to `None`.
        num_pairs: pairs for the `k_eff` estimate. Defaults to `100`.
        seed: `None` or an int; picks the pairs. Defaults to `None`.
        latent_shape: per-sample input shape. Defaults to the generator's.
        batch_size: samples per compiled batch. Defaults to `1024`.

    Examples:
        >>> import numpy as np
        >>> dot = DOT(lambda z: z, lambda x: -tf.reduce_sum(x**2, axis=-1), latent_shape=(2,), seed=0)
        >>> dot.refine(np.random.default_rng(0).normal(size=(8, 2)).astype("float32")).samples.shape
        (8, 2)
    """

    _salt = "dot"

    def __init__(
        self,
        generator: Callable | None,
        critic: Callable,
        *,
        space: Literal["latent", "data"] = "latent",
        num_steps: int = 25,
        learning_rate: float = 0.01,
        beta_1: float = 0.0,
        beta_2: float = 0.9,
        epsilon: float = 1e-8,
        delta: float = 0.001,
        k_eff: float | None = None,
        num_pairs: int = 100,
        seed: int | None = None,
        latent_shape: tuple[int, ...] | None = None,
        batch_size: int = 1024,
    ):
        if space not in SPACES:
            raise ValueError(f"Unknown space {space!r}. Expected one of: {list(SPACES)}")
        if space == "latent" and generator is None:
            raise ValueError("`generator` is required with space='latent'. Received: generator=None.")
        super().__init__(generator, critic, seed=seed, latent_shape=latent_shape, batch_size=batch_size)
        self.space = space
        self.num_steps = check_non_negative_int(num_steps, "num_steps")
        self.learning_rate = check_positive_float(learning_rate, "learning_rate")
        for name, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= check_non_negative_float(value, name) < 1.0:
                raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon = check_positive_float(epsilon, "epsilon")
        self.delta = check_non_negative_float(delta, "delta")
        self.k_eff = None if k_eff is None else check_non_negative_float(k_eff, "k_eff")
        self.num_pairs = check_positive_int(num_pairs, "num_pairs")

    def _state_generator(self):
        """The map from optimised states to samples: `g` in latent space, identity in data space."""
        return self._generate if self.space == "latent" else (lambda x: x)

    def estimate_k_eff(self, states, seed=None):
        """`max |d(G(s1)) - d(G(s2))| / ||s1 - s2||` over `num_pairs` random pairs of `states`.

        Args:
            states: `[n, ...]` states (latents, or samples in data space), n >= 2.
            seed: overrides the instance seed.

        Returns:
            A float >= 0.
        """
        states = np.asarray(states)
        if len(states) < 2:
            raise ValueError(f"Estimating `k_eff` needs at least 2 inputs. Received: {len(states)}")
        draws = self.uniforms(self._seed(seed, "pairs"), np.arange(self.num_pairs), num_draws=2)
        first = np.minimum((draws[:, 0] * len(states)).astype(np.int64), len(states) - 1)
        # The second index is drawn from the other n - 1 states, so pairs are distinct.
        second = np.minimum((draws[:, 1] * (len(states) - 1)).astype(np.int64), len(states) - 2)
        second = second + (second >= first)
        generate = self._state_generator()
        pairs = tf.convert_to_tensor(np.concatenate([states[first], states[second]]))
        score = self._function(
            ("pair_logits", self.space), lambda s: self.critic(generate(s)), batch_spec(pairs)
        )
        logits = self._batched(score, pairs)
        logits = logits.astype(np.float64)
        differences = np.abs(logits[: self.num_pairs] - logits[self.num_pairs :])
        distances = np.linalg.norm((states[first] - states[second]).reshape(self.num_pairs, -1), axis=1)
        return float(np.max(differences / distances))

    def _optimise(self, targets, k_eff):
        generate = self._state_generator()
        dtype = targets.dtype
        lr, beta_1, beta_2 = (tf.constant(v, dtype) for v in (self.learning_rate, self.beta_1, self.beta_2))
        epsilon, delta_sq = tf.constant(self.epsilon, dtype), tf.constant(self.delta**2, dtype)
        k_eff = tf.cast(k_eff, dtype)

        def objective(states):
            cost = tf.sqrt(tf.square(_flat_norm(states - targets)) + delta_sq)
            # A constant critic has k_eff = 0: its term is then 0, not NaN.
            return cost - tf.math.divide_no_nan(self.critic(generate(states)), k_eff)

        def body(step, states, m, v):
            with tf.GradientTape() as tape:
                tape.watch(states)
                loss = tf.reduce_sum(objective(states))
            gradient = tape.gradient(loss, states)
            m = beta_1 * m + (1.0 - beta_1) * gradient
            v = beta_2 * v + (1.0 - beta_2) * tf.square(gradient)
            t = tf.cast(step + 1, dtype)
            m_hat = m / (1.0 - tf.pow(beta_1, t))
            v_hat = v / (1.0 - tf.pow(beta_2, t))
            return step + 1, states - lr * m_hat / (tf.sqrt(v_hat) + epsilon), m, v

        zeros = tf.zeros_like(targets)
        _, states, _, _ = tf.while_loop(
            lambda step, *_: step < self.num_steps,
            body,
            (tf.constant(0), targets, zeros, zeros),
            maximum_iterations=self.num_steps,
        )
        return generate(states), states

    def refine(self, x: np.ndarray, seed: int | None = None) -> BaselineResult:
        """Transports every input; returns a `BaselineResult` (`info["k_eff"]`).

        Args:
            x: `[n, ...]` latents (data-space samples if `generator` is
                `None`). With `space="data"` and a generator, latents whose
                samples are transported.
            seed: overrides the instance seed for the `k_eff` pairs.
        """
        name = "x" if self.generator is None else "z"
        inputs = self._as_input(x, name)
        if self.space == "data" and self.generator is not None:
            targets = self._batched(self._function("generate", self._generate, batch_spec(inputs)), inputs)
        else:
            targets = inputs.numpy()
        k_eff = self.k_eff
        pair_evaluations = 0
        if k_eff is None:
            k_eff = self.estimate_k_eff(targets, seed)
            pair_evaluations = 2 * self.num_pairs
        targets = tf.convert_to_tensor(targets)
        optimise = self._function(
            ("optimise", self.space), self._optimise, batch_spec(targets), tf.TensorSpec([], tf.float64)
        )
        samples, states = self._batched(lambda t: optimise(t, tf.constant(k_eff, tf.float64)), targets)
        n = len(targets)
        generator_passes = (
            0 if self.generator is None else (self.num_steps + 1 if self.space == "latent" else 1)
        )
        return BaselineResult(
            samples=samples,
            states=states,
            generator_evaluations=float(generator_passes),
            critic_evaluations=float(self.num_steps),
            info={"k_eff": k_eff, "pair_evaluations": pair_evaluations, "num_samples": n},
        )
