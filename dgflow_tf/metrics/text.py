"""Character n-gram metrics for text samples (the paper's JS-n).

JS-n is the Jensen-Shannon divergence, in bits, between the distribution of
character n-grams in generated samples and in held-out text:

    JS(P, Q) = 0.5 KL(P || M) + 0.5 KL(Q || M),  M = (P + Q) / 2,  log base 2

It lies in `[0, 1]`; lower is closer. n-grams are counted inside each
string (a sample's n-grams never span two samples).

Examples:
    >>> round(js_divergence(["abab"], ["abab"], n=2), 6)
    0.0
    >>> js_divergence(["aaaa"], ["bbbb"], n=1)
    1.0
"""

import collections
from collections.abc import Sequence

import numpy as np

from dgflow_tf._validation import check_positive_int


def ngram_counts(strings: Sequence[str], n: int):
    """Counts of every character n-gram in `strings`.

    Args:
        strings: an iterable of strings.
        n: positive int.

    Returns:
        A `collections.Counter` mapping n-grams to counts.

    Raises:
        TypeError: if an element is not a string.
    """
    n = check_positive_int(n, "n")
    counts = collections.Counter()
    for text in strings:
        if not isinstance(text, str):
            raise TypeError(f"`strings` must hold str. Received: {type(text).__name__}")
        counts.update(text[i : i + n] for i in range(len(text) - n + 1))
    return counts


def js_divergence(samples: Sequence[str], reference: Sequence[str], n: int) -> float:
    """JS-n: Jensen-Shannon divergence (base 2) between n-gram distributions.

    Args:
        samples: iterable of generated strings.
        reference: iterable of held-out strings (or one long string in a
            list).
        n: the n-gram length, a positive int.

    Returns:
        A float in `[0, 1]`.

    Raises:
        ValueError: if either side has no n-gram of length `n`.
    """
    p_counts, q_counts = ngram_counts(samples, n), ngram_counts(reference, n)
    if not p_counts or not q_counts:
        raise ValueError(f"Both `samples` and `reference` need strings of at least n={n} characters.")
    keys = sorted(set(p_counts) | set(q_counts))
    p = np.array([p_counts[key] for key in keys], dtype=np.float64)
    q = np.array([q_counts[key] for key in keys], dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl_to_m(a):
        support = a > 0
        return float(np.sum(a[support] * np.log2(a[support] / m[support])))

    return 0.5 * kl_to_m(p) + 0.5 * kl_to_m(q)


def js_table(samples, reference, orders=(1, 2, 3, 4)):
    """`{"js1": ..., "js4": ...}` for each n in `orders`."""
    return {f"js{n}": js_divergence(samples, reference, n) for n in orders}
