"""Embedded data sets and the synthetic metrics, against hand-computed cases."""

import itertools
import math

import numpy as np
import pytest
from sklearn.datasets import make_swiss_roll

from dgflow_tf import datasets
from dgflow_tf.metrics import high_quality_fraction, kde_score, modes_covered, nearest_mode, ot_distance

MODES = datasets.TWENTY_FIVE_GAUSSIANS_MODES
STD = datasets.TWENTY_FIVE_GAUSSIANS_STD


def test_twenty_five_gaussians_layout_and_spread():
    grid = np.array([-4.0, -2.0, 0.0, 2.0, 4.0]) / 2.828
    assert sorted(set(np.round(MODES[:, 0], 12))) == sorted(np.round(grid, 12))
    assert len({tuple(m) for m in np.round(MODES, 12)}) == 25
    x = datasets.twenty_five_gaussians(50_000, seed=3, dtype="float64")
    index, _ = nearest_mode(x, MODES)
    residual = x - MODES[index]
    # Per-coordinate std 0.05 / 2.828; 50,000 draws give ~0.3% relative error.
    np.testing.assert_allclose(residual.std(axis=0), 0.05 / 2.828, rtol=0.02)
    counts = np.bincount(index, minlength=25)
    assert counts.min() > 1700 and counts.max() < 2300  # 2000 expected per mode


def test_datasets_are_seeded():
    for name in datasets.names():
        a, b = datasets.load(name, 100, seed=1), datasets.load(name, 100, seed=1)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, datasets.load(name, 100, seed=2))
        assert a.shape == (100, 2) and a.dtype == np.float32


def test_swiss_roll_matches_sklearn_definition():
    points, _ = make_swiss_roll(500, noise=0.25, random_state=4)
    np.testing.assert_allclose(
        datasets.swiss_roll(500, seed=4, dtype="float64"), points[:, [0, 2]] / 7.5, rtol=0, atol=0
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "moons", "num_samples": 5}, "Unknown dataset 'moons'"),
        ({"name": "swissroll", "num_samples": 0}, "num_samples"),
        ({"name": "25gaussians", "num_samples": 5, "seed": -1}, "seed"),
        ({"name": "25gaussians", "num_samples": 5, "seed": 1.5}, "seed"),
    ],
)
def test_dataset_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.load(**kwargs)


def test_high_quality_on_mode_and_five_std_away():
    on_mode = MODES[7]
    five_away = MODES[3] + np.array([5.0 * STD, 0.0])
    just_inside = MODES[12] + np.array([0.0, 3.9 * STD])
    samples = np.stack([on_mode, five_away, just_inside])
    assert high_quality_fraction(samples[:1], MODES, STD) == 1.0
    assert high_quality_fraction(samples[1:2], MODES, STD) == 0.0
    assert high_quality_fraction(samples, MODES, STD) == pytest.approx(2 / 3)
    assert modes_covered(samples, MODES, STD) == 2
    assert modes_covered(samples, MODES, STD, min_count=2) == 0
    # With a looser threshold the 5-sigma sample counts too.
    assert high_quality_fraction(samples, MODES, STD, num_std=5.5) == 1.0


def test_kde_score_matches_closed_form():
    h = 0.3
    fitted = np.array([[0.0, 0.0], [1.0, 0.0]])
    scored = np.array([[0.5, 0.2], [2.0, -1.0]])

    def log_normal_2d(y, x):
        return -math.log(2 * math.pi * h * h) - np.sum((y - x) ** 2) / (2 * h * h)

    expected = np.mean(
        [np.logaddexp(log_normal_2d(y, fitted[0]), log_normal_2d(y, fitted[1])) - math.log(2) for y in scored]
    )
    assert kde_score(fitted, scored, bandwidth=h) == pytest.approx(expected, rel=1e-10)


def test_ot_distance_known_point_sets():
    a = np.array([[0.0, 0.0], [1.0, 0.0]])
    b = np.array([[0.0, 1.0], [1.0, 1.0]])
    assert ot_distance(a, b) == pytest.approx(1.0, abs=1e-12)
    # In-order matching costs 1 + 1; the crossing one 4 + 2. Mean of the optimum: 1.
    assert ot_distance([[0.0, 0.0], [3.0, 0.0]], [[1.0, 0.0], [4.0, 0.0]]) == pytest.approx(1.0)
    # Against brute force over permutations (uniform equal-size OT has a permutation optimum).
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    brute = min(np.mean(np.linalg.norm(x - y[list(p)], axis=1)) for p in itertools.permutations(range(6)))
    assert ot_distance(x, y) == pytest.approx(brute, rel=1e-10)
    # Unequal sizes: one point against two equidistant points.
    assert ot_distance([[0.0, 0.0]], [[3.0, 4.0], [-3.0, -4.0]]) == pytest.approx(5.0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ot_distance(np.zeros((3, 2)), np.zeros((3, 3))), "`reference` must have 2 columns"),
        (lambda: ot_distance(np.full((3, 2), np.nan), np.zeros((3, 2))), "`samples` contains NaN"),
        (lambda: kde_score(np.zeros((3, 2)), np.zeros((3, 2)), bandwidth=0), "`bandwidth`"),
        (lambda: high_quality_fraction(np.zeros((0, 2)), MODES, STD), "n >= 1"),
        (lambda: high_quality_fraction(np.zeros(2), MODES, STD), r"\[n, d\]"),
        (lambda: modes_covered(np.zeros((1, 2)), MODES, -1.0), "`std`"),
    ],
)
def test_metric_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_metric_arguments_are_named_in_errors():
    from dgflow_tf.metrics.text import js_divergence

    modes = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"^`samples` must have 2 columns to match the other set"):
        nearest_mode(np.zeros((4, 3)), modes)
    with pytest.raises(ValueError, match=r"^`num_std` must be a finite positive number"):
        high_quality_fraction(np.zeros((4, 2)), modes, std=0.1, num_std=0.0)
    with pytest.raises(ValueError, match=r"^`reference` must have 2 columns to match the other set"):
        kde_score(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"^`n` must be a positive integer\. Received: n=0$"):
        js_divergence(["abc"], ["abd"], n=0)
