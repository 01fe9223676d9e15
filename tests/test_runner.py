"""The compiled refinement of one batch (`runner.CompiledRefinement`): one trace per kind of input,
XLA when asked, trajectories for conditional models, and errors that name the culprit."""

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel

MEANS = np.array([[2.0, 0.0], [-1.0, 3.0]])


def _toward_label_mean(inputs):
    samples, labels = inputs
    return -tf.reduce_sum(tf.square(samples - tf.gather(tf.constant(MEANS, samples.dtype), labels)), axis=-1)


def test_a_conditional_trajectory_follows_the_closed_form():
    # d(x, y) = -|x - m_y|^2, no noise: x_k = m_y + (1 - 2 eta)^k (x_0 - m_y).
    model = RefinementModel(
        None,
        _toward_label_mean,
        space="data",
        conditional=True,
        latent_shape=(2,),
        step_size=0.1,
        entropy_weight=0.0,
        num_steps=6,
        dtype="float64",
    )
    x = np.array([[0.0, 0.0], [1.0, 1.0], [4.0, -2.0]])
    labels = np.array([0, 1, 1], "int32")
    result = model.refine((x, labels), trajectory_every=2)
    steps = np.array([0, 2, 4, 6])
    expected = MEANS[labels][None] + 0.8 ** steps[:, None, None] * (x - MEANS[labels])[None]
    np.testing.assert_array_equal(result.trajectory_steps, steps)
    np.testing.assert_allclose(result.state_trajectory, expected, rtol=1e-12, atol=1e-12)


def _tracing_model(**kwargs):
    keras.utils.set_random_seed(0)
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="tanh")])
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    return RefinementModel(generator, critic, step_size=0.01, num_steps=2, seed=0, **kwargs)


def test_one_trace_serves_every_batch_size_and_xla_is_used_when_asked():
    z = np.random.default_rng(0).normal(size=(9, 2)).astype("float32")
    for jit_compile in (False, True):
        model = _tracing_model(jit_compile=jit_compile)
        for rows in (2, 9, 4):
            model.refine(z[:rows])
        (function,) = model._caches.compiled.functions.values()
        assert function.experimental_get_tracing_count() == 1
        graph = function.get_concrete_function().function_def
        assert graph.attr["_XlaMustCompile"].b is jit_compile


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_many_refiners_that_each_trace_once_raise_no_retracing_warning():
    # TensorFlow counts traces per Python function across instances; six refiners, one trace each.
    records = _Records()
    logger = tf.get_logger()
    logger.addHandler(records)
    try:
        z = np.zeros((3, 2), "float32")
        for _ in range(6):
            _tracing_model().refine(z)
    finally:
        logger.removeHandler(records)
    assert not [message for message in records.messages if "retracing" in message]


def _squared_norm_model():
    # d(x) = -|x|^2 in data space, no noise: x_k = (1 - 2 eta)^k x_0 whatever the dimension.
    return RefinementModel(
        None,
        lambda x: -tf.reduce_sum(tf.square(x), axis=-1),
        space="data",
        step_size=0.1,
        entropy_weight=0.0,
        num_steps=4,
        dtype="float64",
    )


def test_each_kind_of_input_and_recording_gets_its_own_compiled_function():
    model = _squared_norm_model()
    flat = np.array([[1.0, -2.0], [0.5, 3.0]])
    wide = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(model.refine(flat).samples, 0.8**4 * flat, rtol=1e-12)
    recorded = model.refine(flat, trajectory_every=2)
    np.testing.assert_allclose(
        recorded.state_trajectory, 0.8 ** np.array([0, 2, 4])[:, None, None] * flat[None], rtol=1e-12
    )
    np.testing.assert_allclose(model.refine(wide).samples, 0.8**4 * wide, rtol=1e-12)
    assert len(model._caches.compiled.functions) == 3


def test_inputs_a_critic_cannot_take_name_the_critic_on_the_first_and_on_a_later_kind():
    keras.utils.set_random_seed(0)
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    settings = dict(space="data", step_size=0.1, num_steps=2, seed=0)
    wide = np.ones((3, 3), "float32")
    message = r"`critic` cannot be applied to the generator's samples of shape \[3, 3\]"
    with pytest.raises(ValueError, match=message):
        RefinementModel(None, critic, **settings).refine(wide)
    model = RefinementModel(None, critic, **settings)
    model.refine(np.ones((3, 2), "float32"))  # a kind of input that fits is validated first
    with pytest.raises(ValueError, match=message):
        model.refine(wide)
