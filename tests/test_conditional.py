"""Conditional generators and critics: labels ride along, unchanged, with every sample."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel

MEANS = np.array([[2.0, 0.0], [-1.0, 3.0], [0.0, -2.0]])


def _quadratic_critic(inputs):
    samples, labels = inputs
    means = tf.gather(tf.constant(MEANS, samples.dtype), labels)
    return -tf.reduce_sum(tf.square(samples - means), axis=-1)


def test_data_space_flow_moves_each_sample_toward_its_class_in_closed_form():
    # d(x, y) = -|x - m_y|^2 gives x_{k+1} = x_k - 2 eta (x_k - m_y), so
    # x_K = m_y + (1 - 2 eta)^K (x_0 - m_y) for each label's own mean.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    labels = rng.integers(0, 3, size=30).astype("int32")
    model = RefinementModel(
        None,
        _quadratic_critic,
        space="data",
        conditional=True,
        step_size=0.1,
        entropy_weight=0.0,
        num_steps=7,
        latent_shape=(2,),
        dtype="float64",
    )
    refined = model.predict((x, labels), batch_size=8, verbose=0)
    expected = MEANS[labels] + 0.8**7 * (x - MEANS[labels])
    np.testing.assert_allclose(refined, expected, rtol=1e-12, atol=1e-12)


def _conditional_nets(dtype="float64"):
    keras.utils.set_random_seed(3)
    z, label = keras.Input((3,), dtype=dtype), keras.Input((), dtype="int32")
    embedded = keras.layers.Embedding(3, 3, dtype=dtype)(label)
    hidden = keras.layers.Dense(8, activation="tanh", dtype=dtype)(keras.layers.Concatenate()([z, embedded]))
    generator = keras.Model([z, label], keras.layers.Dense(2, dtype=dtype)(hidden))
    x, label = keras.Input((2,), dtype=dtype), keras.Input((), dtype="int32")
    embedded = keras.layers.Embedding(3, 2, dtype=dtype)(label)
    hidden = keras.layers.Dense(8, activation="tanh", dtype=dtype)(keras.layers.Concatenate()([x, embedded]))
    critic = keras.Model([x, label], keras.layers.Dense(1, dtype=dtype)(hidden))
    return generator, critic


def test_conditional_model_equals_one_unconditional_model_per_label():
    generator, critic = _conditional_nets()
    model = RefinementModel(
        generator,
        critic,
        conditional=True,
        latent_shape=(3,),
        num_steps=5,
        seed=4,
        dtype="float64",
        step_size=0.1,
    )
    z = model.sample_latents(24, seed=0)
    labels = np.arange(24, dtype="int32") % 3
    refined = model.refine((z, labels)).samples
    for label in range(3):
        fixed = tf.fill([24], label)
        single = RefinementModel(
            lambda latents, fixed=fixed: generator([latents, fixed[: tf.shape(latents)[0]]]),
            lambda samples, fixed=fixed: critic([samples, fixed[: tf.shape(samples)[0]]]),
            latent_shape=(3,),
            num_steps=5,
            step_size=0.1,
            seed=4,
            dtype="float64",
        )
        rows = labels == label
        np.testing.assert_allclose(refined[rows], single.refine(z).samples[rows], rtol=1e-12, atol=1e-12)
    # The labels matter: the same latents with other labels refine elsewhere.
    shifted = model.refine((z, (labels + 1) % 3)).samples
    assert np.abs(shifted - refined).min() > 1e-6


def test_conditional_inputs_are_checked():
    generator, critic = _conditional_nets()
    model = RefinementModel(
        generator, critic, conditional=True, latent_shape=(3,), num_steps=1, dtype="float64"
    )
    z = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"This model is conditional: pass `\(z, conditions\)`"):
        model.predict(z, verbose=0)
    with pytest.raises(ValueError, match="`conditions` must have one row per latent"):
        model.refine((z, np.zeros(5, "int32")))
    plain = RefinementModel(lambda z: z, lambda x: x[:, 0], latent_shape=(3,))
    with pytest.raises(ValueError, match="This model is not conditional"):
        plain.refine((z, np.zeros((4, 1))))
    with pytest.raises(TypeError, match="`conditional` must be True or False"):
        RefinementModel(lambda z: z, lambda x: x[:, 0], conditional="yes")
