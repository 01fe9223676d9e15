"""`flow`: what a `RefinementModel`'s settings hand to the engine, against the engine called directly."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import dgflow_tf
from dgflow_tf import RefinementModel, divergences, flow, noise, solvers


def _nets():
    init = keras.initializers.GlorotUniform
    # Dropout makes a generator called in training mode differ from the inference call.
    generator = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(2, activation="tanh", kernel_initializer=init(0)),
            keras.layers.Dropout(0.5, seed=0),
        ]
    )
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer=init(1))])
    return generator, critic


def _engine(generator, critic, z, seed, simulate=dgflow_tf.simulate, **settings):
    """The engine's samples for `z`; `generator` is a Keras model or a callable already in inference mode."""
    generate = (
        generator if not isinstance(generator, keras.Model) else lambda zs: generator(zs, training=False)
    )
    return simulate(
        generate,
        dgflow_tf.critics.get(critic),
        divergences.get("KL"),
        tf.constant(z),
        tf.range(len(z), dtype=tf.int64),
        seed,
        step_size=0.05,
        entropy_weight=0.1,
        num_steps=4,
        **settings,
    )["samples"].numpy()


@pytest.mark.parametrize(
    "settings", [{}, {"step_schedule": "linear"}, {"noise_distribution": "rademacher"}], ids=str
)
def test_refine_batch_hands_the_models_schedule_and_noise_to_the_engine(settings):
    generator, critic = _nets()
    model = RefinementModel(generator, critic, step_size=0.05, entropy_weight=0.1, num_steps=4, **settings)
    z = np.random.default_rng(0).normal(size=(6, 3)).astype("float32")
    seed = noise.sanitize_seed(3)
    refined = flow.refine_batch(model, tf.constant(z), tf.range(6, dtype=tf.int64), seed)["samples"].numpy()
    np.testing.assert_allclose(refined, _engine(generator, critic, z, seed, **settings), rtol=1e-6, atol=1e-7)
    if settings:  # the setting changes the samples, so dropping it would show
        assert np.abs(refined - _engine(generator, critic, z, seed)).max() > 1e-4


def test_refine_batch_adds_the_models_log_prior_to_the_drift():
    generator, critic = _nets()
    model = RefinementModel(generator, critic, step_size=0.05, entropy_weight=0.1, num_steps=4)
    model.log_prior = lambda z: -2.0 * tf.reduce_sum(tf.square(z), axis=-1)
    z = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
    seed = noise.sanitize_seed(4)
    refined = flow.refine_batch(model, tf.constant(z), tf.range(5, dtype=tf.int64), seed)["samples"].numpy()
    expected = _engine(generator, critic, z, seed, log_prior=model.log_prior)
    np.testing.assert_allclose(refined, expected, rtol=1e-6, atol=1e-7)
    assert np.abs(refined - _engine(generator, critic, z, seed)).max() > 1e-4


def test_mala_gets_neither_a_schedule_nor_a_noise_argument():
    generator, critic = _nets()
    model = RefinementModel(generator, critic, step_size=0.05, entropy_weight=0.1, num_steps=4, solver="mala")
    z = np.random.default_rng(2).normal(size=(5, 3)).astype("float32")
    seed = noise.sanitize_seed(5)
    refined = flow.refine_batch(model, tf.constant(z), tf.range(5, dtype=tf.int64), seed)["samples"].numpy()
    expected = _engine(generator, critic, z, seed, simulate=solvers.simulate_mala)
    np.testing.assert_allclose(refined, expected, rtol=1e-6, atol=1e-7)


def test_a_conditional_model_binds_its_conditions_into_generator_and_critic():
    z_in, c_in = keras.Input((3,)), keras.Input((1,))
    hidden = keras.layers.Dropout(0.5, seed=0)(keras.layers.Concatenate()([z_in, c_in]))
    generator = keras.Model([z_in, c_in], keras.layers.Dense(2, activation="tanh")(hidden))
    x_in, d_in = keras.Input((2,)), keras.Input((1,))
    critic = keras.Model([x_in, d_in], keras.layers.Dense(1)(keras.layers.Concatenate()([x_in, d_in])))
    model = RefinementModel(
        generator, critic, step_size=0.05, entropy_weight=0.1, num_steps=4, conditional=True
    )
    z = np.random.default_rng(3).normal(size=(4, 3)).astype("float32")
    c = tf.range(4, dtype=tf.float32)[:, None]
    seed = noise.sanitize_seed(6)
    refined = flow.refine_batch(model, tf.constant(z), tf.range(4, dtype=tf.int64), seed, c)
    expected = _engine(
        lambda latents: generator([latents, c], training=False), lambda x: critic([x, c]), z, seed
    )
    np.testing.assert_allclose(refined["samples"].numpy(), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "prior, boundary, constrained",
    [("normal", "reflect", False), ("uniform", "none", False), ("uniform", "clip", True)],
)
def test_only_a_bounded_prior_with_a_boundary_constrains_the_states(prior, boundary, constrained):
    generator, critic = _nets()
    model = RefinementModel(
        generator, critic, step_size=5.0, num_steps=3, latent_prior=prior, boundary=boundary, seed=0
    )
    parts = flow.flow_parts(model, tf.zeros([2, 3]))
    assert (parts.constrain is not None) == constrained
    z = tf.fill([8, 3], 0.9)
    states = flow.refine_batch(model, z, tf.range(8, dtype=tf.int64), noise.sanitize_seed(0))["states"]
    if constrained:  # the uniform prior's box is [-1, 1]: clipping sends 1.5 to 1, and every step stays in
        np.testing.assert_allclose(parts.constrain(tf.fill([1, 3], 1.5)).numpy(), 1.0)
        assert np.abs(states.numpy()).max() <= 1.0
    else:  # steps of 5 leave the box
        assert np.abs(states.numpy()).max() > 1.0
