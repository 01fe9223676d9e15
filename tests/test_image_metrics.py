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


def test_frechet_distance_is_invariant_under_an_isometric_embedding_with_a_dead_feature():
    # 120 samples of 6 features embedded isometrically into 128 dimensions (more dimensions than
    # samples), plus a dead feature: the covariances are rank-deficient, as in the image benchmark.
    # The distance is a function of the Gaussians' geometry, so it must equal the one computed in
    # the 6-D space, where the covariances are full rank and SciPy's sqrtm is exact.
    rng = np.random.default_rng(7)
    a = rng.normal(size=(120, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(120, 6)) @ rng.normal(size=(6, 6)) + 0.3
    basis, _ = np.linalg.qr(rng.normal(size=(127, 6)))  # orthonormal columns: an isometry
    embed = lambda x: np.concatenate([x @ basis.T, np.zeros((len(x), 1))], axis=1)  # noqa: E731
    expected = _fid_reference(a, b)
    np.testing.assert_allclose(images.frechet_distance(embed(a), embed(b)), expected, rtol=1e-8)
    np.testing.assert_allclose(images.frechet_distance(a, b), expected, rtol=1e-8)


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
    a, b = rng.normal(size=(30, 4)), rng.normal(size=(40, 4)) + 0.3
    # One subset of 20 rows of each: the estimate is that subset's unbiased MMD^2.
    mean, _ = images.kernel_distance(a, b, num_subsets=1, subset_size=20, seed=11)
    draw = np.random.default_rng(11)
    rows_a, rows_b = draw.choice(30, 20, replace=False), draw.choice(40, 20, replace=False)
    np.testing.assert_allclose(mean, _kid_reference(a[rows_a], b[rows_b]), rtol=1e-10)


def test_kernel_distance_error_bar_is_the_subsets_standard_deviation():
    # The convention torch-fidelity prints as kid_std: np.std (ddof=0) of the subset estimates,
    # recomputed here with explicit loops over the same seeded subsets.
    rng = np.random.default_rng(12)
    a, b = rng.normal(size=(60, 3)), rng.normal(size=(50, 3)) + 0.2
    mean, spread = images.kernel_distance(a, b, num_subsets=8, subset_size=15, seed=4)
    draw = np.random.default_rng(4)
    estimates = []
    for _ in range(8):
        rows_a, rows_b = draw.choice(60, 15, replace=False), draw.choice(50, 15, replace=False)
        estimates.append(_kid_reference(a[rows_a], b[rows_b]))
    np.testing.assert_allclose(mean, np.mean(estimates), rtol=1e-10)
    np.testing.assert_allclose(spread, np.std(estimates), rtol=1e-10)
    assert spread > 0


def test_kernel_distance_subsets_as_large_as_a_set_fall_back_to_half_of_it():
    # Subsets of every row would all be the same set (a spread of exactly 0, meaningless): the
    # size falls back to half the smaller set, so the error bar measures sampling variation.
    rng = np.random.default_rng(13)
    a, b = rng.normal(size=(40, 3)), rng.normal(size=(30, 3))
    assert images.kernel_distance(a, b, num_subsets=5, subset_size=30) == images.kernel_distance(
        a, b, num_subsets=5, subset_size=15
    )
    assert images.kernel_distance(a, b, num_subsets=5, subset_size=1000)[1] > 1e-6


def test_kernel_distance_error_bar_separates_equal_and_shifted_laws():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
    mean, spread = images.kernel_distance(a, b, num_subsets=50, subset_size=200, seed=0)
    assert spread > 0 and abs(mean) < 2 * spread
    shifted_mean, shifted_spread = images.kernel_distance(a, b + 0.5, num_subsets=50, subset_size=200, seed=0)
    assert shifted_mean > 5 * shifted_spread
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
    with pytest.raises(
        ValueError, match=r"^`num_splits` must be a positive integer\. Received: num_splits=0$"
    ):
        images.classifier_score(np.zeros((10, 3)), num_splits=0)
    with pytest.raises(ValueError, match="`num_subsets` must be a positive integer"):
        images.kernel_distance(np.zeros((5, 2)), np.zeros((5, 2)), num_subsets=0)
    with pytest.raises(ValueError, match="`images` must be 4-D"):
        images.extract(lambda x: (x, x), np.zeros((3, 8, 8)))
    with pytest.raises(
        ValueError, match=r"^`images` contains NaN or Inf; the refinement or model diverged\.$"
    ):
        images.extract(lambda x: (x, x), np.full((3, 8, 8, 1), np.nan))
    with pytest.raises(
        ValueError, match=r"^`batch_size` must be a positive integer\. Received: batch_size=0$"
    ):
        images.extract(lambda x: (x, x), np.zeros((3, 8, 8, 1)), batch_size=0)


def test_extract_feeds_float32_batches_and_returns_float64_whatever_the_extractor_returns():
    # Keras extractors take float32; the moments of FID need float64 whatever the extractor gives back.
    seen = []

    def extractor(batch):
        seen.append((batch.dtype, len(batch)))
        flat = batch.reshape(len(batch), -1)
        return flat.astype(np.float32), flat[:, :2].astype(np.float16)

    images_uint8 = np.arange(5 * 2 * 2 * 1, dtype=np.uint8).reshape(5, 2, 2, 1)
    features, logits = images.extract(extractor, images_uint8, batch_size=2)
    assert seen == [(np.float32, 2), (np.float32, 2), (np.float32, 1)]
    assert features.dtype == np.float64 and logits.dtype == np.float64
    np.testing.assert_array_equal(features, images_uint8.reshape(5, 4))


def test_image_metrics_returns_each_metric_under_its_documented_name():
    # A flattening extractor: every metric must equal the function it is documented to pass through,
    # whether the reference is given as images or as its 2-D features.
    rng = np.random.default_rng(21)
    samples, reference = rng.normal(size=(40, 2, 2, 1)), rng.normal(size=(50, 2, 2, 1)) + 0.3

    def extractor(batch):
        return batch.reshape(len(batch), -1), batch.reshape(len(batch), -1)[:, :3]

    fake, real = samples.reshape(40, 4), reference.reshape(50, 4)
    kid = images.kernel_distance(fake, real, 7, 20, 3)
    score = images.classifier_score(fake[:, :3], 5)
    expected = {
        "fid": images.frechet_distance(fake, real),
        "kid": kid[0],
        "kid_std": kid[1],
        "score": score[0],
        "score_std": score[1],
    }
    for given in (reference, real):
        got = images.image_metrics(
            samples, given, extractor, num_subsets=7, subset_size=20, num_splits=5, seed=3
        )
        assert got == pytest.approx(expected, rel=1e-6)


def test_the_bad_activations_are_named_by_their_own_argument():
    good = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"^`activations_a` must be a 2-D array"):
        images.kernel_distance(np.zeros(5), good)
    with pytest.raises(ValueError, match=r"^`activations_b` must be a 2-D array"):
        images.kernel_distance(good, np.zeros(5))


def test_kernel_distance_draws_subsets_of_the_documented_1000_rows_by_default():
    # Sets larger than 1,000 rows, so the default size is used as it is; 1,001 rows draw other subsets.
    rng = np.random.default_rng(22)
    a, b = rng.normal(size=(1100, 3)), rng.normal(size=(1100, 3)) + 0.1
    default = images.kernel_distance(a, b, num_subsets=2)
    assert default == images.kernel_distance(a, b, num_subsets=2, subset_size=1000)
    assert default != images.kernel_distance(a, b, num_subsets=2, subset_size=1001)


def test_inception_v3_extractor_shapes_with_random_weights():
    # weights=None: nothing is downloaded; this checks shapes and the grey-to-RGB resize only.
    extractor = images.inception_v3_extractor(weights=None)
    features, logits = extractor(np.zeros((2, 8, 8, 1), "float32"))
    assert features.shape == (2, 2048) and logits.shape == (2, 1000)


def test_the_inception_extractor_defaults_to_the_fid_network(monkeypatch):
    # FID's convention: ImageNet InceptionV3 at 299x299 with its 1000-way head. Keras's constructor is
    # replaced, so nothing is downloaded; only the arguments it would get are checked.
    import keras

    seen = {}

    def inception(**kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop before building")

    monkeypatch.setattr(keras.applications, "InceptionV3", inception)
    with pytest.raises(RuntimeError, match="stop before building"):
        images.inception_v3_extractor()
    assert seen == {
        "include_top": True,
        "weights": "imagenet",
        "input_shape": (299, 299, 3),
        "classifier_activation": None,
    }
