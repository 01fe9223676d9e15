"""benchmarks/unseen_models.py's arithmetic: its GAN losses and `auto`'s share of the tuned gain.

The benchmark trains the GANs that check every default on models the project never saw, so its
losses are checked against their textbook forms in NumPy, and its share against hand-worked cases.
"""

import numpy as np
import pytest
from benchmark_scripts import load_benchmark


@pytest.fixture(scope="module")
def unseen():
    return load_benchmark("unseen_models")


def test_discriminator_losses_match_their_textbook_forms(unseen):
    real = np.array([2.0, -0.5, 0.3], "float32")
    fake = np.array([-1.5, 0.7, 1.2], "float32")
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    expected = {
        # -log sigmoid(real) - log(1 - sigmoid(fake)), Goodfellow et al. (2014)
        "nsgan": np.mean(softplus(-real) + softplus(fake)),
        # Lim & Ye (2017); Miyato et al. (2018)
        "hinge": np.mean(np.maximum(0.0, 1.0 - real) + np.maximum(0.0, 1.0 + fake)),
        # The critic's part of WGAN-GP, before the gradient penalty (Gulrajani et al., 2017)
        "wgan-gp": np.mean(fake) - np.mean(real),
    }
    for loss, value in expected.items():
        assert float(unseen.discriminator_loss(loss, real, fake)) == pytest.approx(value, rel=1e-6), loss


@pytest.mark.parametrize(
    "base, auto, tuned, metric, expected",
    [
        (20.0, 80.0, 100.0, "hq", 75.0),  # higher is better: (80 - 20) / (100 - 20)
        (0.4, 0.3, 0.2, "ot", 50.0),  # lower is better: (0.4 - 0.3) / (0.4 - 0.2)
        (30.0, 33.0, 20.0, "fid", -30.0),  # auto made it worse: a negative share
        (30.0, 10.0, 20.0, "fid", 200.0),  # auto beat the tuned step
        (30.0, 25.0, 30.0, "fid", None),  # the tuned step gains nothing: no share
        (0.2, 0.1, 0.3, "ot", None),
    ],
)
def test_share_of_the_tuned_gain(unseen, base, auto, tuned, metric, expected):
    value = unseen.share(base, auto, tuned, metric)
    if expected is None:
        assert value is None
    else:
        assert value == pytest.approx(expected)
