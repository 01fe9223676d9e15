"""`CallableLayer`: every kind of callable runs in inference mode, and what cannot be called is named."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from dgflow_tf.layers import CallableLayer

X = tf.constant([[1.0, -2.0]])


# Layers whose call defaults to training=True: called without `training`, they add 1.
class _KerasTrainingByDefault(keras.layers.Layer):
    def call(self, x, training=True):
        return x + 1.0 if training else x


class _TfKerasTrainingByDefault(tf_keras.layers.Layer):
    def call(self, x, training=True):
        return x + 1.0 if training else x


def _function_training_by_default(x, training=True):
    return x + 1.0 if training else x


@pytest.mark.parametrize(
    "make",
    [
        _KerasTrainingByDefault,
        lambda: tf_keras.Sequential([tf_keras.Input((2,)), _TfKerasTrainingByDefault()]),
        lambda: _function_training_by_default,
    ],
    ids=["keras-layer", "tf_keras-model", "function"],
)
def test_callables_that_take_training_are_called_in_inference_mode(make):
    wrapped = make()
    assert np.array_equal(np.asarray(wrapped(X)), X.numpy() + 1.0)  # their own default: training
    np.testing.assert_array_equal(CallableLayer(wrapped)(X).numpy(), X.numpy())


class _Opaque:
    """A callable whose signature Python cannot read (as some C-extension callables), without `training`."""

    __signature__ = "unreadable"

    def __call__(self, x):
        return 3.0 * x


def test_callables_without_training_or_a_readable_signature_get_only_the_batch():
    np.testing.assert_array_equal(CallableLayer(_Opaque())(X).numpy(), 3.0 * X.numpy())
    np.testing.assert_array_equal(CallableLayer(lambda x: -x)(X).numpy(), -X.numpy())


def test_a_non_callable_is_named_with_its_type():
    with pytest.raises(TypeError) as caught:
        CallableLayer(5)
    assert str(caught.value) == (
        "`fn` must be a callable that maps a batch tensor to a batch tensor. Received: fn=5 of type int"
    )
