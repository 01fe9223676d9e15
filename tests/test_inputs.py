"""What `RefinementModel` accepts: its structure checks on the host (`predict`, `refine`) and in the
graph (`model(inputs)`), and the generator's declared input shape (`inputs.infer_input_shape`)."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel
from dgflow_tf.inputs import infer_input_shape

NOT_CONDITIONAL = r"This model is not conditional: pass `z` as one array\. Received: a tuple"
CONDITIONAL = r"This model is conditional: pass `\(x, conditions\)`"


def _label_shift_critic(inputs):
    samples, labels = inputs
    return -tf.reduce_sum(tf.square(samples - tf.cast(labels, samples.dtype)[:, None]), axis=-1)


def _conditional_model(**kwargs):
    return RefinementModel(
        None,
        _label_shift_critic,
        space="data",
        conditional=True,
        latent_shape=(2,),
        step_size=0.1,
        entropy_weight=0.0,
        num_steps=3,
        dtype="float64",
        **kwargs,
    )


def test_call_takes_conditions_from_a_dict_as_documented():
    # d(x, y) = -|x - y|^2 moves x toward its label: x_K = y + (1 - 2 eta)^K (x_0 - y).
    model = _conditional_model()
    x = np.array([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]])
    labels = np.array([1, 3, -2], dtype="int32")
    expected = labels[:, None] + 0.8**3 * (x - labels[:, None])
    refined = model({"latents": tf.constant(x), "conditions": tf.constant(labels)})
    np.testing.assert_allclose(refined.numpy(), expected, rtol=1e-12)
    # The pair form is the same call.
    np.testing.assert_allclose(model((tf.constant(x), tf.constant(labels))).numpy(), expected, rtol=1e-12)


def test_call_refuses_a_pair_for_an_unconditional_model():
    model = RefinementModel(lambda z: z, lambda x: -tf.reduce_sum(x * x, -1), latent_shape=(2,), num_steps=1)
    z = tf.zeros([4, 2])
    with pytest.raises(
        ValueError, match=r"This model is not conditional: pass `z` as one array\. Received: a tuple"
    ):
        model((z, tf.zeros([4])))
    # A conditional model refuses a lone tensor, naming what it got.
    with pytest.raises(ValueError, match=CONDITIONAL + r".*EagerTensor"):
        _conditional_model()(tf.zeros([4, 2], tf.float64))


def test_call_checks_the_latent_shape_and_names_z():
    model = RefinementModel(lambda z: z, lambda x: -tf.reduce_sum(x * x, -1), latent_shape=(2,), num_steps=1)
    with pytest.raises(ValueError, match=r"`z` must have shape \[batch, 2\] to match the generator's input"):
        model(tf.zeros([4, 3]))
    with pytest.raises(ValueError, match=r"`z` must have a batch axis"):
        model(tf.zeros([4]))


def test_host_inputs_name_what_they_received():
    plain = RefinementModel(lambda z: z, lambda x: -tf.reduce_sum(x * x, -1), latent_shape=(2,), num_steps=1)
    z = np.zeros((4, 2), "float32")
    # A pair whose second item is a scalar is still a pair given to an unconditional model.
    with pytest.raises(
        ValueError, match=r"This model is not conditional: pass `z` as one array\. Received: a tuple"
    ):
        plain.predict((z, 7), verbose=0)
    with pytest.raises(
        ValueError, match=r"This model is conditional: pass `\(x, conditions\)`.*Received: ndarray"
    ):
        _conditional_model().predict(z, verbose=0)
    # Two rows of latents in a list are one batch, not a pair (the first item is one latent).
    np.testing.assert_allclose(plain.predict([[0.0, 0.0], [0.0, 0.0]], verbose=0).shape, (2, 2))


def test_infer_input_shape_reads_each_form_a_model_declares():
    assert infer_input_shape(keras.Sequential([keras.Input((3, 2)), keras.layers.Dense(2)])) == (3, 2)
    # A model that exposes one input tensor, not a list of them.
    assert infer_input_shape(types.SimpleNamespace(inputs=keras.KerasTensor((None, 4)))) == (4,)
    # Only `input_shape` as a tuple (older tf_keras objects); `inputs` is missing.
    assert infer_input_shape(types.SimpleNamespace(input_shape=(None, 5, 6))) == (5, 6)
    # Several inputs, or an unknown dimension: no single declared shape.
    two = types.SimpleNamespace(inputs=[keras.KerasTensor((None, 4)), keras.KerasTensor((None, 1))])
    assert infer_input_shape(two) is None
    assert infer_input_shape(types.SimpleNamespace(input_shape=(None, None, 6))) is None
    assert infer_input_shape(lambda z: z) is None
    # A declared `latent_shape` of positive ints (a flow's base shape), before any Keras input.
    declared = types.SimpleNamespace(latent_shape=(7, 2), input_shape=(None, 5))
    assert infer_input_shape(declared) == (7, 2)
    for bad in (None, (), (0, 2), (2.0,), (True,), "12"):
        fallback = types.SimpleNamespace(latent_shape=bad, input_shape=(None, 5))
        assert infer_input_shape(fallback) == (5,), bad
