"""The RealNVP flow as a trainer: dequantisation, its defaults, its errors and its Keras train/test steps.

The flow's density and gradients are checked in tests/test_flow_adapter.py; here the parts that only
training reaches are checked against a NumPy re-derivation or a Kolmogorov-Smirnov test.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from dgflow_tf.zoo.flows import RealNVPFlow


def _small_flow(**kwargs):
    return RealNVPFlow(event_shape=(2, 2, 1), num_couplings=2, hidden_units=8, **kwargs)


def _levels_grid(levels, count, seed=0):
    """Images whose pixels take the `levels` evenly spaced values of [-1, 1], and those values' indices."""
    indices = np.random.default_rng(seed).integers(0, levels, size=(count, 2, 2, 1))
    return 2.0 * indices / (levels - 1) - 1.0, indices


@pytest.mark.parametrize("levels", [17, 256])
def test_dequantisation_spreads_each_level_uniformly_over_its_own_bin(levels):
    # x = 2 (v + u) / L - 1 with v the pixel's level and u ~ U[0, 1): undoing it gives back v exactly, and
    # the fractional parts are uniform.
    images, indices = _levels_grid(levels, 2000)
    flow = _small_flow(levels=levels, seed=3)
    spread = flow.dequantize(tf.constant(images, tf.float32)).numpy().astype(np.float64)
    position = (spread + 1.0) * levels / 2.0
    np.testing.assert_array_equal(np.floor(position), indices)
    fractions = (position - indices).ravel()
    assert stats.kstest(fractions, "uniform").pvalue > 1e-3


def test_default_flow_dequantises_the_seventeen_levels_of_scikit_learn_digits():
    # The digits take the values 0..16; scaled to [-1, 1] they are the default flow's levels.
    images, indices = _levels_grid(17, 500)
    flow = RealNVPFlow(event_shape=(2, 2, 1), num_couplings=1, hidden_units=4)
    position = (flow.dequantize(tf.constant(images, tf.float32)).numpy() + 1.0) * 17 / 2.0
    np.testing.assert_array_equal(np.floor(position), indices)


def test_dequantisation_keeps_the_images_dtype_and_leaves_continuous_data_alone():
    images, _ = _levels_grid(17, 50)
    spread = _small_flow(levels=17).dequantize(tf.constant(images, tf.float64))
    assert spread.dtype == tf.float64
    continuous = tf.constant(np.random.default_rng(1).uniform(-1, 1, (5, 2, 2, 1)), tf.float32)
    np.testing.assert_array_equal(_small_flow(levels=None).dequantize(continuous).numpy(), continuous.numpy())


def test_default_seed_is_zero_for_the_permutations_and_the_dequantisation_noise():
    images = tf.constant(_levels_grid(17, 20)[0], tf.float32)
    default, zero, one = _small_flow(), _small_flow(seed=0), _small_flow(seed=1)
    for a, b in zip(default._permutations, zero._permutations, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(default.dequantize(images).numpy(), zero.dequantize(images).numpy())
    assert not np.array_equal(default.dequantize(images).numpy(), one.dequantize(images).numpy())


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"event_shape": (0, 2, 1)}, "event_shape"),
        ({"num_couplings": 0}, "num_couplings"),
        ({"levels": 0}, "levels"),
    ],
)
def test_bad_sizes_name_their_argument(kwargs, name):
    settings = {"event_shape": (2, 2, 1), "num_couplings": 2, "hidden_units": 8, **kwargs}
    with pytest.raises(ValueError, match=f"`{name}` must be a positive integer"):
        RealNVPFlow(**settings)


def test_fit_reports_nll_and_lowers_it_and_evaluate_matches_the_mean_negative_log_density():
    # Continuous data (levels=None), so evaluate's loss is exactly the mean of -log p(x) that the
    # distribution gives, and fit's steps must lower it: data concentrated at 0.3 are far from the
    # initial flow's (identity couplings) density, which is centred at 0.
    data = 0.3 + 0.05 * np.random.default_rng(2).standard_normal((64, 2, 2, 1)).astype("float32")
    flow = _small_flow(levels=None, seed=0)
    flow.compile(optimizer=keras.optimizers.Adam(1e-2))
    expected = -np.mean(flow.distribution.log_prob(data).numpy())
    before = flow.evaluate(data, batch_size=64, verbose=0, return_dict=True)
    assert set(before) == {"nll"}
    np.testing.assert_allclose(before["nll"], expected, rtol=1e-5)
    history = flow.fit(data, batch_size=16, epochs=5, verbose=0, shuffle=False)
    assert set(history.history) == {"nll"}
    after = flow.evaluate(data, batch_size=64, verbose=0, return_dict=True)["nll"]
    assert after < before["nll"] - 0.5


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0, -0.1])
def test_alpha_outside_the_open_interval_is_refused(alpha):
    # alpha is the sigmoid's margin: 0 would map the data's bounds to infinity, 0.5 would divide by zero.
    with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 0\.5\)"):
        _small_flow(alpha=alpha)


def test_a_negative_seed_is_refused_by_name():
    with pytest.raises(ValueError, match="`seed` must be an integer >= 0"):
        _small_flow(seed=-1)


def test_the_flow_tracks_one_metric_named_nll():
    assert [metric.name for metric in _small_flow().metrics] == ["nll"]
