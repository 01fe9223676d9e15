"""The shipped MNIST classifier, its test-set statistics, and precision/recall."""

import numpy as np
import pytest

from dgflow_tf.metrics import images, mnist
from dgflow_tf.zoo import mnist_classifier


def _brute_force_precision_recall(real, fake, k):
    """Kynkaanniemi et al.'s definition, one point at a time with explicit loops."""

    def radii(points):
        return [sorted(np.linalg.norm(points - p, axis=1))[k] for p in points]

    def inside(queries, centres, centre_radii):
        hits = []
        for q in queries:
            hits.append(any(np.linalg.norm(q - c) <= r for c, r in zip(centres, centre_radii, strict=True)))
        return np.mean(hits)

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


@pytest.mark.parametrize("k, block", [(3, 1000), (1, 7), (5, 13)])
def test_precision_recall_matches_a_loop_reference(k, block):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(60, 3))
    fake = rng.normal(size=(45, 3)) * 0.8 + 1.5  # shifted and narrower: both numbers below 1
    expected = _brute_force_precision_recall(real, fake, k)
    assert images.precision_recall(real, fake, k=k, block=block) == pytest.approx(expected)
    assert 0.0 < expected[0] < 1.0 and 0.0 < expected[1] < 1.0


def test_precision_recall_edges_and_errors():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(40, 2))
    assert images.precision_recall(real, real.copy()) == (1.0, 1.0)
    assert images.precision_recall(real, real + 100.0) == (0.0, 0.0)
    with pytest.raises(ValueError, match="`fake_activations` needs at least 4 rows"):
        images.precision_recall(real, real[:3])
    with pytest.raises(ValueError, match="`k` must be a positive integer"):
        images.precision_recall(real, real, k=0)


def test_frechet_distance_from_moments_matches_the_closed_form():
    # Diagonal covariances commute: tr(S_a + S_b - 2 (S_a S_b)^(1/2)) = sum (sqrt(a) - sqrt(b))^2.
    mean_a, mean_b = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    value = images.frechet_distance_from_moments(mean_a, np.diag(var_a), mean_b, np.diag(var_b))
    assert value == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="Means must be"):
        images.frechet_distance_from_moments(mean_a, np.eye(2), mean_b, np.eye(3))


def test_shipped_classifier_reaches_99_percent_on_the_test_set(mnist_test):
    test_images, test_labels = mnist_test
    _, info = mnist_classifier.load_mnist_classifier()
    _, logits = mnist.mnist_features(test_images)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == test_labels))
    assert accuracy == pytest.approx(info["test_accuracy"], abs=2e-4)  # what its file states
    assert accuracy >= 0.99
    assert info["num_train"] == 60000
    assert info["command"].startswith("python -m dgflow_tf.zoo.mnist_classifier")


def test_shipped_statistics_are_the_test_sets(mnist_test):
    features, _ = mnist.mnist_features(mnist_test[0])
    statistics = mnist_classifier.load_test_statistics()
    np.testing.assert_allclose(statistics["mean"], features.mean(axis=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(statistics["covariance"], np.cov(features, rowvar=False), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(statistics["features"], features, rtol=2e-3, atol=2e-3)  # float16


def test_fid_of_test_halves_is_near_zero_and_a_missing_class_is_not(mnist_test):
    test_images, test_labels = mnist_test
    features, _ = mnist.mnist_features(test_images)
    first, second = features[::2], features[1::2]
    halves = images.frechet_distance(first, second)
    total_variance = np.trace(np.cov(features, rowvar=False))
    missing = {
        digit: images.frechet_distance(first[test_labels[::2] != digit], second) for digit in (1, 3, 8)
    }
    assert halves < 0.01 * total_variance
    for digit, value in missing.items():
        assert value > 10.0 * halves, (digit, value, halves)
    # And through the shipped statistics: the whole test set scores near zero, a set with a class
    # missing does not, and a set of one class scores worse still, with a low classifier score.
    whole = mnist.mnist_metrics(test_images[:4000], num_subsets=10)
    no_threes = mnist.mnist_metrics(test_images[test_labels != 3][:4000], num_subsets=10)
    ones = mnist.mnist_metrics(test_images[test_labels == 1][:1000], num_subsets=10)
    assert whole["fid"] < no_threes["fid"] / 5.0 < ones["fid"] / 5.0
    assert whole["recall"] > no_threes["recall"] > ones["recall"]
    assert ones["score"] < 1.5 < 9.0 < whole["score"]


def test_mnist_metrics_refuses_other_shapes():
    with pytest.raises(ValueError, match=r"MNIST images \[n, 28, 28, 1\]. Received shape \(4, 8, 8, 1\)"):
        mnist.mnist_metrics(np.zeros((4, 8, 8, 1), np.float32))


def test_mnist_metrics_defaults_match_each_metric_computed_by_hand(mnist_test):
    # 1,100 samples: more than the default 1,000-row KID subsets, which are then drawn at that size.
    samples = mnist_test[0][:1100]
    got = mnist.mnist_metrics(samples, num_subsets=5, num_splits=4)
    features, logits = mnist.mnist_features(samples)
    reference = mnist._shipped()[1]
    # FID from its closed form: tr sqrt(C1 C2) is the sum of the square roots of C1 C2's eigenvalues.
    mean, covariance = features.mean(axis=0), np.cov(features, rowvar=False)
    eigenvalues = np.linalg.eigvals(covariance @ reference["covariance"]).real
    trace_root = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    fid = (
        np.sum((mean - reference["mean"]) ** 2)
        + np.trace(covariance + reference["covariance"])
        - 2 * trace_root
    )
    assert got["fid"] == pytest.approx(fid, rel=1e-4)
    # The classifier score over 4 splits of 275, each with its own marginal.
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    scores = []
    for part in np.split(probabilities, 4):
        marginal = part.mean(axis=0)
        scores.append(np.exp(np.mean(np.sum(part * (np.log(part) - np.log(marginal)), axis=1))))
    assert (got["score"], got["score_std"]) == pytest.approx((np.mean(scores), np.std(scores)), rel=1e-6)
    # Precision and recall at the documented k = 3, KID with subsets drawn from seed 0.
    reference_features = reference["features"].astype(np.float64)
    assert (got["precision"], got["recall"]) == images.precision_recall(reference_features, features, k=3)
    kid = images.kernel_distance(features, reference_features, 5, 1000, 0)
    assert (got["kid"], got["kid_std"]) == pytest.approx(kid)


def test_mnist_fid_matches_an_eigenvalue_frechet_distance_to_the_shipped_statistics(mnist_test):
    samples = mnist_test[0][mnist_test[1] != 7][:600]
    statistics = mnist_classifier.load_test_statistics()

    def eigenvalue_fid(images):
        features, _ = mnist.mnist_features(images)
        mean, covariance = features.mean(axis=0), np.cov(features, rowvar=False)
        # tr sqrt(C1 C2) is the sum of the square roots of C1 C2's eigenvalues, which are real and
        # non-negative (C1 C2 is similar to C1^1/2 C2 C1^1/2); dead features make it singular.
        eigenvalues = np.linalg.eigvals(covariance @ statistics["covariance"]).real
        trace_root = np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None)))
        return (
            np.sum((mean - statistics["mean"]) ** 2)
            + np.trace(covariance + statistics["covariance"])
            - 2 * trace_root
        )

    assert mnist.mnist_fid(samples) == pytest.approx(eigenvalue_fid(samples), rel=1e-4)
    # Two images, the fewest with a covariance, are enough (a rank-one covariance).
    assert mnist.mnist_fid(samples[:2]) == pytest.approx(eigenvalue_fid(samples[:2]), rel=1e-4)
    assert mnist.mnist_fid(samples) == pytest.approx(mnist.mnist_metrics(samples, num_subsets=2)["fid"])
    with pytest.raises(ValueError, match=r"MNIST images \[n, 28, 28, 1\]"):
        mnist.mnist_fid(np.zeros((4, 8, 8, 1), np.float32))
    for count in (0, 1):
        with pytest.raises(ValueError, match=f"at least 2 images for a covariance. Received {count}"):
            mnist.mnist_fid(np.zeros((count, 28, 28, 1), np.float32))
