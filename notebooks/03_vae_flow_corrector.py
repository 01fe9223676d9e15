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
# # A VAE and a normalizing flow, refined with a density-ratio corrector
#
# Models without a discriminator get their log density ratio from a
# discriminator trained for another model (`d_pre`, here an SN-DCGAN's) plus
# a small corrector network fitted to tell the data from this model's samples:
# `d(x) = d_pre(x) + c(x)` (METHOD.md section 4). The flow is refined in its
# base space, through its TFP bijector.

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
EPOCHS = {"sn-dcgan": 2, "vae": 2, "flow": 2} if SMOKE else {"sn-dcgan": 60, "vae": 60, "flow": 100}
CORRECTOR_EPOCHS = 3 if SMOKE else 200
NUM_SAMPLES = 200 if SMOKE else 2000

# %%
import dgflow_tf
from dgflow_tf import RefinementModel, datasets, plotting
from dgflow_tf.adapters import flows
from dgflow_tf.experiments import images as image_experiment
from dgflow_tf.metrics import images as image_metrics
from dgflow_tf.zoo import digits_classifier, digits_models

real = datasets.digits()
classifier, _ = digits_classifier.load_digits_classifier()
extractor = digits_classifier.feature_extractor(classifier)
reference_features, _ = image_metrics.extract(extractor, real)
d_pre = digits_models.train_digits_model("sn-dcgan", seed=0, epochs=EPOCHS["sn-dcgan"]).discriminator

# %%
results = {}
for name in ("vae", "flow"):
    model = digits_models.train_digits_model(name, seed=0, epochs=EPOCHS[name])
    corrector = dgflow_tf.train_corrector(
        real, model.sample(len(real), seed=2), d_pre=d_pre, epochs=CORRECTOR_EPOCHS
    )
    if name == "flow":
        # The flow's TFP distribution: refine base-space latents through its bijector.
        refiner = flows.flow_refinement_model(
            model.trainer.distribution, corrector.critic, seed=0, **image_experiment.DGFLOW_SETTINGS
        )
    else:
        refiner = RefinementModel(
            model.generator,
            corrector.critic,
            seed=0,
            latent_shape=model.latent_shape,
            **image_experiment.DGFLOW_SETTINGS,
        )
    latents = model.sample_latents(NUM_SAMPLES, seed=1)
    base, refined = model.generate(latents), refiner.predict(latents, batch_size=500, verbose=0)
    fids = {}
    for label, samples in (("base", base), ("DGflow+corrector", refined)):
        metrics = image_metrics.image_metrics(
            samples, reference_features, extractor, subset_size=min(1000, NUM_SAMPLES)
        )
        fids[label] = metrics["fid"]
        print(f"{name:5s} {label:18s} FID {metrics['fid']:7.2f}  KID {metrics['kid']:.4f}")
    # The corrected critic refines the model's samples toward the digits.
    assert fids["DGflow+corrector"] < fids["base"], (name, fids)
    results[name] = (base[:48], refined[:48])

# %%
from IPython.display import Image

panels = {
    f"{name} {label}": images
    for name, pair in results.items()
    for label, images in zip(("base", "refined"), pair, strict=True)
}
Image(plotting.image_grid(panels, "vae_flow.png", columns=8))
