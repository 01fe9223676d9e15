"""Metrics for low-dimensional samples, computed in float64 on the host.

- `high_quality_fraction` and `modes_covered` follow DRS (Azadi et al.,
  2019) and DOT (Tanaka, 2019): a sample is high quality when it lies within
  `num_std` standard deviations (Euclidean distance) of its nearest mode.
- `kde_score`: mean log-likelihood of reference points under a Gaussian
  kernel density estimate fitted to the samples (scikit-learn).
- `ot_distance`: the exact earth mover's distance with Euclidean ground cost
  between two point sets with uniform weights (POT's `ot.emd2`).

Examples:
    >>> from dgflow_tf import datasets
    >>> x = datasets.twenty_five_gaussians(500, seed=0)
    >>> high_quality_fraction(x, datasets.TWENTY_FIVE_GAUSSIANS_MODES, datasets.TWENTY_FIVE_GAUSSIANS_STD)
    1.0
"""

import numpy as np

from dgflow_tf._validation import check_positive_float, check_positive_int


def _as_points(points, name, dim=None):
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`{name}` must be a numeric array of shape [n, d]. Received: {points!r}") from error
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"`{name}` must have shape [n, d] with n >= 1. Received: shape {array.shape}")
    if dim is not None and array.shape[1] != dim:
        raise ValueError(
            f"`{name}` must have {dim} columns to match the other set. Received: shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` contains NaN or Inf; metrics need finite points.")
    return array


def nearest_mode(samples: np.ndarray, modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of, and Euclidean distance to, each sample's nearest mode.

    Args:
        samples: `[n, d]` array.
        modes: `[m, d]` array of mode centres.

    Returns:
        A tuple `(indices [n] int, distances [n] float64)`.
    """
    modes = _as_points(modes, "modes")
    samples = _as_points(samples, "samples", dim=modes.shape[1])
    distances = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)
    indices = np.argmin(distances, axis=1)
    return indices, distances[np.arange(len(samples)), indices]


def _high_quality(samples, modes, std, num_std):
    std = check_positive_float(std, "std")
    num_std = check_positive_float(num_std, "num_std")
    indices, distances = nearest_mode(samples, modes)
    return indices, distances <= num_std * std


def high_quality_fraction(samples: np.ndarray, modes: np.ndarray, std: float, num_std: float = 4.0) -> float:
    """Fraction of samples within `num_std * std` of their nearest mode.

    Args:
        samples: `[n, d]` array.
        modes: `[m, d]` mode centres.
        std: positive float, the standard deviation of each mode.
        num_std: positive float. Defaults to `4.0`.

    Returns:
        A float in [0, 1].
    """
    _, high = _high_quality(samples, modes, std, num_std)
    return float(np.mean(high))


def modes_covered(
    samples: np.ndarray, modes: np.ndarray, std: float, num_std: float = 4.0, min_count: int = 1
) -> int:
    """Number of modes that at least `min_count` high-quality samples are nearest to.

    Args:
        samples: `[n, d]` array.
        modes: `[m, d]` mode centres.
        std: positive float, the standard deviation of each mode.
        num_std: positive float. Defaults to `4.0`.
        min_count: positive int. Defaults to `1`.

    Returns:
        An int in [0, m].
    """
    min_count = check_positive_int(min_count, "min_count")
    indices, high = _high_quality(samples, modes, std, num_std)
    counts = np.bincount(indices[high], minlength=len(np.asarray(modes)))
    return int(np.sum(counts >= min_count))


def kde_score(samples: np.ndarray, reference: np.ndarray, bandwidth: float = 0.1) -> float:
    """Mean log-likelihood of `reference` under a Gaussian KDE of `samples`.

        kde(y) = (1/n) sum_i N(y; x_i, bandwidth^2 I)
        score  = mean_j log kde(y_j)

    Fitting to the model's samples and scoring held-out data rewards both
    quality and coverage: a dropped mode leaves its data with low density.
    Higher is better. Compare only at equal sample sizes and bandwidth.

    Args:
        samples: `[n, d]` points the KDE is fitted to (the model's).
        reference: `[m, d]` points scored (held-out data).
        bandwidth: positive float, the kernel's standard deviation.
            Defaults to `0.1`.

    Returns:
        A float (nats per point).
    """
    from sklearn.neighbors import KernelDensity

    bandwidth = check_positive_float(bandwidth, "bandwidth")
    samples = _as_points(samples, "samples")
    reference = _as_points(reference, "reference", dim=samples.shape[1])
    kde = KernelDensity(kernel="gaussian", bandwidth=bandwidth).fit(samples)
    return float(np.mean(kde.score_samples(reference)))


def ot_distance(samples: np.ndarray, reference: np.ndarray, max_iterations: int = 10_000_000) -> float:
    """Exact earth mover's (Wasserstein-1) distance between two point sets.

        W1 = min_{P in U(a, b)} sum_ij P_ij ||x_i - y_j||_2,   a = 1/n, b = 1/m

    solved exactly by POT's network simplex (`ot.emd2`). Cost grows roughly
    cubically in the number of points: a few thousand take seconds. Empirical
    W1 is biased upward at small n; compare at equal sizes.

    Args:
        samples: `[n, d]` array.
        reference: `[m, d]` array.
        max_iterations: the simplex's iteration cap. Defaults to `10_000_000`.

    Returns:
        A float.

    Raises:
        RuntimeError: if the solver stopped before reaching the optimum.
    """
    import ot

    samples = _as_points(samples, "samples")
    reference = _as_points(reference, "reference", dim=samples.shape[1])
    max_iterations = check_positive_int(max_iterations, "max_iterations")
    cost = ot.dist(samples, reference, metric="euclidean")
    weights_a = np.full(len(samples), 1.0 / len(samples))
    weights_b = np.full(len(reference), 1.0 / len(reference))
    value, log = ot.emd2(weights_a, weights_b, cost, numItermax=max_iterations, log=True)
    if log.get("warning"):
        raise RuntimeError(
            f"The exact OT solver did not converge: {log['warning']}. Raise `max_iterations` "
            "or use fewer points."
        )
    return float(value)
