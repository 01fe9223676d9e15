# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Refining a GAN's images with its discriminator
#
# A conv DCGAN trained on MNIST's 60,000 training images (its seed-0 weights
# ship with the package) is refined in latent space with DGflow-KL, first
# with every default, then after one call of `calibrate` on training images.
# FID is measured every 5 steps against MNIST's 10,000 held-out test images,
# in the features of an MNIST classifier that also ships with the package
# (with the test set's statistics, so scoring needs no data).

# %%
import os
import subprocess
import sys

# Where Colab installs the library from: a wheel you uploaded, or the address
# `python notebooks/publish.py` writes here once the project is published.
DGFLOW_TF_SOURCE = "dgflow_tf"
if "google.colab" in sys.modules:  # elsewhere the library is already installed
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", DGFLOW_TF_SOURCE])

SMOKE = os.environ.get("DGFLOW_TF_NOTEBOOK_SMOKE") == "1"
NUM_SAMPLES = 200 if SMOKE else 2000

# %%
import numpy as np

from dgflow_tf import RefinementModel, datasets, plotting
from dgflow_tf.metrics import images as image_metrics
from dgflow_tf.metrics.mnist import mnist_features
from dgflow_tf.zoo import mnist_classifier, mnist_models

dcgan = mnist_models.load_shipped_mnist_model("dcgan")
test_statistics = mnist_classifier.load_test_statistics()


def fid(samples):
    """FID against the 10,000 MNIST test images, from their shipped mean and covariance."""
    features, _ = mnist_features(samples)
    return image_metrics.frechet_distance_from_moments(
        features.mean(axis=0),
        np.cov(features, rowvar=False),
        test_statistics["mean"],
        test_statistics["covariance"],
    )


# %% [markdown]
# With every default: `step_size="auto"` reads the scale of the critic's
# gradient on a probe batch and picks a cautious step. `metrics` are
# evaluated on the samples recorded every `trajectory_every` steps.

# %%
latents = dcgan.sample_latents(NUM_SAMPLES, seed=1)
default = RefinementModel(dcgan.generator, dcgan.discriminator, seed=0)
result = default.refine(latents, trajectory_every=5, metrics={"FID": fid})
print("auto step size:", default.step_size)
print(
    dict(
        zip(result.trajectory_steps.tolist(), result.metric_trajectory["FID"].round(2).tolist(), strict=True)
    )
)

# %% [markdown]
# With data, one call chooses the step: `calibrate` refines a tuning batch
# (latents of its own) at multiples of the `auto` step, scores each against
# real training images (here by FID in the classifier's features) and keeps
# the best, or no refinement if nothing beats it.

# %%
train_images = datasets.mnist("train")[np.random.default_rng(0).choice(60000, 1000, replace=False)]
train_features, _ = mnist_features(train_images)
calibrated = RefinementModel(dcgan.generator, dcgan.discriminator, seed=0)
table = calibrated.calibrate(
    train_images,
    metric=lambda samples: image_metrics.frechet_distance(mnist_features(samples)[0], train_features),
    latents=dcgan.sample_latents(200, seed=7) if SMOKE else None,
    step_sizes=[0.01, 0.03] if SMOKE else None,
)
print(table.to_markdown())
tuned = calibrated.refine(latents, trajectory_every=5, metrics={"FID": fid})
curve = tuned.metric_trajectory["FID"]
print("calibrated step size:", calibrated.step_size)
print(dict(zip(tuned.trajectory_steps.tolist(), curve.round(2).tolist(), strict=True)))
# Refinement brings the samples closer to the held-out test images (FID at step 25 < step 0).
assert curve[-1] < curve[0], curve

# %%
from IPython.display import Image, display

display(
    Image(
        plotting.metric_curves(
            tuned.trajectory_steps,
            {"default (auto)": result.metric_trajectory["FID"], "calibrated": curve},
            "fid_curve.png",
            ylabel="FID (test set)",
        )
    )
)
display(
    Image(
        plotting.image_grid(
            {
                "base": tuned.sample_trajectory[0][:64],
                "default": result.samples[:64],
                "calibrated": tuned.samples[:64],
            },
            "grid.png",
        )
    )
)
