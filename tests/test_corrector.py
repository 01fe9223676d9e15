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


def _conv_same(x, kernel, bias, stride):
    """NumPy 'same' convolution (TensorFlow's padding rule: the odd pixel of padding goes after)."""
    size, height = kernel.shape[0], x.shape[1]
    out = -(-height // stride)
    pad = max((out - 1) * stride + size - height, 0)
    x = np.pad(x, ((0, 0), (pad // 2, pad - pad // 2), (pad // 2, pad - pad // 2), (0, 0)))
    result = np.zeros((x.shape[0], out, out, kernel.shape[-1]))
    for i in range(out):
        for j in range(out):
            patch = x[:, i * stride : i * stride + size, j * stride : j * stride + size, :]
            result[:, i, j] = np.einsum("nhwc,hwcd->nd", patch, kernel)
    return result + bias


def _leaky(x):
    return np.where(x > 0, x, 0.2 * x)


def test_default_image_corrector_is_the_documented_network():
    net = corrector_network((8, 8, 1))
    # Parameters of conv3x3(1 -> 32), conv4x4 stride 2 (32 -> 64) on 8x8 -> 4x4, dense(1024 -> 1).
    assert net.count_params() == (9 * 1 * 32 + 32) + (16 * 32 * 64 + 64) + (4 * 4 * 64 + 1)
    rng = np.random.default_rng(0)
    net.set_weights([rng.normal(0.0, 0.3, w.shape).astype("float32") for w in net.get_weights()])
    first, first_bias, second, second_bias, dense, dense_bias = net.get_weights()
    x = rng.normal(size=(3, 8, 8, 1)).astype("float32")
    h = _leaky(_conv_same(x.astype("float64"), first, first_bias, 1))
    h = _leaky(_conv_same(h, second, second_bias, 2))
    expected = h.reshape(3, -1) @ dense + dense_bias
    np.testing.assert_allclose(net(x).numpy(), expected, rtol=1e-4, atol=1e-4)
    assert net.name == "corrector"
    assert corrector_network((5,), width=4).count_params() == (5 * 8 + 8) + (8 * 8 + 8) + (8 + 1)


def test_the_validation_rows_are_held_out_after_the_seeded_shuffle(capsys):
    # One epoch, everything in one batch: the recorded validation loss is the weighted logistic
    # loss of the final corrector on the last 20 % of the shuffled rows, and nothing is printed.
    rng = np.random.default_rng(4)
    real, generated = rng.normal(1.0, 1.0, (50, 1)), rng.normal(0.0, 1.0, (30, 1))
    keras.utils.set_random_seed(0)
    fit = train_corrector(
        real, generated, network=keras.Sequential([keras.layers.Dense(1)]), epochs=1, validation_split=0.25
    )
    assert capsys.readouterr().out == ""
    samples = np.concatenate([real, generated])[np.random.default_rng(0).permutation(80)]
    labels = np.concatenate([np.ones(50), np.zeros(30)])[np.random.default_rng(0).permutation(80)]
    held_out, y = samples[-20:], labels[-20:]
    logits = fit.corrector(held_out.astype("float32")).numpy()[:, 0].astype("float64")
    losses = np.logaddexp(0.0, logits) - y * logits
    weights = np.where(y == 1.0, 80 / (2 * 50), 80 / (2 * 30))
    np.testing.assert_allclose(fit.history.history["val_loss"][0], np.mean(weights * losses), rtol=1e-4)


@pytest.mark.parametrize("name", ["epochs", "batch_size", "patience", "seed"])
def test_each_bad_training_setting_is_named(name):
    with pytest.raises(ValueError, match=f"`{name}` must be"):
        train_corrector(np.zeros((10, 2)), np.ones((10, 2)), **{name: -1})
