"""RefinementModel's behaviour: determinism, batching, trajectories, configs, model kinds."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from numpy_reference import TanhMLPs

import dgflow_tf
from dgflow_tf import RefinementModel, critics, noise


@pytest.fixture(scope="module")
def nets():
    return TanhMLPs(latent_dim=3, data_dim=2, hidden=5, seed=4)


@pytest.fixture(scope="module")
def latents():
    return np.random.default_rng(5).normal(size=(23, 3)).astype("float32")


def _model(nets, **kwargs):
    generator, critic = nets.keras_models("float32")
    kwargs.setdefault("num_steps", 6)
    return RefinementModel(generator, critic, **kwargs)


def test_same_seed_same_samples_different_seed_different(nets, latents):
    a = _model(nets, seed=1).predict(latents, verbose=0)
    b = _model(nets, seed=1).predict(latents, verbose=0)
    c = _model(nets, seed=2).predict(latents, verbose=0)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_no_seed_draws_fresh_noise_each_call(nets, latents):
    model = _model(nets, seed=None)
    assert np.abs(model.predict(latents, verbose=0) - model.predict(latents, verbose=0)).max() > 1e-3
    graph_call = tf.function(lambda z: model(z))
    assert np.abs(graph_call(latents).numpy() - graph_call(latents).numpy()).max() > 1e-3


def test_noise_is_keyed_by_position_not_batch():
    seed = noise.sanitize_seed(9)
    full = noise.step_noise(seed, tf.range(50, dtype=tf.int64), 4, [3], tf.float32).numpy()
    part = noise.step_noise(seed, tf.range(17, 29, dtype=tf.int64), 4, [3], tf.float32).numpy()
    np.testing.assert_array_equal(full[17:29], part)
    assert np.abs(full[0] - full[1]).min() > 0  # distinct samples get distinct noise


@pytest.mark.parametrize("entropy_weight", [0.0, 0.01])
def test_batch_size_does_not_change_samples_beyond_rounding(entropy_weight):
    # Elementwise generator and critic: the deterministic flow is bit-identical
    # across batch sizes. With noise the noise itself is bit-identical (above),
    # but TF's graph rewrites of the update may round the last bit differently.
    scale = tf.constant([[1.5, -0.5], [0.25, 2.0]])
    generator = lambda z: tf.reduce_sum(z[:, :, None] * scale[None], axis=1)  # noqa: E731
    critic = lambda x: -tf.reduce_sum(tf.square(x - 1.0), axis=-1)  # noqa: E731
    model = RefinementModel(
        generator, critic, num_steps=5, seed=3, latent_shape=(2,), entropy_weight=entropy_weight
    )
    z = np.random.default_rng(0).normal(size=(41, 2)).astype("float32")
    reference = model.predict(z, batch_size=41, verbose=0)
    for batch_size in (1, 4, 16, 40):
        samples = model.predict(z, batch_size=batch_size, verbose=0)
        if entropy_weight == 0.0:
            np.testing.assert_array_equal(samples, reference)
        else:
            np.testing.assert_allclose(samples, reference, rtol=2e-6, atol=2e-6)


def test_batch_size_changes_mlp_samples_at_most_by_rounding(nets, latents):
    # TF's CPU matmul kernels may sum in a different order for other batch
    # shapes: the noise is identical, the samples agree to float32 rounding.
    model = _model(nets, seed=5)
    reference = model.predict(latents, batch_size=len(latents), verbose=0)
    for batch_size in (1, 5, 8):
        np.testing.assert_allclose(
            model.predict(latents, batch_size=batch_size, verbose=0), reference, rtol=1e-5, atol=1e-5
        )


def test_predict_refine_and_call_agree(nets, latents):
    model = _model(nets, seed=8)
    predicted = model.predict(latents, batch_size=len(latents), verbose=0)
    np.testing.assert_allclose(model.refine(latents).samples, predicted, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model(latents).numpy(), predicted, rtol=1e-6, atol=1e-6)
    in_graph = tf.function(lambda z: model(z) * 1.0)
    np.testing.assert_allclose(in_graph(tf.constant(latents)).numpy(), predicted, rtol=1e-6, atol=1e-6)


def test_refine_seed_overrides_model_seed(nets, latents):
    model = _model(nets, seed=8)
    np.testing.assert_array_equal(model.refine(latents, seed=8).samples, model.refine(latents).samples)
    assert np.abs(model.refine(latents, seed=9).samples - model.refine(latents).samples).max() > 1e-3


def test_trajectory_records_states_samples_and_critic(nets, latents):
    generator, critic = nets.keras_models("float32")
    model = RefinementModel(generator, critic, num_steps=7, seed=0)
    result = model.refine(latents, trajectory_every=3)
    np.testing.assert_array_equal(result.trajectory_steps, [0, 3, 6, 7])
    assert result.state_trajectory.shape == (4, 23, 3)
    assert result.sample_trajectory.shape == (4, 23, 2)
    assert result.critic_trajectory.shape == (4, 23)
    np.testing.assert_array_equal(result.state_trajectory[0], latents)
    np.testing.assert_array_equal(result.state_trajectory[-1], result.states)
    np.testing.assert_allclose(result.sample_trajectory[-1], result.samples, rtol=1e-6)
    for states, samples, logits in zip(
        result.state_trajectory, result.sample_trajectory, result.critic_trajectory, strict=True
    ):
        np.testing.assert_allclose(samples, nets.generator(states.astype("float64")), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(logits, nets.critic(samples.astype("float64")), rtol=1e-4, atol=1e-5)
    # Recording does not change the result (beyond the rounding of another graph).
    np.testing.assert_allclose(model.refine(latents).samples, result.samples, rtol=1e-6, atol=1e-6)


def test_zero_steps_returns_generator_output(nets, latents):
    model = _model(nets, num_steps=0)
    np.testing.assert_allclose(
        model.predict(latents, verbose=0), nets.generator(latents.astype("float64")), rtol=1e-5, atol=1e-6
    )


def test_config_round_trip_with_keras_models(nets, latents):
    model = _model(nets, divergence="JS", step_size=0.2, entropy_weight=0.03, num_steps=4, seed=12)
    config = model.get_config()
    json.dumps(config)  # Keras models serialise to plain JSON.
    clone = RefinementModel.from_config(config)
    for key in ("step_size", "entropy_weight", "num_steps", "space", "seed", "latent_shape"):
        assert getattr(clone, key) == getattr(model, key)
    assert clone.divergence.name == "JS"
    # The clone has freshly initialised networks: give it the same weights.
    clone.generator.set_weights(model.generator.get_weights())
    clone.critic.discriminator.set_weights(model.critic.discriminator.get_weights())
    np.testing.assert_array_equal(clone.predict(latents, verbose=0), model.predict(latents, verbose=0))


def test_config_round_trip_keeps_live_callables():
    generator = lambda z: z * 2.0  # noqa: E731
    critic = lambda x: -tf.reduce_sum(x**2, axis=-1)  # noqa: E731
    model = RefinementModel(generator, critic, divergence=lambda r: r * tf.math.log(r), seed=1, num_steps=2)
    clone = RefinementModel.from_config(model.get_config())
    z = np.ones((3, 2), "float32")
    np.testing.assert_array_equal(clone.predict(z, verbose=0), model.predict(z, verbose=0))


def _kinds_of_generator(nets):
    """The same generator as a Keras 3 model, a tf_keras model, a tf.Module and a function."""
    import tf_keras

    keras3, _ = nets.keras_models("float32")
    weights = [w.astype("float32") for w in (nets.W1, nets.b1, nets.W2, nets.b2)]
    legacy = tf_keras.Sequential(
        [tf_keras.layers.Dense(5, activation="tanh", input_shape=(3,)), tf_keras.layers.Dense(2)]
    )
    legacy.set_weights(weights)

    class ModuleGenerator(tf.Module):
        def __init__(self):
            super().__init__()
            self.variables_ = [tf.Variable(w) for w in weights]

        def __call__(self, z):
            w1, b1, w2, b2 = self.variables_
            return tf.tanh(z @ w1 + b1) @ w2 + b2

    module = ModuleGenerator()
    return {"keras3": keras3, "tf_keras": legacy, "tf.Module": module, "function": lambda z: module(z)}


def test_every_kind_of_generator_gives_the_same_refinement(nets, latents):
    _, critic = nets.keras_models("float32")
    results = {
        kind: RefinementModel(generator, critic, num_steps=5, seed=2, step_size=0.1).predict(
            latents, verbose=0
        )
        for kind, generator in _kinds_of_generator(nets).items()
    }
    for kind, samples in results.items():
        np.testing.assert_allclose(samples, results["keras3"], rtol=1e-5, atol=1e-5, err_msg=kind)


def test_keras_model_trackes_wrapped_variables(nets, tmp_path):
    # TensorFlow's tracking (what SavedModel export and checkpoints use) reaches the wrapped module's
    # variables through the model: a checkpoint of the model holds them, with their values.
    module = _kinds_of_generator(nets)["tf.Module"]
    _, critic = nets.keras_models("float32")
    model = RefinementModel(module, critic, latent_shape=(3,))
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    saved = {tuple(shape) for _, shape in tf.train.list_variables(path)}
    module_variables = tf.Module.trainable_variables.fget(module)
    assert len(module_variables) == 4
    assert {tuple(variable.shape) for variable in module_variables} <= saved
    reader = tf.train.load_checkpoint(path)
    values = [
        reader.get_tensor(name) for name, shape in tf.train.list_variables(path) if tuple(shape) == (3, 5)
    ]
    assert any(np.array_equal(value, module_variables[0].numpy()) for value in values)
    assert model.generator.fn is module


def test_probability_and_wasserstein_and_sum_critics():
    logit = lambda x: tf.reduce_sum(x, axis=-1, keepdims=True)  # noqa: E731
    x = tf.constant([[0.3, -1.0], [2.0, 0.5]], tf.float64)
    expected = x.numpy().sum(axis=1)
    np.testing.assert_allclose(critics.LogitCritic(logit)(x), expected)
    np.testing.assert_allclose(
        critics.ProbabilityCritic(lambda x: tf.sigmoid(logit(x)))(x), expected, rtol=1e-12
    )
    np.testing.assert_allclose(critics.WassersteinCritic(logit, scale=0.5)(x), 0.5 * expected)
    summed = critics.SumCritic([logit, critics.WassersteinCritic(logit, scale=2.0)])
    np.testing.assert_allclose(summed(x), 3.0 * expected)


def test_probability_critic_refines_like_logit_critic(nets, latents):
    generator, critic = nets.keras_models("float64")
    z = latents.astype("float64")
    via_logit = RefinementModel(generator, critic, num_steps=3, seed=0, dtype="float64").predict(z, verbose=0)
    probability = critics.ProbabilityCritic(lambda x: tf.sigmoid(critic(x)))
    via_probability = RefinementModel(generator, probability, num_steps=3, seed=0, dtype="float64")
    np.testing.assert_allclose(via_probability.predict(z, verbose=0), via_logit, rtol=1e-9)


def test_critic_config_round_trip(nets):
    _, critic = nets.keras_models("float32")
    wrapped = critics.WassersteinCritic(critic, scale=3.0)
    clone = critics.WassersteinCritic.from_config(wrapped.get_config())
    assert clone.scale == 3.0
    assert isinstance(
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(wrapped)),
        critics.WassersteinCritic,
    )


def test_public_api_is_exported():
    for name in (
        "RefinementModel",
        "RefinementResult",
        "LogitCritic",
        "WassersteinCritic",
        "SumCritic",
        "ProbabilityCritic",
        "NonFiniteRefinementError",
        "divergences",
        "critics",
    ):
        assert hasattr(dgflow_tf, name)


def test_unknown_space_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"Unknown space 'pixels'\. Expected one of: \['latent', 'data'\]"):
        RefinementModel(lambda z: z, lambda x: x[:, 0], space="pixels", latent_shape=(2,))


def test_calling_a_conditional_model_uses_the_conditions():
    # g([z, c]) = z + c and d([x, c]) = -|x - c|^2 / 2: each sample is pulled toward its own condition.
    model = RefinementModel(
        lambda inputs: inputs[0] + inputs[1],
        lambda inputs: -0.5 * tf.reduce_sum((inputs[0] - inputs[1]) ** 2, axis=1),
        conditional=True,
        latent_shape=(2,),
        step_size=0.1,
        num_steps=3,
        seed=1,
    )
    z = np.random.default_rng(2).normal(size=(6, 2)).astype("float32")
    conditions = np.repeat(np.array([[5.0, 0.0], [-5.0, 0.0]], "float32"), 3, axis=0)
    called = model((z, conditions)).numpy()
    np.testing.assert_allclose(called, model.predict((z, conditions), verbose=0), rtol=1e-6, atol=1e-6)
    assert not np.allclose(called, model((z, conditions[::-1])).numpy())


def test_predict_on_batch_refines_the_whole_input_as_one_batch():
    # The generator scales by its batch's size, so the batching is visible in the samples.
    model = RefinementModel(
        lambda z: z * tf.cast(tf.shape(z)[0], z.dtype) / 100.0,
        lambda x: -tf.reduce_sum(x**2, axis=1),
        latent_shape=(2,),
        step_size=0.05,
        num_steps=2,
        seed=0,
    )
    z = np.random.default_rng(3).normal(size=(100, 2)).astype("float32")
    np.testing.assert_array_equal(model.predict_on_batch(z), model.predict(z, batch_size=100, verbose=0))
    assert not np.allclose(model.predict_on_batch(z), model.predict(z, batch_size=64, verbose=0))
    # A Python list of rows (an unconditional model): the batch is the rows, not a row's length.
    rows = z[:5]
    whole = model.predict(rows, batch_size=5, verbose=0)
    np.testing.assert_array_equal(model.predict_on_batch([list(row) for row in rows]), whole)
    assert not np.allclose(model.predict(rows, batch_size=2, verbose=0), whole)


def test_the_boundary_setting_reaches_the_flow():
    # Steps of 0.5 on a uniform prior's box leave it; clip stops at the faces, reflect folds back.
    def model(boundary):
        return RefinementModel(
            lambda z: z,
            lambda x: 5.0 * x[:, 0],
            latent_prior="uniform",
            boundary=boundary,
            step_size=0.5,
            num_steps=2,
            seed=0,
            latent_shape=(2,),
        )

    z = np.full((4, 2), 0.5, "float32")
    clipped, reflected = model("clip").predict(z, verbose=0), model("reflect").predict(z, verbose=0)
    assert model("clip").boundary == "clip"
    np.testing.assert_array_equal(clipped[:, 0], 1.0)
    assert np.all(reflected[:, 0] < 1.0)


def test_export_refuses_unknown_arguments(tmp_path):
    model = RefinementModel(lambda z: z, lambda x: x[:, 0], latent_shape=(2,), step_size=0.1, num_steps=1)
    with pytest.raises(TypeError, match=r"Unknown arguments to export: \['colour'\]"):
        model.export(str(tmp_path / "saved"), colour="red")


def test_generate_and_sample_latents_name_what_is_missing():
    samples_only = RefinementModel(None, lambda x: x[:, 0], space="data", step_size=0.1)
    with pytest.raises(ValueError, match=r"refines samples directly \(generator=None\): there is nothing"):
        samples_only.generate(np.zeros((2, 2), "float32"))
    with pytest.raises(ValueError) as unknown:
        samples_only.sample_latents(3)
    assert str(unknown.value) == (
        "The model does not know its latent shape: pass latent_shape=... to RefinementModel."
    )
    drawing = RefinementModel(lambda z: z, lambda x: x[:, 0], latent_shape=(2,), step_size=0.1)
    with pytest.raises(ValueError, match=r"^`start` must be an integer >= 0\. Received: start=-1$"):
        drawing.sample_latents(3, seed=0, start=-1)


def test_each_kind_of_call_gets_its_own_compiled_refinement():
    # A plain call, then one that records a trajectory, then a conditional one that does: each is
    # compiled for what it asks, not served by the graph compiled first.
    model = RefinementModel(
        lambda z: z,
        lambda x: -tf.reduce_sum(x**2, axis=1),
        latent_shape=(2,),
        step_size=0.1,
        num_steps=4,
        seed=0,
    )
    z = np.random.default_rng(4).normal(size=(5, 2)).astype("float32")
    assert model.refine(z).state_trajectory is None
    recorded = model.refine(z, trajectory_every=2)
    assert recorded.state_trajectory.shape == (3, 5, 2)
    np.testing.assert_array_equal(recorded.state_trajectory[-1], recorded.states)
    conditional = RefinementModel(
        lambda inputs: inputs[0] + inputs[1],
        lambda inputs: -tf.reduce_sum(inputs[0] ** 2, axis=1),
        conditional=True,
        latent_shape=(2,),
        step_size=0.1,
        num_steps=4,
        seed=0,
    )
    c = np.ones((5, 2), "float32")
    assert conditional.refine((z, c), trajectory_every=2).state_trajectory.shape == (3, 5, 2)


def test_inputs_of_another_shape_after_a_good_call_are_still_checked():
    # A function of any width to the eye, of width 2 to its matmul: only tracing finds the mismatch.
    model = RefinementModel(
        lambda z: tf.matmul(z, tf.ones((2, 2))), lambda x: x[:, 0], step_size=0.1, num_steps=1
    )
    model.predict(np.zeros((3, 2), "float32"), verbose=0)
    with pytest.raises(ValueError, match=r"`generator` cannot be applied to inputs of shape \[3, 3\]"):
        model.predict(np.zeros((3, 3), "float32"), verbose=0)


@pytest.mark.parametrize("conditional", [False, True])
def test_the_generator_runs_in_inference_mode(conditional):
    # Dropout of 0.9 in training mode would make each call random; in inference mode it is the identity.
    z_in = keras.Input((2,))
    if conditional:
        c_in = keras.Input((2,))
        out = keras.layers.Dropout(0.9)(keras.layers.Add()([z_in, c_in]))
        generator = keras.Model([z_in, c_in], out)
    else:
        generator = keras.Model(z_in, keras.layers.Dropout(0.9)(z_in))
    critic = (
        (lambda inputs: -tf.reduce_sum(inputs[0] ** 2, axis=1))
        if conditional
        else (lambda x: -tf.reduce_sum(x**2, axis=1))
    )
    model = RefinementModel(
        generator,
        critic,
        latent_shape=(2,),
        conditional=conditional,
        step_size=0.1,
        num_steps=2,
        entropy_weight=0.0,
        seed=0,
    )
    z = np.random.default_rng(5).normal(size=(6, 2)).astype("float32")
    inputs = (z, np.zeros((6, 2), "float32")) if conditional else z
    # Without dropout, d = -|x|^2 and g = identity: each deterministic step scales z by (1 - 2 eta).
    np.testing.assert_allclose(model.predict(inputs, verbose=0), z * 0.8**2, rtol=1e-6)
    # The host-side generate too: g = identity.
    np.testing.assert_allclose(model.generate(inputs), z, rtol=1e-6)


def test_boundary_none_lets_samples_leave_a_bounded_priors_box():
    model = RefinementModel(
        lambda z: z,
        lambda x: 5.0 * x[:, 0],
        latent_prior="uniform",
        boundary="none",
        latent_shape=(2,),
        step_size=0.5,
        num_steps=2,
        seed=0,
    )
    refined = model.predict(np.full((4, 2), 0.5, "float32"), verbose=0)
    assert np.all(refined[:, 0] > 1.0)


def test_a_keras_generator_declares_the_latent_shape_and_the_generator_is_named():
    generator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model = RefinementModel(generator, lambda x: -tf.reduce_sum(x**2, axis=1), step_size=0.1)
    # Read from the generator's Input, so the model draws its own latents with no latent_shape.
    assert model.latent_shape == (3,) and model.sample_latents(4, seed=0).shape == (4, 3)
    wrapped = RefinementModel(lambda z: 2.0 * z, lambda x: x[:, 0], latent_shape=(2,), step_size=0.1)
    assert wrapped.generator.name == "generator"


def test_auto_step_in_data_space_resolves_on_the_users_samples():
    # With no generator there is no prior to draw a probe from: the rule must read predict's inputs.
    x = np.random.default_rng(2).normal(size=(40, 2)).astype("float32")
    model = RefinementModel(None, lambda s: -tf.reduce_sum(s**2, axis=1), space="data", num_steps=3, seed=0)
    refined = model.predict(x, verbose=0)
    assert np.isfinite(refined).all() and np.isfinite(model.step_size) and model.step_size > 0


SETTINGS_THE_ENGINE_READS = [
    ("step_schedule", "linear"),
    ("noise_distribution", "rademacher"),
    ("latent_prior", "uniform"),
]


@pytest.mark.parametrize("name, value", SETTINGS_THE_ENGINE_READS)
def test_a_setting_given_to_the_model_reaches_its_samples(name, value):
    # The critic pulls latents toward (3, 3), out of the uniform prior's box [-1, 1]^2, which then
    # reflects them; the schedule and the noise change every step.
    settings = dict(latent_shape=(2,), step_size=0.1, num_steps=3, entropy_weight=0.05, seed=0)
    critic = lambda x: -tf.reduce_sum(tf.square(x - 3.0), axis=-1)  # noqa: E731
    z = np.random.default_rng(0).uniform(0.5, 0.9, size=(6, 2)).astype("float32")
    default = RefinementModel(lambda z: z, critic, **settings).predict(z, verbose=0)
    model = RefinementModel(lambda z: z, critic, **settings, **{name: value})
    recorded = model.get_config()[name]
    assert (recorded["name"] if name == "latent_prior" else recorded) == value
    samples = model.predict(z, verbose=0)
    assert np.min(np.abs(samples - default)) > 1e-4
    if name == "latent_prior":
        assert np.all(np.abs(samples) <= 1.0) and np.any(default > 1.0)
