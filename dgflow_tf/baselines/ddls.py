"""DDLS: Langevin dynamics on the latent energy of a GAN (Che et al., NeurIPS 2020).

Discriminator Driven Latent Sampling (https://arxiv.org/abs/2003.06060)
samples `p(z) ∝ p0(z) exp(d(g(z)))`, the latent distribution whose push-forward
corrects the generator with the discriminator's density ratio, with
unadjusted Langevin dynamics on the energy `E(z) = -log p0(z) - d(g(z))`:

    z <- z - (step_size / 2) * grad E(z) + sqrt(step_size) * xi,   xi ~ N(0, I)

With a standard normal prior this is the DGflow-KL step with step size
`step_size / 2`, entropy weight `1` and an extra `-z` pull toward the prior,
so `DDLS` is a `RefinementModel` with a log prior added to its drift.
"""

from collections.abc import Callable
from typing import Any, Literal

import keras
import tensorflow as tf

from dgflow_tf._validation import check_positive_float
from dgflow_tf.refinement import RefinementModel


def standard_normal_log_prob(latents):
    """`log N(z; 0, I)` up to a constant: `-||z||^2 / 2` per sample."""
    axes = list(range(1, latents.shape.rank))
    return -0.5 * tf.reduce_sum(tf.square(latents), axis=axes)


@keras.saving.register_keras_serializable(package="dgflow_tf")
class DDLS(RefinementModel):
    """Discriminator Driven Latent Sampling with a standard normal prior.

    Same interface, seeds and outputs as `RefinementModel` (`predict`,
    `refine`, `evaluations_per_sample`); only the update differs (see the
    module docstring).

    Args:
        generator: callable from latents to samples.
        critic: callable from samples to logits `d(x)` (see
            `RefinementModel`).
        step_size: positive float, the Langevin step `epsilon` of Che et al.
            Defaults to `0.01`.
        num_steps: integer >= 0. Defaults to `25`, DGflow's default, so the
            two spend equal evaluations.
        seed: `None` or an int. Defaults to `None`.
        latent_shape: per-sample latent shape. Defaults to the generator's.
        jit_compile: as in `RefinementModel`. Defaults to `"auto"`.
        **kwargs: standard `keras.Model` arguments.

    Examples:
        >>> import numpy as np
        >>> ddls = DDLS(lambda z: z, lambda x: tf.zeros(tf.shape(x)[:1]), latent_shape=(2,), seed=0)
        >>> ddls.predict(np.zeros((4, 2), "float32"), verbose=0).shape
        (4, 2)
    """

    def __init__(
        self,
        generator: Callable,
        critic: Callable,
        *,
        step_size: float = 0.01,
        num_steps: int = 25,
        seed: int | None = None,
        latent_shape: tuple[int, ...] | None = None,
        jit_compile: bool | Literal["auto"] = "auto",
        **kwargs: Any,
    ):
        langevin_step = check_positive_float(step_size, "step_size")
        super().__init__(
            generator,
            critic,
            divergence="KL",
            step_size=langevin_step / 2.0,
            entropy_weight=1.0,
            num_steps=num_steps,
            space="latent",
            seed=seed,
            latent_shape=latent_shape,
            jit_compile=jit_compile,
            **kwargs,
        )
        self.langevin_step_size = langevin_step
        self.log_prior = standard_normal_log_prob

    def get_config(self):
        config = super().get_config()
        # DDLS's prior is fixed: the standard normal whose log density it adds.
        for key in ("divergence", "entropy_weight", "space", "latent_prior", "boundary"):
            config.pop(key)
        config["step_size"] = self.langevin_step_size
        return config
