"""dgflow_tf: refine the samples of trained generative models with their critics.

DGflow (Ansari, Ang and Soh, ICLR 2021) improves every sample of a generator
with a few noisy gradient steps along the flow of an f-divergence whose
density ratio a discriminator already knows.
"""

from dgflow_tf import adapters, critics, divergences, noise, priors
from dgflow_tf.corrector import train_corrector
from dgflow_tf.critics import LogitCritic, ProbabilityCritic, SumCritic, WassersteinCritic
from dgflow_tf.errors import NonFiniteRefinementError, NonFiniteRefinementWarning
from dgflow_tf.refinement import RefinementModel, RefinementResult, drift, simulate

__version__ = "0.1.0"

__all__ = [
    "LogitCritic",
    "NonFiniteRefinementError",
    "NonFiniteRefinementWarning",
    "ProbabilityCritic",
    "RefinementModel",
    "RefinementResult",
    "SumCritic",
    "WassersteinCritic",
    "adapters",
    "critics",
    "divergences",
    "drift",
    "noise",
    "priors",
    "simulate",
    "train_corrector",
]
