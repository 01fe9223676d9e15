"""Baselines DGflow is compared with, on the same generator/critic interface.

- `DOT`: discriminator optimal transport (Tanaka, 2019), latent or data space.
- `DDLS`: discriminator driven latent sampling (Che et al., 2020).
- `DRS`: discriminator rejection sampling (Azadi et al., 2019).
- `MHGAN`: Metropolis-Hastings GAN (Turner et al., 2019).

DOT and DDLS move every sample, as DGflow does; DRS and MH-GAN discard
proposals. Every result reports the generator and critic evaluations spent
per kept sample.
"""

from dgflow_tf.baselines._common import BaselineResult
from dgflow_tf.baselines.ddls import DDLS
from dgflow_tf.baselines.dot import DOT
from dgflow_tf.baselines.drs import DRS, drs_logit
from dgflow_tf.baselines.mh import MHGAN, fit_logit_calibration

__all__ = ["DDLS", "DOT", "DRS", "MHGAN", "BaselineResult", "drs_logit", "fit_logit_calibration"]
