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
# # Exporting a refiner and serving it without dgflow_tf
#
# `RefinementModel.export(path)` writes a SavedModel whose `serve(z, seed)`
# signature runs the gradient steps inside its graph. Any TensorFlow program
# can serve it with `tf.saved_model.load`; it needs neither dgflow_tf nor TFP,
# and returns exactly the samples of the Python model for the same `z` and
# seed. The `.keras` format round-trips the model for further work in Python.

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
import keras
import numpy as np

from dgflow_tf import RefinementModel
from dgflow_tf.experiments import synthetic
from dgflow_tf.zoo import toy_gans

generator, discriminator = toy_gans.load_toy_gan("25gaussians")
model = RefinementModel(generator, discriminator, seed=0, **synthetic.DGFLOW_SETTINGS)
model.export("dgflow_refiner", verbose=False)
latents = model.sample_latents(NUM_SAMPLES, seed=1)
np.save("latents.npy", latents)
expected = model.refine(latents, seed=7).samples

# %% [markdown]
# Serve it from a fresh Python process in which `dgflow_tf` cannot be imported:

# %%
SERVER = """
import sys
sys.modules["dgflow_tf"] = None  # prove the SavedModel stands alone
import numpy as np, tensorflow as tf
loaded = tf.saved_model.load("dgflow_refiner")
samples = loaded.serve(tf.constant(np.load("latents.npy")), tf.constant(7, tf.int64))
np.save("served.npy", samples.numpy())
"""
subprocess.run([sys.executable, "-c", SERVER], check=True)
served = np.load("served.npy")
print("bit-identical to the Python model:", np.array_equal(served, expected))
assert np.array_equal(served, expected)

# %%
model.save("refiner.keras")
reloaded = keras.saving.load_model("refiner.keras")
print("the .keras file round-trips:", np.array_equal(reloaded.refine(latents, seed=7).samples, expected))
assert np.array_equal(reloaded.refine(latents, seed=7).samples, expected)
