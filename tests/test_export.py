"""SavedModel export, served in a process that cannot import dgflow_tf, and `.keras` round trips."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from numpy_reference import TanhMLPs

from dgflow_tf import RefinementModel

# Runs in a fresh interpreter: dgflow_tf, TFP and Keras are made unimportable
# before TensorFlow loads, so the SavedModel must stand on core TF alone.
SERVE_SCRIPT = textwrap.dedent(
    """
    import sys
    for blocked in ("dgflow_tf", "tensorflow_probability", "keras", "tf_keras"):
        sys.modules[blocked] = None
    import numpy as np
    import tensorflow as tf
    try:
        import dgflow_tf  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("dgflow_tf was importable")
    path, inputs, output, seed = sys.argv[1:5]
    loaded = tf.saved_model.load(path)
    arrays = np.load(inputs)
    tensors = [tf.constant(arrays[name]) for name in sorted(arrays.files)]
    samples = loaded.serve(*tensors, tf.constant(int(seed), tf.int64))
    np.save(output, samples.numpy())
    """
)


def _serve_in_fresh_process(path, inputs, tmp_path, seed):
    input_file = tmp_path / "inputs.npz"
    np.savez(input_file, **{f"{i}": array for i, array in enumerate(inputs)})
    output = tmp_path / "served.npy"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    completed = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, str(path), str(input_file), str(output), str(seed)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return np.load(output)


@pytest.fixture(scope="module")
def mlp_model():
    generator, critic = TanhMLPs(latent_dim=3, data_dim=2, hidden=5, seed=4).keras_models("float32")
    return RefinementModel(generator, critic, num_steps=6, seed=1, latent_prior="uniform")


def test_exported_savedmodel_serves_the_python_models_samples_exactly(mlp_model, tmp_path):
    mlp_model.export(tmp_path / "refiner", verbose=False)
    z = mlp_model.sample_latents(37, seed=5)
    served = _serve_in_fresh_process(tmp_path / "refiner", [z], tmp_path, seed=123)
    expected = mlp_model.refine(z, seed=123).samples
    np.testing.assert_array_equal(served, expected)
    # The seed is an input of the graph, not baked in.
    assert np.abs(served - mlp_model.refine(z, seed=124).samples).max() > 1e-4


def test_exported_conditional_model(tmp_path, capsys):
    keras.utils.set_random_seed(3)
    z, label = keras.Input((3,)), keras.Input((), dtype="int32")
    hidden = keras.layers.Concatenate()([z, keras.layers.Embedding(4, 2)(label)])
    generator = keras.Model([z, label], keras.layers.Dense(2)(hidden))
    x, label = keras.Input((2,)), keras.Input((), dtype="int32")
    hidden = keras.layers.Concatenate()([x, keras.layers.Embedding(4, 2)(label)])
    critic = keras.Model([x, label], keras.layers.Dense(1, activation="tanh")(hidden))
    model = RefinementModel(generator, critic, conditional=True, latent_shape=(3,), num_steps=4, seed=0)
    z = model.sample_latents(9, seed=1)
    labels = (np.arange(9) % 4).astype("int32")
    # A conditional model cannot draw its own probe for step_size="auto": it resolves on inputs first.
    model.resolve_step_size(z, labels)
    capsys.readouterr()
    model.export(tmp_path / "conditional", verbose=False)
    assert capsys.readouterr().out == ""  # verbose=False: no endpoint summary
    # TF Serving calls the signature by its inputs' names.
    loaded = tf.saved_model.load(str(tmp_path / "conditional"))
    assert sorted(loaded.signatures["serve"].structured_input_signature[1]) == ["conditions", "seed", "z"]
    served = _serve_in_fresh_process(tmp_path / "conditional", [z, labels], tmp_path, seed=7)
    np.testing.assert_array_equal(served, model.refine((z, labels), seed=7).samples)


def test_exported_graph_reports_nonfinite_samples(tmp_path):
    model = RefinementModel(
        lambda z: z, lambda x: tf.math.log(x[:, 0]), latent_shape=(2,), num_steps=2, seed=0
    )
    model.export(tmp_path / "fragile", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "fragile"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Refinement produced NaN or Inf"):
        loaded.serve(tf.constant([[1.0, 0.0], [-1.0, 0.0]]), tf.constant(0, tf.int64))


def test_export_errors(tmp_path):
    model = RefinementModel(lambda z: z, lambda x: x[:, 0])
    with pytest.raises(ValueError, match="needs the latent shape"):
        model.export(tmp_path / "a")
    with pytest.raises(ValueError, match="`format` must be 'tf_saved_model'"):
        model.export(tmp_path / "a", format="onnx")
    conditional = RefinementModel(lambda z: z[0], lambda x: x[0][:, 0], latent_shape=(2,), conditional=True)
    with pytest.raises(ValueError, match="condition_spec"):
        conditional.export(tmp_path / "b")


def test_keras_file_round_trip(mlp_model, tmp_path):
    path = tmp_path / "refiner.keras"
    mlp_model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, RefinementModel)
    assert loaded.latent_prior == mlp_model.latent_prior and loaded.num_steps == 6
    z = mlp_model.sample_latents(11, seed=0)
    np.testing.assert_array_equal(loaded.predict(z, verbose=0), mlp_model.predict(z, verbose=0))


def _reference_variable_gan(tmp_path):
    from tf1_modules import write_tf1_gan

    from dgflow_tf.adapters import hub as hub_adapter

    write_tf1_gan(tmp_path / "module", discriminator_ref=True)
    return hub_adapter.load_gan(tmp_path / "module", tags={"serve"})


def test_export_refuses_reference_variables_anywhere_in_either_network(tmp_path):
    gan = _reference_variable_gan(tmp_path)
    expected = (
        "Cannot export: the critic ('discriminator' signature of a TF1 module) reads TF1 reference "
        "variables, which a SavedModel written from TF2 does not capture: the exported model would fail "
        "with 'uninitialized value' when loaded. Refine with predict or refine_to_shards instead, or "
        "re-export the module with resource variables (tf.compat.v1.enable_resource_variables() before "
        "building its graph)."
    )
    # The hub layer as the critic itself, and inside a user's Keras model (held in its layer list).
    wrapped = keras.Sequential([keras.Input((2,)), gan.discriminator, keras.layers.Rescaling(0.5)])
    for critic in (gan.discriminator, wrapped):
        model = RefinementModel(gan.generator, critic, latent_shape=(2,), step_size=0.01, num_steps=2)
        with pytest.raises(ValueError) as caught:
            model.export(str(tmp_path / "exported"))
        assert str(caught.value) == expected
        assert not (tmp_path / "exported").exists()


def test_a_data_space_model_and_a_condition_spec_export_and_serve_as_refine(tmp_path):
    critic = lambda x: -tf.reduce_sum(tf.square(x - 1.0), axis=-1)  # noqa: E731
    samples_only = RefinementModel(None, critic, space="data", latent_shape=(2,), step_size=0.1, num_steps=3)
    x = np.random.default_rng(0).normal(size=(5, 2)).astype("float32")
    samples_only.export(str(tmp_path / "data"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "data")).serve(x, tf.constant(7, tf.int64))
    np.testing.assert_allclose(served.numpy(), samples_only.refine(x, seed=7).samples, rtol=1e-6, atol=1e-6)
    # A conditional generator that declares no inputs: the spec names and types the conditions input.
    conditional = RefinementModel(
        lambda inputs: inputs[0] + tf.cast(inputs[1][:, None], tf.float32),
        lambda inputs: critic(inputs[0]),
        conditional=True,
        latent_shape=(2,),
        step_size=0.1,
        num_steps=3,
    )
    labels = np.arange(5, dtype="int32")
    conditional.export(str(tmp_path / "labels"), verbose=False, condition_spec=tf.TensorSpec([5], tf.int32))
    loaded = tf.saved_model.load(str(tmp_path / "labels"))
    assert sorted(loaded.signatures["serve"].structured_input_signature[1]) == ["conditions", "seed", "z"]
    served = loaded.serve(x, labels, tf.constant(7, tf.int64))
    expected = conditional.refine((x, labels), seed=7).samples
    np.testing.assert_allclose(served.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_a_model_with_rademacher_noise_exports_and_round_trips_its_noise(tmp_path):
    generator, critic = TanhMLPs(latent_dim=3, data_dim=2, hidden=5, seed=4).keras_models("float32")
    model = RefinementModel(
        generator, critic, num_steps=6, seed=1, step_size=0.05, noise_distribution="rademacher"
    )
    z = model.sample_latents(19, seed=5)
    model.export(tmp_path / "refiner", verbose=False)
    served = _serve_in_fresh_process(tmp_path / "refiner", [z], tmp_path, seed=7)
    np.testing.assert_array_equal(served, model.refine(z, seed=7).samples)
    normal = RefinementModel(generator, critic, num_steps=6, seed=1, step_size=0.05)
    assert np.abs(served - normal.refine(z, seed=7).samples).max() > 1e-4  # the signs were served
    model.save(tmp_path / "refiner.keras")
    loaded = keras.saving.load_model(tmp_path / "refiner.keras")
    assert loaded.noise_distribution == "rademacher"
    np.testing.assert_array_equal(loaded.predict(z, verbose=0), model.predict(z, verbose=0))


def test_an_adaptive_solver_model_exports_serves_and_round_trips(tmp_path):
    generator, critic = TanhMLPs(latent_dim=3, data_dim=2, hidden=5, seed=4).keras_models("float32")
    model = RefinementModel(generator, critic, num_steps=6, seed=1, step_size=0.05, solver="adaptive")
    z = model.sample_latents(19, seed=5)
    model.export(tmp_path / "refiner", verbose=False)
    served = _serve_in_fresh_process(tmp_path / "refiner", [z], tmp_path, seed=7)
    np.testing.assert_array_equal(served, model.refine(z, seed=7).samples)
    euler = RefinementModel(generator, critic, num_steps=6, seed=1, step_size=0.05)
    assert np.abs(served - euler.refine(z, seed=7).samples).max() > 1e-4  # the adaptive steps were served
    model.save(tmp_path / "refiner.keras")
    loaded = keras.saving.load_model(tmp_path / "refiner.keras")
    assert loaded.solver == "adaptive"
    np.testing.assert_array_equal(loaded.predict(z, verbose=0), model.predict(z, verbose=0))
