"""MNIST sample quality against the held-out test set, with what ships in the package.

`mnist_metrics(samples)` scores `[n, 28, 28, 1]` images in `[-1, 1]` in the
feature space of the shipped MNIST classifier
(`zoo.mnist_classifier`, trained on the training split only) against the
shipped statistics of the 10,000 test images, so no data and no download
are needed:

- `fid`: Frechet distance to the test features' mean and covariance;
- `kid`, `kid_std`: kernel distance to the test features;
- `precision`, `recall`: improved precision and recall, `k = 3`, against
  the test features;
- `score`, `score_std`: the classifier score, `exp(E KL(p(y|x) || p(y)))`,
  at most 10.

`mnist_fid(samples)` is the FID alone, for sweeps that run it many times.

The test features ship in float16 (KID, precision and recall use them);
the FID's mean and covariance were computed from the float32 features.

Examples:
    >>> images = datasets.mnist("test")[:2000]  # doctest: +SKIP
    >>> round(mnist_metrics(images)["fid"], 1)  # doctest: +SKIP
    0.4
"""

import functools

import numpy as np

from dgflow_tf.metrics import images as image_metrics


@functools.lru_cache(maxsize=1)
def _shipped():
    from dgflow_tf.zoo import mnist_classifier

    return mnist_classifier.mnist_extractor(), mnist_classifier.load_test_statistics()


def mnist_features(samples, batch_size=500):
    """The shipped classifier's `(features [n, 128], logits [n, 10])` of `samples`, float64.

    Raises:
        ValueError: for samples that are not `[n, 28, 28, 1]` or hold NaN/Inf.
    """
    samples = np.asarray(samples)
    if samples.ndim != 4 or samples.shape[1:] != (28, 28, 1):
        raise ValueError(f"`samples` must be MNIST images [n, 28, 28, 1]. Received shape {samples.shape}")
    return image_metrics.extract(_shipped()[0], samples, batch_size)


def mnist_metrics(
    samples: np.ndarray,
    reference: np.ndarray | None = None,
    num_subsets: int = 100,
    subset_size: int = 1000,
    num_splits: int = 10,
    k: int = 3,
    seed: int = 0,
) -> dict[str, float]:
    """FID, KID, precision, recall and classifier score of MNIST samples against the test set.

    Args:
        samples: `[n, 28, 28, 1]` images in `[-1, 1]`, `n >= 4`.
        reference: `[m, 28, 28, 1]` real images to score against instead
            of the shipped test-set statistics, or `None`. Defaults to
            `None`.
        num_subsets: passed to `kernel_distance`. Defaults to `100`.
        subset_size: passed to `kernel_distance`. Defaults to `1000`.
        num_splits: passed to `classifier_score`. Defaults to `10`.
        k: the neighbour of `precision_recall`. Defaults to `3`.
        seed: seed of KID's subsets. Defaults to `0`.

    Returns:
        A dict with `fid`, `kid`, `kid_std`, `precision`, `recall`, `score`
        and `score_std`.

    Raises:
        ValueError: for samples that are not `[n, 28, 28, 1]` or hold NaN/Inf.
    """
    features, logits = mnist_features(samples)
    if reference is None:
        statistics = _shipped()[1]
        reference_features = statistics["features"].astype(np.float64)
        reference_mean, reference_covariance = statistics["mean"], statistics["covariance"]
    else:
        reference_features = mnist_features(reference)[0]
        reference_mean, reference_covariance = (
            reference_features.mean(axis=0),
            np.cov(reference_features, rowvar=False),
        )
    kid, kid_std = image_metrics.kernel_distance(features, reference_features, num_subsets, subset_size, seed)
    precision, recall = image_metrics.precision_recall(reference_features, features, k=k)
    score, score_std = image_metrics.classifier_score(logits, num_splits)
    fid = _frechet_distance(features, reference_mean, reference_covariance)
    return {
        "fid": fid,
        "kid": kid,
        "kid_std": kid_std,
        "precision": precision,
        "recall": recall,
        "score": score,
        "score_std": score_std,
    }


def mnist_fid(samples: np.ndarray) -> float:
    """FID of MNIST samples against the shipped test-set statistics: `mnist_metrics(samples)["fid"]` alone.

    For sweeps that need only the FID: it skips KID, precision, recall and
    the classifier score, whose neighbour search over the 10,000 test
    features costs more than the FID itself.

    Args:
        samples: `[n, 28, 28, 1]` images in `[-1, 1]`, `n >= 2`.

    Returns:
        The Frechet distance, a float.

    Raises:
        ValueError: for fewer than 2 samples (a covariance needs two), or
            samples that are not `[n, 28, 28, 1]` or hold NaN/Inf.

    Examples:
        >>> round(mnist_fid(datasets.mnist("test")[:2000]), 1)  # doctest: +SKIP
        0.4
    """
    if len(samples) < 2:
        raise ValueError(
            f"`samples` must hold at least 2 images for a covariance. Received {len(samples)}; pass more."
        )
    statistics = _shipped()[1]
    return _frechet_distance(mnist_features(samples)[0], statistics["mean"], statistics["covariance"])


def _frechet_distance(features, reference_mean, reference_covariance):
    return image_metrics.frechet_distance_from_moments(
        features.mean(axis=0), np.cov(features, rowvar=False), reference_mean, reference_covariance
    )
