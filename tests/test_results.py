"""`RefinementModel.refine`'s result options (`dgflow_tf.results`): bad values named with the fix."""

import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel


def _model():
    return RefinementModel(
        lambda z: 2.0 * z, lambda x: -tf.reduce_sum(x * x, -1), latent_shape=(2,), num_steps=2, seed=0
    )


Z = np.zeros((3, 2), "float32")


def test_a_negative_trajectory_every_is_named():
    with pytest.raises(ValueError) as caught:
        _model().refine(Z, trajectory_every=-1)
    assert str(caught.value) == "`trajectory_every` must be an integer >= 0. Received: trajectory_every=-1"


def test_metrics_must_be_a_dict_of_callables_and_need_recorded_steps():
    expected = (
        "`metrics` must be a dict mapping names to callables of a batch of samples, e.g. "
        "{'fid': lambda x: frechet_distance(x, reference)}."
    )
    for metrics in ([np.mean], {"mean": 1.0}):
        with pytest.raises(TypeError) as caught:
            _model().refine(Z, trajectory_every=1, metrics=metrics)
        assert str(caught.value) == expected
    with pytest.raises(ValueError, match=r"pass trajectory_every > 0 \(e\.g\. 5\) as well"):
        _model().refine(Z, metrics={"mean": np.mean})
