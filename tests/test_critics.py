"""Critics as layers: the log ratio each kind of discriminator gives, checked against NumPy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf.critics import LogitCritic, ProbabilityCritic, WassersteinCritic, per_sample_values


def _dropout_discriminator(activation=None):
    """A discriminator whose output changes in training mode (dropout of rate 0.5)."""
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(1, activation=activation),
        ]
    )


def test_every_critic_reads_its_discriminator_in_inference_mode():
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    logits = _dropout_discriminator()
    expected = logits(x, training=False).numpy()[:, 0]
    np.testing.assert_allclose(LogitCritic(logits)(x).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(WassersteinCritic(logits, scale=2.0)(x).numpy(), 2 * expected, rtol=1e-6)
    probabilities = _dropout_discriminator("sigmoid")
    p = probabilities(x, training=False).numpy()[:, 0].astype("float64")
    np.testing.assert_allclose(
        ProbabilityCritic(probabilities)(x).numpy(), np.log(p) - np.log1p(-p), rtol=1e-4, atol=1e-5
    )


def test_a_critic_takes_samples_with_their_conditions():
    x, label = keras.Input((2,)), keras.Input((), dtype="int32")
    shifted = keras.layers.Lambda(lambda pair: pair[0][:, :1] - keras.ops.cast(pair[1], "float32")[:, None])
    discriminator = keras.Model([x, label], shifted([x, label]))
    samples = np.array([[1.0, 5.0], [3.0, 5.0], [0.0, 5.0]], "float32")
    labels = np.array([1, 1, 2], "int32")
    for conditional_inputs in ([samples, labels], (samples, labels)):
        np.testing.assert_allclose(LogitCritic(discriminator)(conditional_inputs).numpy(), [0.0, 2.0, -2.0])


def test_a_wrapped_callable_is_named_for_its_role_in_summaries():
    critic = LogitCritic(lambda x: tf.reduce_sum(x, axis=-1))
    critic(tf.ones([2, 3]))
    assert critic.discriminator.name == "discriminator"


@pytest.mark.parametrize(
    "values, message",
    [
        (tf.zeros([3, 2]), r"`critic` must return one value per sample, shape \[batch\] or \[batch, 1\]"),
        (tf.zeros([4]), r"`critic` must return one value per sample\. Received 4 values for a batch of 3"),
        (tf.zeros([3], tf.int32), r"`critic` must return floating-point values"),
        ((tf.zeros([3]),), r"`critic` must return a single tensor"),
    ],
)
def test_per_sample_values_names_the_critic_by_default(values, message):
    with pytest.raises((TypeError, ValueError), match=message):
        per_sample_values(values, 3)
