"""Image-quality metrics from a classifier's activations and logits.

- `frechet_distance`: the Frechet distance between Gaussians fitted to two
  sets of activations (FID when the activations are InceptionV3's pool3).
- `kernel_distance`: the unbiased squared MMD with the cubic polynomial kernel
  `k(a, b) = (a.b / dim + 1)^3`, averaged over random subsets, with the
  subsets' standard deviation (KID, Binkowski et al., 2018).
- `classifier_score`: `exp(E_x KL(p(y|x) || p(y)))` from logits (the
  Inception score, Salimans et al., 2016).

Everything is computed in float64 on the host. The activations come from a
classifier run over the images (`dgflow_tf.metrics.features`, re-exported
here): offline a small digits or MNIST classifier from `dgflow_tf.zoo`,
online Keras' InceptionV3 with `inception_v3_extractor`.

Examples:
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(500, 4)), rng.normal(size=(500, 4)) + 1.0
    >>> round(frechet_distance(a, b), 1)  # about ||1||^2 = 4
    4.2
"""

from collections.abc import Callable

import numpy as np
import scipy.linalg
import scipy.special

from dgflow_tf._validation import check_positive_int
from dgflow_tf.metrics.features import extract, inception_v3_extractor  # noqa: F401  (re-exported)


def _activations(values, name, min_rows=2):
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(
            f"`{name}` must be a 2-D array [num_samples, num_features]. Received shape {array.shape}. "
            "Flatten or pool the activations first."
        )
    if array.shape[0] < min_rows:
        raise ValueError(f"`{name}` needs at least {min_rows} rows. Received shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad_rows = np.flatnonzero(~np.isfinite(array).all(axis=1))[:10].tolist()
        raise ValueError(f"`{name}` contains NaN or Inf in rows {bad_rows}")
    return array


def _pair(a, b, names, min_rows=2):
    a = _activations(a, names[0], min_rows)
    b = _activations(b, names[1], min_rows)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same number of features. "
            f"Received {a.shape[1]} and {b.shape[1]}"
        )
    return a, b


def _eigenvalue_cutoff(values):
    """Zeroes eigenvalues at round-off level: `|v| <= max|v| * n * eps` (NumPy's `matrix_rank` tolerance).

    A rank-deficient covariance (fewer samples than features, dead ReLU
    features) has eigenvalues that are exactly 0 in exact arithmetic but
    about `1e-16 * max` in floating point; their square roots, about `1e-8`,
    would bias the distance.
    """
    tolerance = np.max(np.abs(values), initial=0.0) * len(values) * np.finfo(np.float64).eps
    return np.where(values > tolerance, values, 0.0)


def frechet_distance(activations_a: np.ndarray, activations_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two sets of activations.

    `||m_a - m_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`, with sample means
    and unbiased covariances. The trace of the matrix square root is taken
    from the eigenvalues of the symmetric `S_a^(1/2) S_b S_a^(1/2)` (SciPy's
    `eigh`), which equals `tr(sqrtm(S_a S_b))` and stays real and finite
    for singular covariances. Eigenvalues at round-off level (below
    `max * n * eps`) count as zero, so a rank-deficient covariance (fewer
    samples than features, dead features) gives the value computed in the
    subspace the activations span.

    Args:
        activations_a: `[n_a, dim]` array.
        activations_b: `[n_b, dim]` array.

    Returns:
        A Python float >= 0 (up to rounding).

    Raises:
        ValueError: for arrays that are not 2-D, have fewer than 2 rows,
            differ in width, or hold NaN/Inf.
    """
    a, b = _pair(activations_a, activations_b, ("activations_a", "activations_b"))
    return frechet_distance_from_moments(
        a.mean(axis=0), np.cov(a, rowvar=False), b.mean(axis=0), np.cov(b, rowvar=False)
    )


def frechet_distance_from_moments(
    mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray
) -> float:
    """`frechet_distance` from means and covariances, e.g. a data set's shipped statistics.

    Args:
        mean_a: `[dim]` mean.
        cov_a: `[dim, dim]` symmetric covariance.
        mean_b: `[dim]` mean.
        cov_b: `[dim, dim]` symmetric covariance.

    Returns:
        A Python float >= 0 (up to rounding).

    Raises:
        ValueError: for shapes that do not match.
    """
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a = np.atleast_2d(np.asarray(cov_a, np.float64))
    cov_b = np.atleast_2d(np.asarray(cov_b, np.float64))
    dim = mean_a.shape[0]
    if {mean_a.shape, mean_b.shape} != {(dim,)} or {cov_a.shape, cov_b.shape} != {(dim, dim)}:
        raise ValueError(
            f"Means must be [dim] and covariances [dim, dim] of one dim. Received shapes {mean_a.shape}, "
            f"{cov_a.shape}, {mean_b.shape}, {cov_b.shape}."
        )
    # tr((S_a S_b)^(1/2)) = tr((R S_b R)^(1/2)) with R = S_a^(1/2): the
    # symmetric form has real eigenvalues, so singular covariances (dead
    # ReLU features) need no ridge and raise no complex parts.
    values, vectors = scipy.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(_eigenvalue_cutoff(values))) @ vectors.T
    product_values = scipy.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(_eigenvalue_cutoff(product_values)).sum()
    difference = mean_a - mean_b
    return float(difference @ difference + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root)


def _unbiased_mmd2(a, b):
    dim = a.shape[1]
    k_aa = (a @ a.T / dim + 1.0) ** 3
    k_bb = (b @ b.T / dim + 1.0) ** 3
    k_ab = (a @ b.T / dim + 1.0) ** 3
    m, n = len(a), len(b)
    return (
        (k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
        + (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
        - 2.0 * k_ab.mean()
    )


def kernel_distance(
    activations_a: np.ndarray,
    activations_b: np.ndarray,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel (Inception) distance: unbiased MMD^2 with a cubic polynomial kernel.

    Each of `num_subsets` rounds draws `subset_size` rows of each set without
    replacement (seeded) and computes the unbiased MMD^2. The result is their
    mean and their standard deviation (NumPy's `std`, `ddof=0`): the error
    bar that torch-fidelity (`kernel_inception_distance_std`) prints, the
    spread one subset's estimate has. (TF-GAN's `kernel_classifier_distance`
    instead splits the sets into disjoint blocks in input order and reports
    the blocks' standard error.)

    A `subset_size` as large as either set is replaced by half the smaller
    set: subsets as large as a whole set would all be that set,
    with a spread of 0 that means nothing. The mean is unbiased at any
    subset size.

    Args:
        activations_a: `[n_a, dim]` array.
        activations_b: `[n_b, dim]` array.
        num_subsets: positive int. Defaults to `100`.
        subset_size: positive int; half the smaller set (at least 2) if it
            is as large as either set. Defaults to `1000`.
        seed: int seed of the subset draws. Defaults to `0`.

    Returns:
        `(mean, std)` as Python floats. The mean can be slightly negative:
        the estimator is unbiased.

    Raises:
        ValueError: for bad arrays (fewer than 4 rows) or a non-positive
            `num_subsets` or `subset_size`.
    """
    a, b = _pair(activations_a, activations_b, ("activations_a", "activations_b"))
    num_subsets = check_positive_int(num_subsets, "num_subsets")
    size = check_positive_int(subset_size, "subset_size")
    if size >= min(len(a), len(b)):
        size = max(2, min(len(a), len(b)) // 2)
    rng = np.random.default_rng(seed)
    estimates = np.array(
        [
            _unbiased_mmd2(
                a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)]
            )
            for _ in range(num_subsets)
        ]
    )
    return float(estimates.mean()), float(estimates.std())


def _pairwise_distances(a, b):
    squared = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


def _kth_neighbour_radii(points, k, block):
    radii = np.empty(len(points))
    for start in range(0, len(points), block):
        distances = _pairwise_distances(points[start : start + block], points)
        # Column k of the sorted row: index 0 is the point itself (distance 0).
        radii[start : start + block] = np.partition(distances, k, axis=1)[:, k]
    return radii


def _fraction_inside(queries, centres, radii, block):
    inside = np.empty(len(queries), dtype=bool)
    for start in range(0, len(queries), block):
        distances = _pairwise_distances(queries[start : start + block], centres)
        inside[start : start + block] = (distances <= radii[None, :]).any(axis=1)
    return float(inside.mean())


def precision_recall(
    real_activations: np.ndarray, fake_activations: np.ndarray, k: int = 3, block: int = 1000
) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al., 2019, https://arxiv.org/abs/1904.06991).

    Each set's manifold is the union of balls around its points, each ball's
    radius the distance to the point's `k`-th nearest neighbour in its own
    set. Precision is the fraction of fake points inside the real manifold
    (quality); recall the fraction of real points inside the fake manifold
    (coverage). Distances are Euclidean, in float64, computed in blocks of
    `block` rows.

    Args:
        real_activations: `[n_real, dim]` array, `n_real > k`.
        fake_activations: `[n_fake, dim]` array, `n_fake > k`.
        k: the neighbour that sets each radius. Defaults to `3`, the paper's.
        block: rows per block of the distance matrix. Defaults to `1000`.

    Returns:
        `(precision, recall)` as Python floats in `[0, 1]`.

    Raises:
        ValueError: for bad arrays, sets of `k` points or fewer, or a
            non-positive `k`.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> real = rng.normal(size=(500, 2))
        >>> precision, recall = precision_recall(real, rng.normal(size=(500, 2)) * 0.3)
        >>> precision > 0.95, recall < 0.5  # a collapsed model: precise, poor coverage
        (True, True)
    """
    k = check_positive_int(k, "k")
    block = check_positive_int(block, "block")
    real, fake = _pair(real_activations, fake_activations, ("real_activations", "fake_activations"), k + 1)
    real_radii = _kth_neighbour_radii(real, k, block)
    fake_radii = _kth_neighbour_radii(fake, k, block)
    return _fraction_inside(fake, real, real_radii, block), _fraction_inside(real, fake, fake_radii, block)


def classifier_score(logits: np.ndarray, num_splits: int = 10) -> tuple[float, float]:
    """Inception-style score `exp(E_x KL(p(y|x) || p(y)))` from logits.

    The samples are cut into `num_splits` consecutive parts; each part gets
    its own marginal `p(y)` and score.

    Args:
        logits: `[num_samples, num_classes]` unnormalised log-probabilities.
        num_splits: positive int. Defaults to `10`.

    Returns:
        `(mean, std)` of the per-split scores, Python floats. The score lies
        in `[1, num_classes]`.

    Raises:
        ValueError: for bad logits or `num_splits` larger than the number of
            samples.
    """
    logits = _activations(logits, "logits", min_rows=1)
    num_splits = check_positive_int(num_splits, "num_splits")
    if num_splits > len(logits):
        raise ValueError(
            f"`num_splits` ({num_splits}) must not exceed the number of samples ({len(logits)})."
        )
    log_p = logits - scipy.special.logsumexp(logits, axis=1, keepdims=True)
    scores = []
    for part in np.array_split(log_p, num_splits):
        log_marginal = scipy.special.logsumexp(part, axis=0) - np.log(len(part))
        kl = np.sum(np.exp(part) * (part - log_marginal), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def image_metrics(
    samples: np.ndarray,
    reference: np.ndarray,
    extractor: Callable,
    num_subsets: int = 100,
    subset_size: int = 1000,
    num_splits: int = 10,
    seed: int = 0,
) -> dict[str, float]:
    """FID, KID (with its subsets' standard deviation) and classifier score of `samples`.

    Args:
        samples: `[n, h, w, c]` generated images.
        reference: `[m, h, w, c]` real images, or precomputed reference
            `features` (2-D) to avoid recomputing them.
        extractor: callable returning `(features, logits)` for a batch.
        num_subsets: passed to `kernel_distance`.
        subset_size: passed to `kernel_distance`.
        seed: passed to `kernel_distance`.
        num_splits: passed to `classifier_score`.

    Returns:
        A dict with `fid`, `kid`, `kid_std`, `score` and `score_std`.
    """
    features, logits = extract(extractor, samples)
    reference = np.asarray(reference)
    reference_features = reference if reference.ndim == 2 else extract(extractor, reference)[0]
    kid, kid_std = kernel_distance(features, reference_features, num_subsets, subset_size, seed)
    score, score_std = classifier_score(logits, num_splits)
    return {
        "fid": frechet_distance(features, reference_features),
        "kid": kid,
        "kid_std": kid_std,
        "score": score,
        "score_std": score_std,
    }
