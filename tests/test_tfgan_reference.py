"""The image metrics against TF-GAN's (`tfgan.eval`), run in a legacy environment of their own.

TF-GAN does not import on TensorFlow >= 2.16, so `benchmarks/tfgan_reference.py` computes its metrics in
an interpreter named by `DGFLOW_TF_TFGAN_PYTHON` (Python 3.11, tensorflow-cpu 2.15.1, tfp 0.23, tfgan 2.1.0;
see that script for how to make one). Without it this test is skipped.
"""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

from dgflow_tf.metrics import images

LEGACY_PYTHON = os.environ.get("DGFLOW_TF_TFGAN_PYTHON")
SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "tfgan_reference.py"


@pytest.mark.skipif(not LEGACY_PYTHON, reason="set DGFLOW_TF_TFGAN_PYTHON to a TF-GAN 2.1.0 interpreter")
def test_metrics_match_tfgan_eval_on_the_same_activations(tmp_path):
    rng = np.random.default_rng(21)
    real = rng.normal(size=(600, 16)) @ rng.normal(size=(16, 16)) * 0.3
    fake = rng.normal(size=(600, 16)) @ rng.normal(size=(16, 16)) * 0.3 + 0.2
    logits = rng.normal(size=(600, 10)) * 2.0
    np.savez(tmp_path / "activations.npz", real=real, fake=fake, logits=logits)
    block = 200
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    completed = subprocess.run(
        [
            LEGACY_PYTHON,
            str(SCRIPT),
            str(tmp_path / "activations.npz"),
            str(tmp_path / "tfgan.json"),
            str(block),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    reference = json.loads((tmp_path / "tfgan.json").read_text())

    np.testing.assert_allclose(images.frechet_distance(real, fake), reference["fid"], rtol=1e-6)
    # TF-GAN's score pools all samples in one split.
    np.testing.assert_allclose(
        images.classifier_score(logits, num_splits=1)[0], reference["score"], rtol=1e-6
    )
    # TF-GAN's KID: the same unbiased estimator and cubic kernel, on disjoint blocks in input order,
    # averaged; its error bar is the blocks' standard error. dgflow_tf draws random subsets and reports
    # their standard deviation (torch-fidelity's convention), so the comparison is on TF-GAN's blocks.
    estimates = np.array(
        [images._unbiased_mmd2(real[i : i + block], fake[i : i + block]) for i in range(0, 600, block)]
    )
    np.testing.assert_allclose(estimates.mean(), reference["kid"], rtol=1e-6)
    np.testing.assert_allclose(
        estimates.std(ddof=1) / np.sqrt(len(estimates)), reference["kid_std"], rtol=1e-4
    )
    ours, _ = images.kernel_distance(real, fake, num_subsets=200, subset_size=block, seed=0)
    assert abs(ours - reference["kid"]) < 5 * reference["kid_std"]  # the same quantity, other subsets
