"""f-divergences and the drift scale each one gives DGflow.

DGflow simulates the gradient flow of `D_f(rho || mu) = E_mu[f(rho / mu)]`.
With the density ratio `r(x) = rho(x) / mu(x) = exp(-d(x))` read off a
critic's logit `d`, the drift of the flow is

    -grad_x f'(r(x)) = r f''(r) * grad_x d(x) = s(d(x)) * grad_x d(x)

so a divergence enters the update only through the scalar drift scale
`s(d) = r f''(r)` evaluated at `r = exp(-d)`:

| name   | f(r)                                   | s(d)             |
|--------|----------------------------------------|------------------|
| KL     | r log r                                | 1                |
| JS     | r log r - (1 + r) log((1 + r) / 2)     | sigmoid(d)       |
| logD   | (1 + r) log(1 + r) - 2 log 2           | sigmoid(-d)      |
| chi2   | (r - 1)^2   (Pearson)                  | 2 exp(-d)        |

Any other convex `f` with `f(1) = 0` can be passed as a Python function;
`s` is then computed by automatic differentiation.

Reference: Ansari, Ang and Soh, "Refining Deep Generative Models via
Discriminator Gradient Flow", ICLR 2021, https://arxiv.org/abs/2012.00780.
"""

import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from dgflow_tf.config import DIVERGENCES


class Divergence:
    """Base class: an f-divergence, seen by DGflow through its drift scale.

    Subclasses implement `f(ratio)` (used for documentation, checks and
    custom divergences) and `drift_scale(logits)`.
    """

    name = None

    def f(self, ratio):
        """The generator function `f(r)` of the divergence."""
        raise NotImplementedError

    def drift_scale(self, logits):
        """Returns `s(d) = r f''(r)` at `r = exp(-d)`, elementwise.

        Args:
            logits: tensor of critic values `d(x) = log(mu(x) / rho(x))`.

        Returns:
            A tensor of the same shape and dtype as `logits`.
        """
        raise NotImplementedError

    def potential(self, logits):
        """Returns `phi(d) = -f'(exp(-d))`, whose derivative is `s(d)`, elementwise.

        The drift `s(d) * grad d` is the gradient of `phi(d)`, so the latent
        flow is Langevin dynamics on the log density `phi(d(g(z))) / gamma`;
        the MALA solver (`dgflow_tf.solvers`) tests its steps against it.
        Defaults to `f'` by automatic differentiation; built-in divergences
        write it in closed form.
        """
        ratio = tf.math.exp(-logits)
        with tf.GradientTape() as tape:
            tape.watch(ratio)
            value = self.f(ratio)
        return -tape.gradient(value, ratio)

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}()"


class KL(Divergence):
    """Kullback-Leibler divergence, `f(r) = r log r`; `s(d) = 1`."""

    name = "KL"

    def f(self, ratio):
        return tf.math.xlogy(ratio, ratio)

    def drift_scale(self, logits):
        return tf.ones_like(logits)

    def potential(self, logits):
        return logits - 1.0


class JS(Divergence):
    """Jensen-Shannon divergence; `s(d) = sigmoid(d)`."""

    name = "JS"

    def f(self, ratio):
        one = tf.ones_like(ratio)
        return tf.math.xlogy(ratio, ratio) - (one + ratio) * tf.math.log((one + ratio) / 2.0)

    def drift_scale(self, logits):
        return tf.math.sigmoid(logits)

    def potential(self, logits):
        return tf.math.softplus(logits) - math.log(2.0)


class LogD(Divergence):
    """The "log D" divergence of the non-saturating GAN loss; `s(d) = sigmoid(-d)`."""

    name = "logD"

    def f(self, ratio):
        one = tf.ones_like(ratio)
        return (one + ratio) * tf.math.log1p(ratio) - 2.0 * math.log(2.0)

    def drift_scale(self, logits):
        return tf.math.sigmoid(-logits)

    def potential(self, logits):
        return -tf.math.softplus(-logits) - 1.0


class PearsonChi2(Divergence):
    """Pearson chi-squared divergence, `f(r) = (r - 1)^2`; `s(d) = 2 exp(-d)`."""

    name = "chi2"

    def f(self, ratio):
        return tf.math.square(ratio - 1.0)

    def drift_scale(self, logits):
        return 2.0 * tf.math.exp(-logits)

    def potential(self, logits):
        return 2.0 - 2.0 * tf.math.exp(-logits)


class FDivergence(Divergence):
    """An f-divergence from any convex `f` with `f(1) = 0`.

    The drift scale `s(d) = r f''(r)` is computed with two nested gradient
    tapes at `r = exp(-d)`, in the dtype of the logits.

    Args:
        f: a function of one tensor `r > 0`, built from TensorFlow ops, that
            is convex and satisfies `f(1) = 0`.
        name: a name for configs and reprs. Defaults to `f.__name__`.

    Raises:
        TypeError: if `f` is not callable.
        ValueError: if `f(1) != 0`, or `f''` is negative or not finite on a
            grid of `r` between 1e-3 and 1e3 (so `f` is not convex there).

    Examples:
        >>> hellinger = FDivergence(lambda r: (tf.sqrt(r) - 1.0) ** 2, name="hellinger")
        >>> float(hellinger.drift_scale(tf.constant(0.0)))  # 0.5 / sqrt(r) at r = 1
        0.5
    """

    def __init__(self, f, name=None):
        if not callable(f):
            raise TypeError(f"`f` must be a callable f(r). Received: f={f!r} of type {type(f).__name__}")
        self._f = f
        self.name = name or getattr(f, "__name__", "custom")
        self._check()

    def f(self, ratio):
        return self._f(ratio)

    def _second_derivative(self, ratio):
        with tf.GradientTape() as outer:
            outer.watch(ratio)
            with tf.GradientTape() as inner:
                inner.watch(ratio)
                value = self._f(ratio)
            first = inner.gradient(value, ratio)
            if first is None:
                raise ValueError(
                    f"The divergence function `f` ({self.name}) does not depend on its "
                    "argument through differentiable TensorFlow ops, so f''(r) is undefined. "
                    "Write `f` with tf.math operations."
                )
        second = outer.gradient(first, ratio)
        if second is None:
            # f is affine: f'' is identically zero.
            second = tf.zeros_like(ratio)
        return second

    def drift_scale(self, logits):
        ratio = tf.math.exp(-logits)
        return ratio * self._second_derivative(ratio)

    def _check(self):
        at_one = float(self._f(tf.constant(1.0, tf.float64)))
        if not abs(at_one) <= 1e-6:
            raise ValueError(
                f"`f` must satisfy f(1) = 0 to define an f-divergence. Received: f(1) = {at_one!r} "
                f"for f={self.name}. Subtract f(1) from your function."
            )
        grid = tf.constant(np.logspace(-3.0, 3.0, 25), tf.float64)
        curvature = self._second_derivative(grid).numpy()
        if not np.all(np.isfinite(curvature)) or np.any(curvature < -1e-12):
            raise ValueError(
                f"`f` must be convex, with finite f''(r) >= 0 for r > 0. f={self.name} has "
                f"f''(r) = {curvature.min():.3g} at r = {float(grid[np.argmin(curvature)]):.3g}."
            )

    def get_config(self):
        return {"name": self.name, "f": self._f}

    def __repr__(self):
        return f"FDivergence(name={self.name!r})"


_BUILTINS = {cls.name: cls for cls in (KL, JS, LogD, PearsonChi2)}
#: The built-in divergences' names (`config.DIVERGENCES`, the CLI's choices).
NAMES = DIVERGENCES
_ALIASES = {"kl": "KL", "js": "JS", "logd": "logD", "chi2": "chi2", "pearson": "chi2"}


def get(identifier: str | Callable | Divergence) -> Divergence:
    """Resolves a divergence from a name, a config, a function or an instance.

    Args:
        identifier: one of
            - `None`: the KL divergence (the paper's default);
            - a name: `"KL"`, `"JS"`, `"logD"` or `"chi2"` (case-insensitive;
              `"pearson"` is an alias of `"chi2"`);
            - a dict from `Divergence.get_config()`;
            - a callable `f(r)`: wrapped in `FDivergence`;
            - a `Divergence` instance: returned as is.

    Returns:
        A `Divergence`.

    Raises:
        ValueError: for an unknown name, listing the known ones.
        TypeError: for any other kind of identifier.

    Examples:
        >>> get("js").name
        'JS'
    """
    if identifier is None:
        return KL()
    if isinstance(identifier, Divergence):
        return identifier
    if isinstance(identifier, dict):
        if callable(identifier.get("f")):
            return FDivergence(identifier["f"], name=identifier.get("name"))
        return get(identifier.get("name"))
    if isinstance(identifier, str):
        canonical = _ALIASES.get(identifier.lower())
        if canonical is None:
            raise ValueError(
                f"Unknown divergence {identifier!r}. Expected one of: {sorted(_BUILTINS)}, "
                "or a convex function f(r) with f(1) = 0."
            )
        return _BUILTINS[canonical]()
    if callable(identifier):
        return FDivergence(identifier)
    raise TypeError(
        "`divergence` must be a name, a config dict, a function f(r) or a Divergence. "
        f"Received: divergence={identifier!r} of type {type(identifier).__name__}"
    )


def serialize(divergence):
    """Returns a JSON-friendly identifier for builtins, the config otherwise."""
    divergence = get(divergence)
    if isinstance(divergence, tuple(_BUILTINS.values())):
        return divergence.name
    return divergence.get_config()
