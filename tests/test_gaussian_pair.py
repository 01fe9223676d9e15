"""The Gaussian reference pair: its densities and KL against SciPy, and its input checks by name."""

import numpy as np
import pytest
from scipy import integrate, stats

from dgflow_tf.zoo.gaussian import GaussianPair, gaussian_kl


def test_gaussian_kl_matches_scipys_numerical_integral_per_dimension():
    mean, std, target_mean, target_std = [0.3, -1.0], [0.8, 1.7], [1.0, 0.5], [0.5, 1.2]
    expected = 0.0
    for m, s, tm, ts in zip(mean, std, target_mean, target_std, strict=True):
        p, q = stats.norm(m, s), stats.norm(tm, ts)
        expected += integrate.quad(lambda x, p=p, q=q: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), -30, 30)[0]
    assert gaussian_kl(mean, std, target_mean, target_std) == pytest.approx(expected, rel=1e-7)


def test_the_pairs_log_ratio_is_scipys_log_densities_difference():
    pair = GaussianPair(
        data_mean=[1.0, -0.5], data_std=[0.5, 0.7], model_mean=[0.3, 2.0], model_std=[1.5, 0.8]
    )
    x = np.random.default_rng(0).normal(size=(7, 2))
    data = stats.norm([1.0, -0.5], [0.5, 0.7]).logpdf(x).sum(axis=1)
    model = stats.norm([0.3, 2.0], [1.5, 0.8]).logpdf(x).sum(axis=1)
    np.testing.assert_allclose(pair.model.log_prob(x).numpy(), model, rtol=1e-5)
    np.testing.assert_allclose(pair.log_ratio(x).numpy(), data - model, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["data_mean", "data_std", "model_mean", "model_std"])
def test_a_non_finite_argument_is_named(name):
    arguments = {**dict(data_mean=0.0, data_std=1.0, model_mean=0.0, model_std=1.0), name: [np.nan]}
    with pytest.raises(ValueError, match=rf"^`{name}` must be a finite scalar or vector\. Received: {name}="):
        GaussianPair(**arguments)


@pytest.mark.parametrize("name", ["data_std", "model_std"])
def test_a_non_positive_spread_is_named(name):
    arguments = {**dict(data_mean=0.0, data_std=1.0, model_mean=0.0, model_std=1.0), name: [1.0, 0.0]}
    with pytest.raises(ValueError, match=rf"^`{name}` must be positive\. Received: {name}=\[1\. 0\.\]$"):
        GaussianPair(**arguments)
