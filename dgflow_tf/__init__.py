"""dgflow_tf: refine the samples of trained generative models with their critics.

DGflow (Ansari, Ang and Soh, ICLR 2021) improves every sample of a generator
with a few noisy gradient steps along the flow of an f-divergence whose
density ratio a discriminator already knows.

The public names below are imported on first use, so `import dgflow_tf` and
the `dgflow-tf` command line start without loading TensorFlow until they
need it.
"""

import importlib

__version__ = "0.2.0"

_NAMES = {
    "LogitCritic": "dgflow_tf.critics",
    "ProbabilityCritic": "dgflow_tf.critics",
    "SumCritic": "dgflow_tf.critics",
    "WassersteinCritic": "dgflow_tf.critics",
    "train_corrector": "dgflow_tf.corrector",
    "ModelFileError": "dgflow_tf.errors",
    "WorkerLostError": "dgflow_tf.errors",
    "NonFiniteRefinementError": "dgflow_tf.errors",
    "NonFiniteRefinementWarning": "dgflow_tf.errors",
    "RefinementModel": "dgflow_tf.refinement",
    "RefinementResult": "dgflow_tf.results",
    "RefinementConfig": "dgflow_tf.config",
    "drift": "dgflow_tf.engine",
    "simulate": "dgflow_tf.engine",
}
_SUBMODULES = ("adapters", "critics", "divergences", "noise", "priors", "tuning")

__all__ = sorted([*_NAMES, *_SUBMODULES])


def __getattr__(name):
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"dgflow_tf.{name}")
    else:
        raise AttributeError(f"module 'dgflow_tf' has no attribute {name!r}")
    globals()[name] = value  # resolve once
    return value


def __dir__():
    return sorted([*globals(), *__all__])
