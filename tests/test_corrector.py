"""The density-ratio corrector against closed-form Gaussian log ratios."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel
from dgflow_tf.critics import LogitCritic, SumCritic, corrector_network, train_corrector

# mu = N(1, 1) is the data and rho = N(0, 1) the model: log(mu / rho)(x) = x - 0.5.
GRID = np.linspace(-1.5, 2.5, 17, dtype="float32")[:, None]
TOLERANCE = 0.15  # max |error| of the log ratio on GRID (about mean +- 1.5 std of both laws)


@pytest.fixture(scope="module")
def gaussian_samples():
    rng = np.random.default_rng(0)
    # Unequal class sizes: without class weighting the logit would be off by log(2).
    real = rng.normal(1.0, 1.0, (20_000, 1)).astype("float32")
    generated = rng.normal(0.0, 1.0, (10_000, 1)).astype("float32")
    return real, generated


def _values(critic):
    return np.asarray(critic(tf.constant(GRID)))


def test_corrector_without_d_pre_recovers_the_log_ratio(gaussian_samples):
    real, generated = gaussian_samples
    linear = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    fit = train_corrector(real, generated, network=linear, epochs=50, batch_size=256, learning_rate=1e-2)
    assert isinstance(fit.critic, LogitCritic)
    np.testing.assert_allclose(_values(fit.critic), GRID[:, 0] - 0.5, atol=TOLERANCE)
    assert len(fit.history.history["val_loss"]) < 50  # early stopping ended it


def test_corrector_with_frozen_d_pre_learns_the_remaining_ratio(gaussian_samples):
    real, generated = gaussian_samples
    # d_pre is exact for another model rho_pre = N(0.5, 1): log(mu / rho_pre) = 0.5 x - 0.375,
    # so c must learn log(rho_pre / rho) = 0.5 x - 0.125.
    d_pre = lambda x: 0.5 * x[:, 0] - 0.375  # noqa: E731
    fit = train_corrector(real, generated, d_pre=d_pre, epochs=50, batch_size=256, learning_rate=1e-2)
    assert isinstance(fit.critic, SumCritic)
    np.testing.assert_allclose(_values(fit.critic), GRID[:, 0] - 0.5, atol=TOLERANCE)
    corrector = np.asarray(fit.corrector(GRID))[:, 0]
    np.testing.assert_allclose(corrector, 0.5 * GRID[:, 0] - 0.125, atol=TOLERANCE)


def test_corrector_is_reproducible_and_plugs_into_refinement(gaussian_samples):
    real, generated = gaussian_samples
    fits = [train_corrector(real[:2000], generated[:2000], epochs=3, seed=4) for _ in range(2)]
    np.testing.assert_array_equal(_values(fits[0].critic), _values(fits[1].critic))
    # Data-space refinement of N(0, 1) samples with the corrector moves them toward N(1, 1).
    model = RefinementModel(None, fits[0].critic, space="data", step_size=0.1, num_steps=10, seed=0)
    refined = model.predict(generated[:500], verbose=0)
    assert refined.mean() > generated[:500].mean() + 0.2


def test_default_corrector_network_starts_at_zero():
    image_net = corrector_network((8, 8, 1))
    assert image_net.output_shape == (None, 1)
    np.testing.assert_array_equal(image_net(np.ones((2, 8, 8, 1), "float32")), 0.0)
    with pytest.raises(ValueError, match="`sample_shape` must be an image shape"):
        corrector_network((2, 3))


@pytest.mark.parametrize(
    "real, generated, kwargs, match",
    [
        (np.zeros((10, 2)), np.zeros((10, 3)), {}, "same per-sample shape"),
        (np.zeros((1, 2)), np.zeros((10, 2)), {}, "`real` must be a batch"),
        (np.zeros((10, 2)), np.full((10, 2), np.nan), {}, "`generated` contains NaN"),
        (np.zeros((10, 2)), np.zeros((10, 2)), {"validation_split": 1.0}, "`validation_split` must be in"),
        (np.zeros((10, 2)), np.zeros((10, 2)), {"epochs": 0}, "`epochs` must be a positive integer"),
        (np.zeros((10, 2)), np.zeros((10, 2)), {"d_pre": lambda x: x[:, 0] / 0.0}, "`d_pre` returned NaN"),
    ],
)
def test_corrector_rejects_bad_input(real, generated, kwargs, match):
    with pytest.raises(ValueError, match=match):
        train_corrector(real, generated, **kwargs)


def test_training_leaves_the_callers_global_random_state_alone(gaussian_samples):
    import random

    real, generated = gaussian_samples
    np.random.seed(123)
    random.seed(123)
    expected_numpy, expected_python = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    previous = tf.compat.v1.get_seed(None)[0]
    tf.random.set_seed(None)  # another test may have left one: start from none, restore it after
    try:
        train_corrector(real[:500], generated[:500], epochs=2, seed=9)
        assert tf.compat.v1.get_seed(None)[0] is None  # no global TF seed was set
    finally:
        tf.random.set_seed(previous)
    assert np.random.random() == expected_numpy and random.random() == expected_python
