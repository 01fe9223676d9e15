# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # DGflow quick start: refining a 2-D GAN
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dgflow-tf/dgflow_tf/blob/main/notebooks/01_quickstart_2d.ipynb)
#
# A GAN trained on a mixture of 25 Gaussians puts many samples between the
# modes. DGflow moves every sample along the gradient flow of the KL
# divergence to the data, using the density ratio the discriminator already
# knows, with a few noisy gradient steps. The GAN's weights ship with the
# package, so this notebook runs offline.

# %%
import os
import subprocess
import sys

if "google.colab" in sys.modules:  # install the library on Colab; elsewhere it is already installed
    subprocess.check_call(
        [sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/dgflow-tf/dgflow_tf"]
    )

# Small sizes when the notebook runs as a CI smoke test.
SMOKE = os.environ.get("DGFLOW_TF_NOTEBOOK_SMOKE") == "1"
NUM_SAMPLES = 500 if SMOKE else 5000

# %%
import numpy as np

from dgflow_tf import RefinementModel, datasets, plotting
from dgflow_tf.experiments import synthetic
from dgflow_tf.zoo import toy_gans

generator, discriminator = toy_gans.load_toy_gan("25gaussians")

# %% [markdown]
# The refinement model wraps the generator and the discriminator (whose logit
# is the log density ratio). Here the samples themselves are refined
# (`space="data"`), with the settings of the synthetic benchmark.

# %%
model = RefinementModel(generator, discriminator, seed=0, **synthetic.DGFLOW_SETTINGS)
latents = np.random.default_rng(0).standard_normal((NUM_SAMPLES, 2)).astype("float32")
result = model.refine(latents, trajectory_every=5)
base = result.sample_trajectory[0]
refined = result.samples

# %%
reference = datasets.load("25gaussians", NUM_SAMPLES, seed=1)
for name, samples in (("base", base), ("DGflow", refined)):
    metrics = synthetic.evaluate(samples, reference, "25gaussians")
    print(name, {key: round(float(value), 3) for key, value in metrics.items()})

# %%
path = plotting.scatter_grid(
    {"base": base, "DGflow": refined}, "quickstart.png", reference=reference, limits=(-5, 5)
)
from IPython.display import Image

Image(path)

# %% [markdown]
# `result.critic_trajectory` holds the discriminator's value of every sample
# every 5 steps: its mean rises as the samples move toward the data.

# %%
print(
    dict(
        zip(
            result.trajectory_steps.tolist(),
            result.critic_trajectory.mean(axis=1).round(3).tolist(),
            strict=True,
        )
    )
)
