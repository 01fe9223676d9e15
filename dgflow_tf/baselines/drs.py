"""DRS: discriminator rejection sampling (Azadi et al., ICLR 2019).

Discriminator Rejection Sampling (https://arxiv.org/abs/1810.06758) keeps a
generator sample `x` with probability `sigmoid(F(x))`, where

    F(x) = d(x) - D_M - log(1 - exp(d(x) - D_M - eps)) - gamma

`D_M` is the largest logit seen (set by a burn-in pass and raised whenever a
proposal exceeds it), `eps` keeps the logarithm finite at the maximum, and
`gamma` shifts the acceptance rate: here it is the `gamma_quantile`
quantile of `F + gamma` over the burn-in samples, so that the burn-in
sample at that quantile is kept with probability 1/2.
"""

import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from dgflow_tf._validation import check_positive_float, check_positive_int
from dgflow_tf.baselines._common import Baseline, BaselineResult


def _log1mexp(a):
    """`log(1 - exp(a))` for `a < 0`, accurate near 0."""
    return np.where(a > -np.log(2.0), np.log(-np.expm1(a)), np.log1p(-np.exp(a)))


def drs_logit(logits, max_logit, gamma=0.0, epsilon=1e-6):
    """`F(x)` of Azadi et al. from critic logits, in float64.

    Args:
        logits: array of `d(x)`, each at most `max_logit`.
        max_logit: `D_M`.
        gamma: the shift. Defaults to `0.0`.
        epsilon: positive float. Defaults to `1e-6`.

    Returns:
        Array of `F(x)`; the acceptance probability is `sigmoid(F(x))`.
    """
    logits = np.asarray(logits, np.float64)
    if np.any(logits > max_logit):
        raise ValueError(
            "`max_logit` must be at least every logit (it is the running maximum D_M). "
            f"Received: max_logit={max_logit}, largest logit {logits.max()}"
        )
    shifted = logits - max_logit
    return shifted - _log1mexp(shifted - epsilon) - gamma


def _sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


class DRS(Baseline):
    """Discriminator rejection sampling; call `fit` on burn-in latents first.

    Args:
        generator: callable from latents to samples.
        critic: callable from samples to logits `d(x)` (see `RefinementModel`).
        gamma_quantile: in (0, 1); sets `gamma` from the burn-in (see the
            module docstring). Defaults to `0.95`.
        gamma: a fixed shift instead of the quantile rule. `0` with the
            exact log ratio and a small `epsilon` is exact rejection sampling
            of the data law. Defaults to `None` (use `gamma_quantile`).
        epsilon: positive float. Defaults to `1e-6`.
        max_proposals_per_sample: refine raises if keeping `n` samples would
            take more than `n` times this many proposals. Defaults to `1000`.
        seed: `None` or an int; keys fresh proposals and the acceptance
            draws. Defaults to `None`.
        latent_shape: per-sample latent shape. Defaults to the generator's.
        batch_size: samples per compiled batch. Defaults to `1024`.

    Examples:
        >>> import numpy as np
        >>> drs = DRS(lambda z: z, lambda x: -tf.reduce_sum(x**2, axis=-1), latent_shape=(2,), seed=0)
        >>> drs = drs.fit(np.random.default_rng(0).normal(size=(1000, 2)).astype("float32"))
        >>> drs.refine(np.zeros((8, 2), "float32")).samples.shape
        (8, 2)
    """

    _salt = "drs"

    def __init__(
        self,
        generator: Callable,
        critic: Callable,
        *,
        gamma_quantile: float = 0.95,
        gamma: float | None = None,
        epsilon: float = 1e-6,
        max_proposals_per_sample: int = 1000,
        seed: int | None = None,
        latent_shape: tuple[int, ...] | None = None,
        batch_size: int = 1024,
    ):
        if generator is None:
            raise ValueError("`generator` is required: DRS draws fresh proposals from it.")
        super().__init__(generator, critic, seed=seed, latent_shape=latent_shape, batch_size=batch_size)
        if not 0.0 < check_positive_float(gamma_quantile, "gamma_quantile") < 1.0:
            raise ValueError(
                f"`gamma_quantile` must be in (0, 1). Received: gamma_quantile={gamma_quantile!r}"
            )
        self.gamma_quantile = float(gamma_quantile)
        if gamma is not None and not math.isfinite(float(gamma)):
            raise ValueError(f"`gamma` must be a finite number or None. Received: gamma={gamma!r}")
        self.fixed_gamma = None if gamma is None else float(gamma)
        self.epsilon = check_positive_float(epsilon, "epsilon")
        self.max_proposals_per_sample = check_positive_int(
            max_proposals_per_sample, "max_proposals_per_sample"
        )
        self.max_logit = None
        self.gamma = None
        self.burn_in_evaluations = 0

    def fit(self, latents: np.ndarray) -> "DRS":
        """Burn-in: sets `max_logit` (D_M) and `gamma` from the samples of `latents`. Returns `self`."""
        latents = self._as_input(latents, "latents")
        _, logits = self.generate_and_score(latents)
        logits = logits.astype(np.float64)
        self.max_logit = float(np.max(logits))
        if self.fixed_gamma is not None:
            self.gamma = self.fixed_gamma
        else:
            self.gamma = float(
                np.quantile(drs_logit(logits, self.max_logit, 0.0, self.epsilon), self.gamma_quantile)
            )
        self.burn_in_evaluations = len(logits)
        return self

    def acceptance_probability(self, logits, max_logit=None):
        """`sigmoid(F(x))` for logits `d(x)`, with `D_M` = `max_logit` (default: the fitted one)."""
        if self.gamma is None:
            raise ValueError("DRS is not calibrated: call `fit(burn_in_latents)` before sampling.")
        max_logit = self.max_logit if max_logit is None else max_logit
        return _sigmoid(drs_logit(logits, max_logit, self.gamma, self.epsilon))

    def refine(self, x: np.ndarray, seed: int | None = None) -> BaselineResult:
        """Keeps `len(x)` samples: first from the proposals `g(x)`, then from fresh prior latents.

        Rounds of `len(x)` proposals are drawn (round `r` keyed by positions
        `r * n + i`) until `n` are accepted; the first `n` accepted, in
        proposal order, are returned. `D_M` rises when a round exceeds it.

        Returns:
            A `BaselineResult`; `info` holds the acceptance rate, the
            proposals used and the final `D_M`.

        Raises:
            ValueError: before `fit`.
            RuntimeError: if more than `max_proposals_per_sample * n`
                proposals would be needed.
        """
        if self.gamma is None:
            raise ValueError("DRS is not calibrated: call `fit(burn_in_latents)` before `refine`.")
        latents = self._as_input(x, "z").numpy()
        n = len(latents)
        proposal_seed, accept_seed = self._seed(seed, "proposals"), self._seed(seed, "accept")
        max_logit = self.max_logit
        kept_latents, kept_samples, proposals, accepted, round_index = [], [], 0, 0, 0
        while sum(len(k) for k in kept_latents) < n:
            if proposals >= self.max_proposals_per_sample * n:
                raise RuntimeError(
                    f"DRS accepted {sum(len(k) for k in kept_latents)} of {proposals} proposals, short of "
                    f"{n}. Lower `gamma_quantile` or raise `max_proposals_per_sample`."
                )
            positions = np.arange(round_index * n, (round_index + 1) * n)
            if round_index > 0:
                latents = self.prior_latents(proposal_seed, positions, dtype=tf.as_dtype(latents.dtype))
            samples, logits = self.generate_and_score(latents)
            max_logit = max(max_logit, float(np.max(logits)))
            accept = self.uniforms(accept_seed, positions)[:, 0] < self.acceptance_probability(
                logits, max_logit
            )
            accepted += int(np.sum(accept))
            kept_latents.append(latents[accept])
            kept_samples.append(samples[accept])
            proposals += n
            round_index += 1
        kept_latents = np.concatenate(kept_latents)[:n]
        kept_samples = np.concatenate(kept_samples)[:n]
        per_sample = proposals / n
        return BaselineResult(
            samples=kept_samples,
            states=kept_latents,
            generator_evaluations=per_sample,
            critic_evaluations=per_sample,
            info={
                "acceptance_rate": accepted / proposals,
                "proposals": proposals,
                "max_logit": max_logit,
                "gamma": self.gamma,
                "burn_in_evaluations": self.burn_in_evaluations,
            },
        )
