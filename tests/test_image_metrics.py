"""Image metrics against SciPy/NumPy references and closed forms."""

import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from dgflow_tf.metrics import images


def _fid_reference(a, b):
    # The textbook formula with SciPy's general matrix square root.
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * root)


def test_frechet_distance_matches_scipy_sqrtm_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 0.5
    np.testing.assert_allclose(images.frechet_distance(a, b), _fid_reference(a, b), rtol=1e-8)


def test_frechet_distance_closed_form_for_gaussians():
    # Large samples of N(m1, diag s1^2) and N(m2, diag s2^2): FD -> |m1-m2|^2 + sum (s1 - s2)^2.
    rng = np.random.default_rng(1)
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([2.0, 1.0, 0.5])
    a = rng.normal(size=(200_000, 3)) * s1
    b = rng.normal(size=(200_000, 3)) * s2 + np.array([1.0, 0.0, -1.0])
    expected = 2.0 + np.sum((s1 - s2) ** 2)
    np.testing.assert_allclose(images.frechet_distance(a, b), expected, rtol=0.02)
    assert abs(images.frechet_distance(a, a)) < 1e-8


def test_frechet_distance_is_finite_with_singular_covariances():
    # More features than samples and a dead (constant) feature, as with ReLU activations.
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(20, 50)), rng.normal(size=(30, 50))
    a[:, 0] = b[:, 0] = 0.0
    value = images.frechet_distance(a, b)
    assert np.isfinite(value) and value > 0


def _kid_reference(a, b):
    # Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, written as explicit loops.
    d = a.shape[1]

    def k(x, y):
        return (x @ y / d + 1.0) ** 3

    m, n = len(a), len(b)
    xx = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(a[i], b[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kernel_distance_matches_loop_reference():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(30, 4)), rng.normal(size=(30, 4)) + 0.3
    # One subset of every row: the estimate is the full-sample unbiased MMD^2.
    mean, _ = images.kernel_distance(a, b, num_subsets=1, subset_size=30)
    np.testing.assert_allclose(mean, _kid_reference(a, b), rtol=1e-10)


def test_kernel_distance_standard_error_separates_equal_and_shifted_laws():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
    mean, error = images.kernel_distance(a, b, num_subsets=50, subset_size=200, seed=0)
    assert error > 0 and abs(mean) < 4 * error
    shifted_mean, shifted_error = images.kernel_distance(a, b + 0.5, num_subsets=50, subset_size=200, seed=0)
    assert shifted_mean > 10 * shifted_error
    # The same seed gives the same subsets.
    assert images.kernel_distance(a, b, 10, 100, seed=5) == images.kernel_distance(a, b, 10, 100, seed=5)


def test_classifier_score_matches_scipy_entropy_reference():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(500, 10)) * 3
    p = scipy.special.softmax(logits, axis=1)
    marginal = p.mean(axis=0)
    expected = np.exp(np.mean([scipy.stats.entropy(row, marginal) for row in p]))
    score, spread = images.classifier_score(logits, num_splits=1)
    np.testing.assert_allclose(score, expected, rtol=1e-10)
    assert spread == 0.0


def test_classifier_score_extremes():
    # Uniform predictions score 1; confident predictions spread evenly over 10 classes score 10.
    assert images.classifier_score(np.zeros((100, 10)), num_splits=2)[0] == pytest.approx(1.0)
    confident = np.full((100, 10), -1e3)
    confident[np.arange(100), np.arange(100) % 10] = 0.0
    assert images.classifier_score(confident, num_splits=2)[0] == pytest.approx(10.0)


@pytest.mark.parametrize(
    "a, b, match",
    [
        (np.zeros((5, 3)), np.zeros((5, 4)), "same number of features"),
        (np.zeros(5), np.zeros((5, 1)), "must be a 2-D array"),
        (np.zeros((1, 3)), np.zeros((5, 3)), "at least 2 rows"),
        (np.full((5, 3), np.nan), np.zeros((5, 3)), "NaN or Inf in rows \\[0, 1, 2, 3, 4\\]"),
    ],
)
def test_metrics_reject_bad_activations(a, b, match):
    with pytest.raises(ValueError, match=match):
        images.frechet_distance(a, b)
    with pytest.raises(ValueError, match=match):
        images.kernel_distance(a, b)


def test_metric_argument_errors():
    with pytest.raises(ValueError, match="`num_splits` \\(20\\) must not exceed"):
        images.classifier_score(np.zeros((10, 3)), num_splits=20)
    with pytest.raises(ValueError, match="`num_subsets` must be a positive integer"):
        images.kernel_distance(np.zeros((5, 2)), np.zeros((5, 2)), num_subsets=0)
    with pytest.raises(ValueError, match="`images` must be 4-D"):
        images.extract(lambda x: (x, x), np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="NaN or Inf"):
        images.extract(lambda x: (x, x), np.full((3, 8, 8, 1), np.nan))


def test_inception_v3_extractor_shapes_with_random_weights():
    # weights=None: nothing is downloaded; this checks shapes and the grey-to-RGB resize only.
    extractor = images.inception_v3_extractor(weights=None)
    features, logits = extractor(np.zeros((2, 8, 8, 1), "float32"))
    assert features.shape == (2, 2048) and logits.shape == (2, 1000)
