"""MH-GAN: independence Metropolis-Hastings with GAN proposals (Turner et al., ICML 2019).

Metropolis-Hastings GAN (https://arxiv.org/abs/1811.11357) runs one chain per
output sample. Proposals `x'` come from the generator, independently of the
current state `x`; with a calibrated discriminator `D = sigmoid(d)` the
density ratio is `mu / rho = D / (1 - D) = exp(d)`, and `x'` replaces `x`
with probability

    min(1, (1/D(x) - 1) / (1/D(x') - 1)) = min(1, exp(d(x') - d(x)))

Calibration fits `d_cal = a * d + b` by logistic regression on held-out real
(label 1) and generated (label 0) logits (scikit-learn). As in the paper, a
chain may start at a real sample to skip burn-in; a chain that never
accepts a proposal returns its first proposal, so real data is never
returned.
"""

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from dgflow_tf._validation import check_positive_int
from dgflow_tf.baselines._common import Baseline, BaselineResult
from dgflow_tf.runner import batch_spec


def fit_logit_calibration(real_values, fake_values):
    """Logistic regression of real (1) against generated (0) on critic values: `(slope, intercept)`.

    `slope * d + intercept` is then a calibrated logit, `log(mu / rho)` as
    well as one affine map of `d` can give it (Turner et al.'s calibration;
    it also turns a WGAN critic's scores into logits).

    Args:
        real_values: `[m]` (or `[m, 1]`) critic values of held-out real samples.
        fake_values: `[k]` (or `[k, 1]`) critic values of generated samples.

    Returns:
        A tuple of floats `(slope, intercept)`.
    """
    from sklearn.linear_model import LogisticRegression

    real_values = np.asarray(real_values, np.float64).reshape(-1)
    fake_values = np.asarray(fake_values, np.float64).reshape(-1)
    values = np.concatenate([real_values, fake_values])[:, None]
    labels = np.concatenate([np.ones(len(real_values)), np.zeros(len(fake_values))])
    # C=inf: plain maximum likelihood, no shrinkage of the slope.
    regression = LogisticRegression(C=np.inf).fit(values, labels)
    return float(regression.coef_[0, 0]), float(regression.intercept_[0])


class MHGAN(Baseline):
    """Independence Metropolis-Hastings over generator proposals.

    Args:
        generator: callable from latents to samples.
        critic: callable from samples to logits `d(x)`, read as
            `log(mu / rho)` (see `RefinementModel`).
        chain_length: proposals per chain, `K`. Defaults to `640`, the
            paper's.
        seed: `None` or an int; keys proposals and acceptance draws.
            Defaults to `None`.
        latent_shape: per-sample latent shape. Defaults to the generator's.
        batch_size: samples per compiled batch. Defaults to `1024`.

    Without `calibrate`, the critic's logits are used as they are (exact
    when they are the true log density ratio).

    Examples:
        >>> import numpy as np
        >>> critic = lambda x: -tf.reduce_sum(x**2, axis=-1)
        >>> mh = MHGAN(lambda z: z, critic, latent_shape=(2,), chain_length=10, seed=0)
        >>> mh.refine(np.zeros((8, 2), "float32")).samples.shape
        (8, 2)
    """

    _salt = "mhgan"

    def __init__(
        self,
        generator: Callable,
        critic: Callable,
        *,
        chain_length: int = 640,
        seed: int | None = None,
        latent_shape: tuple[int, ...] | None = None,
        batch_size: int = 1024,
    ):
        if generator is None:
            raise ValueError("`generator` is required: MH-GAN draws its proposals from it.")
        super().__init__(generator, critic, seed=seed, latent_shape=latent_shape, batch_size=batch_size)
        self.chain_length = check_positive_int(chain_length, "chain_length")
        self.calibration = (1.0, 0.0)
        self.calibration_evaluations = 0

    def calibrate(self, real_samples: np.ndarray, latents: np.ndarray) -> "MHGAN":
        """Fits `d_cal = a * d + b` by logistic regression; returns `self`.

        Args:
            real_samples: `[m, ...]` held-out real samples (label 1).
            latents: `[k, ...]` latents whose samples are labelled 0.

        Raises:
            ValueError: for bad inputs, or no rows in either: logistic
                regression needs both labels.
        """
        real = self._as_samples(real_samples, "real_samples")
        latents = self._as_input(latents, "latents")
        for name, rows in (("real_samples", real), ("latents", latents)):
            if rows.shape[0] == 0:
                raise ValueError(f"`{name}` holds no samples; the calibration needs some of both kinds.")
        real_logits = self._batched(self._function("critic", self.critic, batch_spec(real)), real)
        _, fake_logits = self.generate_and_score(latents)
        self.calibration = fit_logit_calibration(real_logits, fake_logits)
        self.calibration_evaluations = len(fake_logits)
        return self

    def calibrated_logits(self, logits):
        slope, intercept = self.calibration
        return slope * np.asarray(logits, np.float64) + intercept

    def refine(
        self, x: np.ndarray, seed: int | None = None, initial_samples: np.ndarray | None = None
    ) -> BaselineResult:
        """Runs `len(x)` chains of `chain_length` proposals; returns each chain's final state.

        Chain `i`'s first proposal is `g(x[i])`; the rest are prior latents
        keyed by `(seed, i)`.

        Args:
            x: `[n, ...]` latents, one chain each.
            seed: overrides the instance seed.
            initial_samples: optional `[n, ...]` real samples the chains
                start from (the paper's burn-in-free start).

        Returns:
            A `BaselineResult`; `info` holds the acceptance rate and the
            number of chains that never accepted.
        """
        latents = self._as_input(x, "z").numpy()
        n, k = len(latents), self.chain_length
        proposal_seed, accept_seed = self._seed(seed, "proposals"), self._seed(seed, "accept")
        if initial_samples is not None:
            initial = self._as_samples(initial_samples, "initial_samples")
            if initial.shape[0] != n:
                raise ValueError(
                    f"`initial_samples` must hold one sample per chain ({n}). Received: {initial.shape[0]}"
                )
            critic = self._function("critic", self.critic, batch_spec(initial))
            current = self.calibrated_logits(self._batched(critic, initial))
            chosen = np.full(n, -1)
        else:
            current = np.full(n, -np.inf)  # the first proposal is always accepted
            chosen = np.zeros(n, np.int64)
        accepted = 0
        final_latents = np.empty_like(latents)
        never = np.zeros(n, bool)
        # Chains run in groups so that one group's proposals fit in memory.
        group = max(1, self.batch_size * 64 // k)
        for start in range(0, n, group):
            chains = slice(start, min(start + group, n))
            proposals = [latents[chains, None]]
            if k > 1:
                # Chain i's other proposals: k - 1 latents keyed by (seed, i).
                proposals.append(
                    self.prior_latents(
                        proposal_seed, np.arange(n)[chains], k - 1, dtype=tf.as_dtype(latents.dtype)
                    )
                )
            proposals = np.concatenate(proposals, axis=1)
            size = len(proposals)
            _, logits = self.generate_and_score(proposals.reshape(size * k, *latents.shape[1:]))
            logits = self.calibrated_logits(logits).reshape(size, k)
            uniforms = self.uniforms(accept_seed, np.arange(n)[chains], num_draws=k)
            state, index = current[chains], chosen[chains]
            for step in range(k):
                accept = np.log(uniforms[:, step]) < logits[:, step] - state
                state = np.where(accept, logits[:, step], state)
                index = np.where(accept, step, index)
                accepted += int(np.sum(accept))
            never[chains] = index < 0
            final_latents[chains] = proposals[np.arange(size), np.maximum(index, 0)]
        samples, _ = self.generate_and_score(final_latents)
        return BaselineResult(
            samples=samples,
            states=final_latents,
            generator_evaluations=float(k + 1),
            critic_evaluations=float(k),
            info={
                "acceptance_rate": accepted / (n * k),
                "chains_never_accepted": int(np.sum(never)),
                "calibration": self.calibration,
                "calibration_evaluations": self.calibration_evaluations,
            },
        )
