import functools

import numpy as np
import pytest
import tensorflow as tf
from numpy_reference import DRIFT_SCALES

from dgflow_tf import divergences

LOGITS = np.linspace(-6.0, 6.0, 41)


@pytest.mark.parametrize("name", ["KL", "JS", "logD", "chi2"])
def test_builtin_drift_scale_matches_table(name):
    scale = divergences.get(name).drift_scale(tf.constant(LOGITS))
    np.testing.assert_allclose(scale.numpy(), DRIFT_SCALES[name](LOGITS), rtol=1e-12)


@pytest.mark.parametrize("name", ["KL", "JS", "logD", "chi2"])
def test_builtin_f_is_consistent_with_its_drift_scale(name):
    # r f''(r) by central finite differences of the builtin's own f, in NumPy.
    divergence = divergences.get(name)
    ratio = np.exp(-LOGITS)
    h = 1e-3 * ratio  # balances truncation (h^2) against cancellation (eps / h^2)
    f = lambda r: divergence.f(tf.constant(r)).numpy()  # noqa: E731
    second = (f(ratio + h) - 2.0 * f(ratio) + f(ratio - h)) / h**2
    np.testing.assert_allclose(ratio * second, DRIFT_SCALES[name](LOGITS), rtol=1e-4, atol=1e-6)
    assert abs(float(divergence.f(tf.constant(1.0, tf.float64)))) < 1e-12


@pytest.mark.parametrize("name", ["KL", "JS", "logD", "chi2"])
def test_autodiff_of_table_f_recovers_builtin(name):
    custom = divergences.FDivergence(divergences.get(name).f, name=f"custom-{name}")
    np.testing.assert_allclose(
        custom.drift_scale(tf.constant(LOGITS)).numpy(), DRIFT_SCALES[name](LOGITS), rtol=1e-9
    )


def test_custom_hellinger_closed_form():
    # f(r) = (sqrt(r) - 1)^2: f'' = r^(-3/2) / 2, so r f''(r) = exp(d / 2) / 2.
    hellinger = divergences.get(lambda r: (tf.sqrt(r) - 1.0) ** 2)
    np.testing.assert_allclose(
        hellinger.drift_scale(tf.constant(LOGITS)).numpy(), 0.5 * np.exp(LOGITS / 2.0), rtol=1e-9
    )


def test_affine_f_has_zero_scale():
    divergence = divergences.FDivergence(lambda r: r - 1.0, name="affine")
    assert np.all(divergence.drift_scale(tf.constant(LOGITS)).numpy() == 0.0)


@pytest.mark.parametrize(
    "identifier, expected",
    [(None, "KL"), ("kl", "KL"), ("Js", "JS"), ("LOGD", "logD"), ("pearson", "chi2"), ({"name": "JS"}, "JS")],
)
def test_get_resolves_names(identifier, expected):
    assert divergences.get(identifier).name == expected


def test_get_returns_instances_unchanged():
    instance = divergences.JS()
    assert divergences.get(instance) is instance


def test_unknown_name_lists_options():
    with pytest.raises(ValueError, match=r"Unknown divergence 'kll'.*\['JS', 'KL', 'chi2', 'logD'\]"):
        divergences.get("kll")


def test_bad_identifier_type():
    with pytest.raises(TypeError, match="`divergence` must be"):
        divergences.get(3)


def test_f_must_vanish_at_one():
    with pytest.raises(ValueError, match=r"f\(1\) = 0"):
        divergences.FDivergence(lambda r: r * tf.math.log(r) + 1.0)


def test_f_must_be_convex():
    with pytest.raises(ValueError, match="must be convex"):
        divergences.FDivergence(lambda r: -r * tf.math.log(r))


def test_f_must_be_differentiable():
    with pytest.raises(ValueError, match="differentiable"):
        divergences.FDivergence(lambda r: tf.stop_gradient(r) * 0.0)


def test_serialize_round_trip():
    assert divergences.serialize("js") == "JS"
    custom = divergences.FDivergence(lambda r: (r - 1.0) ** 2, name="sq")
    again = divergences.get(divergences.serialize(custom))
    assert again.name == "sq"
    np.testing.assert_allclose(again.drift_scale(tf.constant(0.5, tf.float64)), 2.0 * np.exp(-0.5))


def hellinger_f(r):
    return (tf.sqrt(r) - 1.0) ** 2


def test_a_custom_f_is_named_by_name_else_its_function_else_custom():
    assert divergences.FDivergence(hellinger_f).name == "hellinger_f"
    assert divergences.FDivergence(hellinger_f, name="H").name == "H"
    # A callable without __name__ (a partial) is "custom".
    assert divergences.FDivergence(functools.partial(lambda r, c: c * (r - 1.0) ** 2, c=2.0)).name == "custom"


def test_concavity_at_small_ratios_is_refused_too():
    # f(r) = (r - 1)^2 + log(r) / 2 has f(1) = 0 and f''(r) = 2 - 1 / (2 r^2): concave for r < 1/2 only,
    # where the discriminator says a sample is twice as likely under the model as under the data.
    with pytest.raises(ValueError, match=r"must be convex.*at r = 0\.0"):
        divergences.FDivergence(lambda r: (r - 1.0) ** 2 + 0.5 * tf.math.log(r), name="low")
