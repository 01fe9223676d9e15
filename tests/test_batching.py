"""The one batching loop (`batching.map_batches`) and refinement on top of it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel
from dgflow_tf.batching import map_batches


class _Outputs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_predict_batch_end(self, batch, logs=None):
        self.seen.append((batch, np.array(logs["outputs"])))


def test_map_batches_concatenates_numpy_and_tensor_outputs_in_order():
    values = np.arange(7.0)
    recorder = _Outputs()
    callbacks = keras.callbacks.CallbackList([recorder])
    # A function returning NumPy arrays (not tensors) and a nest of them.
    doubled, negated = map_batches(lambda x: (2 * x, -x), [values], batch_size=3, callbacks=callbacks)
    np.testing.assert_array_equal(doubled, 2 * values)
    np.testing.assert_array_equal(negated, -values)
    assert [batch for batch, _ in recorder.seen] == [0, 1, 2]
    np.testing.assert_array_equal(recorder.seen[2][1], [12.0])
    # Tensors come back as NumPy too.
    as_tensor = map_batches(lambda x: tf.square(x), [tf.constant(values)], batch_size=4)
    assert isinstance(as_tensor, np.ndarray)
    np.testing.assert_array_equal(as_tensor, values**2)


def test_map_batches_passes_none_through_and_stops_after_num_batches():
    calls = []

    def record(x, nothing):
        calls.append(nothing)
        return x

    np.testing.assert_array_equal(map_batches(record, [np.arange(10), None], 4, num_batches=2), np.arange(8))
    assert calls == [None, None]


def test_map_batches_of_no_rows_calls_fn_once_and_keeps_its_trailing_shape_and_dtype():
    calls = []

    def widen(x):
        calls.append(x.shape)
        return tf.concat([tf.cast(x, tf.float64), tf.zeros([tf.shape(x)[0], 1], tf.float64)], axis=1)

    # Zero rows still make one (empty) call, so the result has fn's columns and dtype, not (0,).
    result = map_batches(widen, [np.zeros((0, 3), np.float32)], batch_size=4)
    assert calls == [(0, 3)]
    assert result.shape == (0, 4) and result.dtype == np.float64


@pytest.mark.parametrize("batch_size", [0, -2, 1.5, True])
def test_map_batches_names_a_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer\. Received: batch_size="):
        map_batches(lambda x: x, [np.arange(3)], batch_size=batch_size)


def test_predict_steps_refines_only_the_first_batches():
    # A flat critic, no noise and a flat prior: refinement is the identity, so rows are easy to follow.
    model = RefinementModel(
        lambda z: z,
        lambda x: tf.reduce_sum(0.0 * x, axis=-1),
        latent_shape=(2,),
        latent_prior="uniform",
        entropy_weight=0.0,
        step_size=0.1,
        num_steps=2,
    )
    z = np.linspace(-0.9, 0.9, 14, dtype="float32").reshape(7, 2)
    np.testing.assert_array_equal(model.predict(z, batch_size=2, steps=2, verbose=0), z[:4])
    np.testing.assert_array_equal(model.predict(z, batch_size=2, verbose=0), z)
