"""Refining TFP flows: the adapter against a hand-written loop over the bijector."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from dgflow_tf import RefinementModel, noise
from dgflow_tf.adapters.flows import FlowGenerator, base_latents, flow_refinement_model
from dgflow_tf.zoo.flows import RealNVPFlow

tfb = tfp.bijectors
tfd = tfp.distributions

DIM, STEP, GAMMA, STEPS, SEED = 4, 0.05, 0.02, 6, 11


def _coupling(x, output_units):
    # A fixed float64 coupling function (no variables): shift and log-scale of the masked half.
    w_shift = tf.constant([[0.5, -0.3], [0.2, 0.8]], tf.float64)
    w_scale = tf.constant([[0.1, 0.4], [-0.6, 0.2]], tf.float64)
    return tf.tanh(x @ w_shift), 0.5 * tf.tanh(x @ w_scale)


@pytest.fixture(scope="module")
def flow():
    bijector = tfb.Chain(
        [
            tfb.Sigmoid(),
            tfb.Permute([3, 1, 0, 2]),
            tfb.RealNVP(num_masked=2, shift_and_log_scale_fn=_coupling),
        ]
    )
    base = tfd.MultivariateNormalDiag(loc=tf.zeros([DIM], tf.float64))
    return tfd.TransformedDistribution(base, bijector)


def critic(x):
    # Log ratio of a target that prefers pixels near 0.7: d(x) = -2 ||x - 0.7||^2.
    return -2.0 * tf.reduce_sum(tf.square(x - 0.7), axis=-1)


def _hand_loop(forward, latents, refine_in_base_space):
    """z <- z + eta grad d(...) + sqrt(2 gamma eta) xi_k, the KL update, one step at a time."""
    state = tf.constant(latents) if refine_in_base_space else forward(tf.constant(latents))
    xi = noise.step_noise(
        noise.sanitize_seed(SEED), tf.range(len(latents), dtype=tf.int64), STEPS, [DIM], tf.float64
    )
    for k in range(STEPS):
        with tf.GradientTape() as tape:
            tape.watch(state)
            values = critic(forward(state) if refine_in_base_space else state)
        state = state + STEP * tape.gradient(values, state) + math.sqrt(2 * GAMMA * STEP) * xi[:, k]
    return (forward(state) if refine_in_base_space else state).numpy()


def test_base_space_refinement_matches_hand_written_loop(flow):
    latents = np.random.default_rng(0).normal(size=(8, DIM))
    model = flow_refinement_model(
        flow, critic, step_size=STEP, entropy_weight=GAMMA, num_steps=STEPS, seed=SEED, dtype="float64"
    )
    refined = model.predict(latents, verbose=0)
    expected = _hand_loop(flow.bijector.forward, latents, refine_in_base_space=True)
    np.testing.assert_allclose(refined, expected, rtol=1e-10, atol=1e-12)
    # The refinement moved the samples toward 0.7.
    start = flow.bijector.forward(latents).numpy()
    assert np.abs(refined - 0.7).mean() < np.abs(start - 0.7).mean()


def test_data_space_refinement_matches_hand_written_loop(flow):
    latents = np.random.default_rng(1).normal(size=(8, DIM))
    model = flow_refinement_model(
        flow,
        critic,
        space="data",
        step_size=STEP,
        entropy_weight=GAMMA,
        num_steps=STEPS,
        seed=SEED,
        dtype="float64",
    )
    refined = model.predict(latents, batch_size=3, verbose=0)
    expected = _hand_loop(flow.bijector.forward, latents, refine_in_base_space=False)
    np.testing.assert_allclose(refined, expected, rtol=1e-10, atol=1e-12)


def test_bare_bijector_needs_latent_shape(flow):
    with pytest.raises(ValueError, match="`latent_shape` is required"):
        FlowGenerator(flow.bijector)
    generator = FlowGenerator(flow.bijector, latent_shape=(DIM,))
    assert generator.latent_shape == (DIM,)
    assert base_latents(flow.bijector, 3, seed=0, latent_shape=(DIM,)).shape == (3, DIM)
    with pytest.raises(TypeError, match="`flow` must be a tfd.TransformedDistribution or a tfb.Bijector"):
        FlowGenerator(tfd.Normal(0.0, 1.0))


def test_base_latents_are_seeded(flow):
    a, b = base_latents(flow, 5, seed=3), base_latents(flow, 5, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, DIM) and not np.array_equal(a, base_latents(flow, 5, seed=4))


def test_realnvp_flow_density_matches_closed_form_at_initialisation():
    # Zero-initialised couplings are the identity and permutations preserve volume, so
    # x = a * sigmoid(z) + b with a = 2 / (1 - 2 alpha), b = -1 - alpha a, and
    # log p(x) = log N(h; 0, I) - sum log(a * s(h) (1 - s(h))), h = logit((x - b) / a).
    flow = RealNVPFlow(event_shape=(2, 2, 1), num_couplings=2, hidden_units=8, seed=0)
    alpha = flow.alpha
    a, b = 2.0 / (1.0 - 2.0 * alpha), -1.0 - 2.0 * alpha / (1.0 - 2.0 * alpha)
    x = np.random.default_rng(0).uniform(-0.9, 0.9, size=(5, 2, 2, 1)).astype("float32")
    y = (x.reshape(5, 4).astype("float64") - b) / a
    h = np.log(y) - np.log1p(-y)
    s = 1.0 / (1.0 + np.exp(-h))
    expected = (-0.5 * h**2 - 0.5 * np.log(2 * np.pi)).sum(1) - np.log(a * s * (1 - s)).sum(1)
    np.testing.assert_allclose(flow.distribution.log_prob(x).numpy(), expected, rtol=1e-4)
    # Its distribution is accepted by the adapter although TFP makes it non-composite.
    assert FlowGenerator(flow.distribution).latent_shape == (4,)


def test_realnvp_flow_has_finite_gradients_where_its_sigmoid_saturates():
    # Latent-space refinement of the MNIST flow reached pre-sigmoid values near 300, where
    # tfb.Sigmoid's gradient is NaN in float32. At initialisation x = a sigmoid(z) + b, so
    # dx/dz = a s (1 - s): 0 far out, a / 4 at 0 (NumPy, float64).
    flow = RealNVPFlow(event_shape=(2, 2, 1), num_couplings=2, hidden_units=8, seed=0)
    z = tf.constant([[0.0, 30.0, 100.0, 300.0], [-300.0, -100.0, 1000.0, 5.0]])
    with tf.GradientTape() as tape:
        tape.watch(z)
        x = flow.bijector.forward(z)
    gradient = tape.gradient(x, z).numpy()
    a = 2.0 / (1.0 - 2.0 * flow.alpha)
    s = 1.0 / (1.0 + np.exp(-z.numpy().astype("float64")))
    np.testing.assert_allclose(gradient, a * s * (1 - s), atol=1e-6)
    # The permutations reorder the coordinates: compare each row's values as sets.
    expected = np.sort(a * s - 1.0 - flow.alpha * a, axis=1)
    np.testing.assert_allclose(np.sort(x.numpy().reshape(2, 4), axis=1), expected, atol=1e-6)


def test_a_distribution_without_a_bijector_is_refused_by_type(flow):
    # tfd.Independent has a `distribution` but no `bijector`: it is not a flow, and the
    # error says what is accepted instead of failing later on a missing attribute.
    wrapped = tfd.Independent(tfd.Normal(tf.zeros([DIM]), 1.0), 1)
    with pytest.raises(TypeError, match=r"^`flow` must be a tfd.TransformedDistribution or a tfb.Bijector"):
        FlowGenerator(wrapped)


def test_bare_bijector_errors_name_the_argument_and_the_fix(flow):
    with pytest.raises(ValueError) as missing:
        FlowGenerator(flow.bijector)
    assert str(missing.value) == (
        "`latent_shape` is required when `flow` is a bare bijector: pass the shape of one "
        "base-space sample, e.g. latent_shape=(64,), or pass a tfd.TransformedDistribution."
    )
    with pytest.raises(ValueError, match=r"`latent_shape` must be a positive integer.*latent_shape=0"):
        FlowGenerator(flow.bijector, latent_shape=(DIM, 0))
    with pytest.raises(ValueError, match=r"`num_samples` must be a positive integer.*num_samples=0"):
        base_latents(flow, 0, seed=0)


def test_unseeded_base_latents_are_fresh_draws(flow):
    a, b = base_latents(flow, 64), base_latents(flow, 64)
    assert a.shape == b.shape == (64, DIM) and not np.array_equal(a, b)


def test_flow_model_knows_its_base_shape_and_names_its_generator(flow):
    model = flow_refinement_model(flow, critic, num_steps=2, seed=0, dtype="float64")
    assert model.generator.name == "flow_generator"
    # The base shape comes from the flow, so the model draws its own latents and refuses
    # latents of another shape before the bijector sees them.
    assert model.latent_shape == (DIM,)
    assert model.sample_latents(3, seed=0).shape == (3, DIM)
    with pytest.raises(ValueError, match=r"must have shape \[batch, 4\] to match the generator's input"):
        model.predict(np.zeros((3, DIM + 1)), verbose=0)


def test_a_flow_generator_given_to_refinement_model_declares_its_base_shape(flow):
    # The flow generator carries its base shape, so a RefinementModel built from it directly (not through
    # flow_refinement_model) draws its own latents, as `calibrate` and `sample_latents` need.
    model = RefinementModel(FlowGenerator(flow), critic, num_steps=2, seed=0, dtype="float64")
    assert model.latent_shape == (DIM,)
    assert model.sample_latents(5, seed=1).shape == (5, DIM)
    # Real data where the critic points (pixels near 0.7), so refining helps; the sweep runs at the model's
    # float64, which the fixed float64 coupling function requires.
    real = 0.7 + 0.1 * np.random.default_rng(3).standard_normal((64, DIM))
    result = model.calibrate(real, step_sizes=[0.05, 0.2], num_samples=16, verbose=0)
    assert model.step_size == result.best["step_size"] in (0.05, 0.2) and model.num_steps == 2
