"""`dgflow_tf.errors`: what the non-finite policy says, on the host and inside a graph."""

import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import NonFiniteRefinementError, RefinementModel
from dgflow_tf.errors import raise_if_nonfinite


def _nan_for_negative_first_coordinate(z):
    # NaN where z[:, 0] < 0: log of a negative number.
    return tf.where(z[:, :1] < 0.0, tf.math.log(z[:, :1]), z[:, :1]) + 0.0 * z


def _critic(x):
    return -tf.reduce_sum(tf.square(x), axis=-1)


def test_the_nonfinite_error_lists_ten_samples_counts_the_rest_and_says_what_to_do():
    steps = np.full(30, -1)
    steps[[1, 3, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22]] = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]
    with pytest.raises(NonFiniteRefinementError) as caught:
        raise_if_nonfinite(steps, offset=100)
    shown = ", ".join(
        f"sample {100 + i} at step {s}"
        for i, s in zip([1, 3, 4, 6, 8, 10, 12, 14, 16, 18], [0, 1, 2] * 3 + [0], strict=True)
    )
    assert str(caught.value) == (
        f"Refinement produced NaN or Inf for 12 of 30 samples: {shown}, and 2 more. Check the critic's "
        "scale (an exploding gradient), lower `step_size`, or inspect the generator on those latents. "
        "`error.samples` holds the refined batch (bad samples frozen at their last finite state); "
        "on_nonfinite='freeze' returns it with a warning instead of raising."
    )
    assert caught.value.sample_indices.tolist() == [
        101,
        103,
        104,
        106,
        108,
        110,
        112,
        114,
        116,
        118,
        120,
        122,
    ]


def test_the_graph_error_lists_every_bad_position_up_to_twenty():
    # Six of eight samples fail; tf.debugging.Assert shows only 3 entries of a tensor by default.
    z = np.array([[-1.0, 0.0]] * 6 + [[1.0, 0.0]] * 2, "float32")
    model = RefinementModel(_nan_for_negative_first_coordinate, _critic, num_steps=2, latent_shape=(2,))
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        model(z)
    assert "Sample positions:'\n0, 1, 2, 3, 4, 5\n" in str(caught.value)
