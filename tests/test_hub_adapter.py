"""The TF-Hub adapter, on small modules built here and loaded with `hub.load` (no downloads)."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from tf1_modules import save_tf1, write_tf1_gan, write_two_metagraph_export

from dgflow_tf import RefinementModel, priors
from dgflow_tf.adapters import hub as hub_adapter
from dgflow_tf.zoo import hub_modules


@pytest.fixture(scope="module")
def weights():
    return hub_modules.compare_gan_mlp_weights(latent_dim=3, image_shape=(2, 2, 1), seed=0)


@pytest.fixture(scope="module")
def compare_gan_path(tmp_path_factory, weights):
    return hub_modules.save_compare_gan_mlp(
        tmp_path_factory.mktemp("hub") / "cg", weights, batch_sizes=(4, 8)
    )


def _numpy_reflected_flow(weights, z, step_size, num_steps):
    _, _, latent_gradient = hub_modules.compare_gan_mlp_numpy(weights)
    z = z.astype("float64")
    for _ in range(num_steps):
        z = z + step_size * latent_gradient(z)
        z = np.where(z > 1, 2 - z, np.where(z < -1, -2 - z, z))
    return z


@pytest.mark.parametrize("batch_size", [None, 4])
def test_compare_gan_layout_matches_a_numpy_rederivation(compare_gan_path, weights, batch_size):
    gan = hub_adapter.load_gan(compare_gan_path, batch_size=batch_size)
    # The {gen, bsN} layout is S3GAN's and SSGAN's, whose z is standard normal.
    assert gan.layout == "compare_gan" and gan.latent_prior == "normal"
    # Named layers in this layout too, so a summary or an error tells the two networks apart.
    assert (gan.generator.name, gan.discriminator.name) == ("hub_generator", "hub_discriminator")
    # Without bsNone the largest fixed batch is the default; 10 samples need padding and chunks.
    assert gan.generator.fixed_batch_size == (batch_size or 8)
    # The NumPy twin reflects at the box [-1, 1]: refine with that prior, as for a uniform module.
    model = hub_adapter.hub_refinement_model(
        gan, latent_prior="uniform", num_steps=6, step_size=0.3, entropy_weight=0.0
    )
    z = model.sample_latents(10, seed=0)
    result = model.refine(z)
    expected = _numpy_reflected_flow(weights, z, 0.3, 6)
    assert np.abs(expected).max() > 0.9  # some latents reached the box's faces
    generator, _, _ = hub_modules.compare_gan_mlp_numpy(weights)
    np.testing.assert_allclose(result.states, expected, atol=2e-5)
    np.testing.assert_allclose(result.samples.reshape(10, -1), generator(expected), atol=2e-5)
    # The same batch is bit for bit the same; other batch sizes take other matmul kernel paths on
    # some CPUs (AVX2: within a few float32 ulps, see benchmarks/batch_invariance.py).
    np.testing.assert_array_equal(model.predict(z, batch_size=10, verbose=0), result.samples)
    np.testing.assert_allclose(model.predict(z, batch_size=3, verbose=0), result.samples, rtol=0, atol=1e-6)


def test_chunked_calls_equal_one_call_per_sample(compare_gan_path):
    fixed = hub_adapter.load_gan(compare_gan_path, batch_size=8).discriminator
    images = np.random.default_rng(1).normal(size=(13, 2, 2, 1)).astype("float32")
    chunked = fixed(tf.constant(images)).numpy()
    assert chunked.shape == (13, 1)
    one_by_one = [fixed(tf.constant(np.repeat(images[i : i + 1], 8, axis=0))).numpy()[0] for i in range(13)]
    np.testing.assert_allclose(chunked, np.array(one_by_one), rtol=1e-6)


def test_dynamic_batch_metagraph_is_preferred(tmp_path, weights):
    path = hub_modules.save_compare_gan_mlp(tmp_path / "cg", weights, batch_sizes=(8, None))
    assert hub_adapter.load_gan(path).generator.fixed_batch_size is None
    with pytest.raises(ValueError, match=r"no 'gen' MetaGraph for batch_size=16: \['bs8', 'bsNone'\]"):
        hub_adapter.load_gan(path, batch_size=16)


def test_generator_only_compare_gan_module_needs_a_critic(tmp_path, weights):
    path = hub_modules.save_compare_gan_mlp(
        tmp_path / "gen", weights, batch_sizes=(None,), with_discriminator=False
    )
    gan = hub_adapter.load_gan(path)
    assert not gan.has_discriminator
    with pytest.raises(ValueError, match="has no discriminator.*train_corrector"):
        hub_adapter.hub_refinement_model(gan)
    critic = lambda x: -tf.reduce_sum(tf.square(x - 0.5), axis=[1, 2, 3])  # noqa: E731
    model = hub_adapter.hub_refinement_model(gan, critic, num_steps=20, step_size=0.2, entropy_weight=0.0)
    z = model.sample_latents(16, seed=0)
    before = critic(gan.generator(tf.constant(z))).numpy()
    after = critic(tf.constant(model.predict(z, verbose=0))).numpy()
    assert np.all(after > before)


def test_module_that_cannot_be_differentiated_is_a_clear_error(tmp_path, weights):
    path = hub_modules.save_compare_gan_mlp(
        tmp_path / "round", weights, batch_sizes=(None,), round_output=True
    )
    with pytest.raises(ValueError, match=r"generator \('default' signature\) cannot be differentiated.*'z'"):
        hub_adapter.load_gan(path)


def _keras_gan(conditional=False):
    keras.utils.set_random_seed(0)
    z = keras.Input((3,))
    inputs = [z]
    hidden = z
    if conditional:
        label = keras.Input((), dtype="int32")
        inputs.append(label)
        hidden = keras.layers.Concatenate()([z, keras.layers.Embedding(4, 2)(label)])
    generator = keras.Model(inputs, keras.layers.Dense(2, activation="tanh")(keras.layers.Dense(8)(hidden)))
    x = keras.Input((2,))
    inputs, hidden = [x], x
    if conditional:
        label = keras.Input((), dtype="int32")
        inputs.append(label)
        hidden = keras.layers.Concatenate()([x, keras.layers.Embedding(4, 2)(label)])
    discriminator = keras.Model(
        inputs, keras.layers.Dense(1)(keras.layers.Dense(8, activation="tanh")(hidden))
    )
    return generator, discriminator


@pytest.mark.parametrize("conditional", [False, True])
def test_named_signature_layout_refines_like_the_keras_models(tmp_path, conditional):
    generator, discriminator = _keras_gan(conditional)
    spec = tf.TensorSpec([None], tf.int32) if conditional else None
    path = hub_modules.save_gan_module(
        tmp_path / "gan", generator, discriminator, latent_shape=(3,), condition_spec=spec
    )
    gan = hub_adapter.load_gan(path)
    assert gan.layout == "signatures" and gan.conditional == conditional and gan.latent_prior == "normal"
    settings = dict(num_steps=5, seed=2, latent_shape=(3,), conditional=conditional)
    from_hub = hub_adapter.hub_refinement_model(gan, num_steps=5, seed=2)
    direct = RefinementModel(generator, discriminator, **settings)
    z = direct.sample_latents(12, seed=1)
    inputs = (z, np.arange(12, dtype="int32") % 4) if conditional else z
    np.testing.assert_allclose(
        from_hub.refine(inputs).samples, direct.refine(inputs).samples, rtol=1e-5, atol=1e-6
    )


def test_a_saved_module_takes_latents_named_z_and_asks_for_a_latent_shape_it_cannot_read(tmp_path):
    generator, discriminator = _keras_gan()
    path = hub_modules.save_gan_module(tmp_path / "gan", generator, discriminator)  # shape read: (3,)
    signature = tf.saved_model.load(str(path)).signatures["generator"]
    assert list(signature.structured_input_signature[1]) == ["z"]
    assert signature.structured_input_signature[1]["z"].shape.as_list() == [None, 3]
    with pytest.raises(ValueError) as caught:
        hub_modules.save_gan_module(tmp_path / "other", lambda z: z)
    assert str(caught.value) == "Pass `latent_shape`: the generator does not declare its input shape."


def test_generator_only_module_with_constant_inputs(tmp_path):
    class Progan(tf.Module):
        def __init__(self):
            self.w = tf.Variable(np.eye(3, 2, dtype="float32"))

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, 3], name="latent_vector"),
                tf.TensorSpec([], name="truncation"),
            ]
        )
        def serve(self, latent_vector, truncation):
            return {"default": truncation * tf.matmul(latent_vector, self.w)}

    module = Progan()
    tf.saved_model.save(module, str(tmp_path / "progan"), signatures={"serving_default": module.serve})
    with pytest.raises(ValueError, match=r"also takes \['truncation'\]: pass values for them in `constants`"):
        hub_adapter.load_gan(tmp_path / "progan")
    gan = hub_adapter.load_gan(tmp_path / "progan", generator_kwargs={"constants": {"truncation": 0.5}})
    assert gan.layout == "generator_only" and gan.latent_shape == (3,)
    np.testing.assert_allclose(gan.generator(tf.ones([2, 3])).numpy(), np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="has no discriminator"):
        gan.discriminator  # noqa: B018


def test_bad_handles_and_signatures(tmp_path, compare_gan_path):
    with pytest.raises(FileNotFoundError, match="neither a URL nor an existing directory"):
        hub_adapter.load_gan(tmp_path / "missing")
    module = tf.saved_model.load(str(compare_gan_path), tags={"gen", "bs8"})
    with pytest.raises(KeyError, match=r"no signature 'generator'. Its signatures: \['default'\]"):
        hub_adapter.HubSignature(module, "generator")
    with pytest.raises(ValueError, match=r"`output_key`='pixels' is not one of the signature's outputs"):
        hub_adapter.HubSignature(module, "default", output_key="pixels")
    with pytest.raises(ValueError, match="chosen by `batch_size`.*not by `tags`. Drop tags="):
        hub_adapter.load_gan(compare_gan_path, tags={"gen", "bs8"})


def test_a_hub_refiner_exports_to_a_savedmodel(compare_gan_path, tmp_path):
    model = hub_adapter.hub_refinement_model(hub_adapter.load_gan(compare_gan_path), num_steps=3, seed=0)
    model.export(tmp_path / "refiner")
    loaded = tf.saved_model.load(str(tmp_path / "refiner"))
    z = model.sample_latents(10, seed=0)
    np.testing.assert_array_equal(
        loaded.serve(z, tf.constant(4, tf.int64)).numpy(), model.refine(z, seed=4).samples
    )


def test_local_modules_load_without_tensorflow_hub(compare_gan_path):
    # tensorflow_hub's import needs pkg_resources, which setuptools >= 82 (a fresh Python 3.12 venv)
    # does not ship; local modules must load without it. Run in a fresh process to see the imports.
    import subprocess
    import sys

    code = (
        "import sys; from dgflow_tf.adapters import hub; "
        f"gan = hub.load_gan({str(compare_gan_path)!r}, check_gradients=False); "
        "print('tensorflow_hub' in sys.modules)"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split()[-1] == "False"


def test_a_module_with_several_metagraphs_needs_tags_and_lists_them(tmp_path):
    write_two_metagraph_export(tmp_path / "export")
    named = re.escape(repr(str(tmp_path / "export")))
    listed = named + r" holds several MetaGraphs, with the tag sets \[\['serve'\], \['serve', 'tpu'\]\]"
    with pytest.raises(ValueError, match=listed):
        hub_adapter.load_gan(tmp_path / "export")
    with pytest.raises(ValueError, match=r"`tags` \['gpu'\] is not a MetaGraph of " + named):
        hub_adapter.load_gan(tmp_path / "export", tags={"gpu"})
    gan = hub_adapter.load_gan(tmp_path / "export", tags={"serve"})
    assert gan.layout == "signatures"
    # Named layers, so a summary or an error tells the two networks apart.
    assert (gan.generator.name, gan.discriminator.name) == ("hub_generator", "hub_discriminator")
    z = np.array([[1.0, 1.0], [0.5, -1.0]], "float32")
    # Independent reference: the closed forms the graph was built from.
    np.testing.assert_allclose(gan.generator(z).numpy(), z @ np.diag([1.0, 2.0]), rtol=1e-6)
    x = (z @ np.diag([1.0, 2.0])).astype("float32")
    np.testing.assert_allclose(gan.discriminator(x).numpy().reshape(-1), -(x**2).sum(axis=1), rtol=1e-6)


def test_export_over_reference_variables_is_refused_before_anything_is_written(tmp_path):
    write_two_metagraph_export(tmp_path / "module", resource_variables=False)
    gan = hub_adapter.load_gan(tmp_path / "module", tags={"serve"})
    assert gan.generator.uses_ref_variables and not gan.discriminator.uses_ref_variables
    model = hub_adapter.hub_refinement_model(gan, seed=0, step_size=0.01, num_steps=2)
    z = np.array([[0.5, -0.5]], "float32")
    assert np.isfinite(model.predict(z, verbose=0)).all()  # refining in Python works
    with pytest.raises(ValueError, match="reads TF1 reference variables"):
        model.export(str(tmp_path / "exported"))
    assert not (tmp_path / "exported").exists()
    # With resource variables the same module exports, and the reloaded model refines as predict does.
    write_two_metagraph_export(tmp_path / "resource")
    gan = hub_adapter.load_gan(tmp_path / "resource", tags={"serve"})
    model = hub_adapter.hub_refinement_model(gan, seed=0, step_size=0.01, num_steps=2)
    model.export(str(tmp_path / "exported"))
    loaded = tf.saved_model.load(str(tmp_path / "exported"))
    served = loaded.serve(tf.constant(z), tf.constant(0, tf.int64)).numpy()
    np.testing.assert_array_equal(served, model.refine(z, seed=0).samples)


def test_a_sigmoid_discriminator_serves_its_logit_not_the_probability(tmp_path):
    # A TF1 module whose discriminator's only output is `prediction` = sigmoid(x w), as S3GAN/SSGAN's.
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [None, 2], name="images")
        weight = tf.compat.v1.get_variable("w", initializer=tf.constant([[10.0], [-20.0]]), use_resource=True)
        prediction = tf.sigmoid(tf.matmul(images, weight), name="prediction")
        z = tf.compat.v1.placeholder(tf.float32, [None, 2], name="z")
        signatures = {
            "generator": tf.compat.v1.saved_model.predict_signature_def({"z": z}, {"default": z * 1.0}),
            "discriminator": tf.compat.v1.saved_model.predict_signature_def(
                {"images": images}, {"prediction": prediction}
            ),
        }
    save_tf1(graph, tmp_path / "module", signatures)
    gan = hub_adapter.load_gan(tmp_path / "module")
    assert gan.discriminator.serves_logit_of_probability
    x = tf.constant([[0.1, 0.2], [3.0, -1.0], [-1.0, 1.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = gan.discriminator(x)
    # The closed form x w, exact even at 50 and -30, where sigmoid rounds to 1 and log(p / (1 - p)) fails.
    np.testing.assert_allclose(logits.numpy().reshape(-1), [-3.0, 50.0, -30.0], rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(logits, x).numpy(), [[10.0, -20.0]] * 3, rtol=1e-6)


def test_the_prior_follows_the_module_family(tmp_path):
    # compare_gan's model_N exports: TF1 Hub format (tfhub_module.pb, one untagged MetaGraph) with
    # generator and discriminator signatures, z uniform in [-1, 1].
    write_two_metagraph_export(tmp_path / "model_n", tag_sets=([],))
    # The bytes of tensorflow_hub's ModuleDef {format: FORMAT_V3}; the adapter reads only the file's presence.
    (tmp_path / "model_n" / "tfhub_module.pb").write_bytes(b"\x08\x03")
    gan = hub_adapter.load_gan(tmp_path / "model_n")
    assert (gan.layout, gan.tf1_hub_format, gan.latent_prior) == ("signatures", True, "uniform")
    model = hub_adapter.hub_refinement_model(gan, seed=0)
    assert model.latent_prior == priors.Uniform(-1, 1)
    # The same signatures as a plain SavedModel (no tfhub_module.pb): a TF2-style export, normal z.
    write_two_metagraph_export(tmp_path / "plain", tag_sets=(["serve"],))
    assert hub_adapter.load_gan(tmp_path / "plain").latent_prior == "normal"
    assert hub_adapter.family_prior("compare_gan", True) == "normal"
    assert hub_adapter.family_prior("generator_only", True) == "normal"


def test_a_fixed_batch_spectral_norm_discriminator_pads_chunks_and_updates_its_u(tmp_path):
    # A TF1 module like compare_gan's bs4 exports: inputs of a fixed batch of 4, and a
    # discriminator whose spectral-norm vector u is reassigned (one power iteration) on every call.
    graph = tf.Graph()
    with graph.as_default():
        z = tf.compat.v1.placeholder(tf.float32, [4, 2], name="z")
        images = tf.compat.v1.placeholder(tf.float32, [4, 2], name="images")
        kernel = tf.constant([[2.0, 0.0], [0.0, 1.0]])
        u = tf.compat.v1.get_variable("u", initializer=tf.constant([[1.0, 1.0]]), use_resource=True)
        v = tf.math.l2_normalize(tf.matmul(u, kernel, transpose_b=True))
        new_u = tf.math.l2_normalize(tf.matmul(v, kernel))
        with tf.control_dependencies([u.assign(new_u)]):
            sigma = tf.reduce_sum(tf.matmul(new_u, kernel, transpose_b=True) * v)
        logits = tf.reduce_sum(tf.matmul(images, kernel), axis=1, keepdims=True) / sigma
        signatures = {
            "generator": tf.compat.v1.saved_model.predict_signature_def({"z": z}, {"default": 3.0 * z}),
            "discriminator": tf.compat.v1.saved_model.predict_signature_def(
                {"images": images}, {"logits": logits}
            ),
        }
    save_tf1(graph, tmp_path / "module", signatures)
    gan = hub_adapter.load_gan(tmp_path / "module", check_gradients=False)
    assert gan.generator.fixed_batch_size == 4 and gan.discriminator.fixed_batch_size == 4
    z = np.linspace(-1, 1, 20, dtype="float32").reshape(10, 2)  # 10 rows: chunks of 4, the last padded
    np.testing.assert_allclose(gan.generator(z).numpy(), 3.0 * z, rtol=1e-6)
    first, second = gan.discriminator(z).numpy(), gan.discriminator(z).numpy()
    # The power iteration converges to the largest singular value, 2: logits tend to (2 x0 + x1) / 2.
    np.testing.assert_allclose(second.reshape(-1), (2 * z[:, 0] + z[:, 1]) / 2, rtol=1e-3)
    assert not np.array_equal(first, second)  # u moved between the calls, as the docs warn


def test_tags_given_as_one_string_name_one_tag(tmp_path):
    write_two_metagraph_export(tmp_path / "export")
    z = np.array([[1.0, 1.0]], "float32")
    by_string = hub_adapter.load_gan(tmp_path / "export", tags="serve")
    np.testing.assert_allclose(by_string.generator(z).numpy(), [[1.0, 2.0]], rtol=1e-6)
    # "tpu" is one tag, not the characters t, p, u: the message lists the tag as given.
    with pytest.raises(ValueError, match=r"`tags` \['tpu'\] is not a MetaGraph"):
        hub_adapter.load_gan(tmp_path / "export", tags="tpu")


def test_an_untagged_metagraph_beside_a_tagged_one_is_the_default(tmp_path):
    # TF1 Hub modules keep their default graph untagged; another tagged one beside it must not make
    # the loader ask for tags.
    write_two_metagraph_export(tmp_path / "module", tag_sets=([], ["serve"]))
    gan = hub_adapter.load_gan(tmp_path / "module")
    z = np.array([[0.5, -1.0]], "float32")
    np.testing.assert_allclose(gan.generator(z).numpy(), [[0.5, -2.0]], rtol=1e-6)


def test_a_sigmoid_generator_keeps_its_output(tmp_path):
    # The logit-under-sigmoid pruning is for discriminators: a generator's sigmoid output is its sample.
    write_tf1_gan(tmp_path / "module", generator_sigmoid=True)
    gan = hub_adapter.load_gan(tmp_path / "module", tags={"serve"})
    z = np.array([[0.5, -1.0], [2.0, 0.25]], "float32")
    expected = 1.0 / (1.0 + np.exp(-(z @ np.diag([1.0, 2.0]))))
    np.testing.assert_allclose(gan.generator(z).numpy(), expected, rtol=1e-6)
    assert not getattr(gan.generator, "serves_logit_of_probability", False)


def test_export_checks_the_discriminator_for_reference_variables_too(tmp_path):
    write_tf1_gan(tmp_path / "module", discriminator_ref=True)
    gan = hub_adapter.load_gan(tmp_path / "module", tags={"serve"})
    assert gan.discriminator.uses_ref_variables and not gan.generator.uses_ref_variables
    model = hub_adapter.hub_refinement_model(gan, seed=0, step_size=0.01, num_steps=2)
    with pytest.raises(ValueError, match="the critic .* reads TF1 reference variables"):
        model.export(str(tmp_path / "exported"))
    assert not (tmp_path / "exported").exists()


def test_a_conditional_sigmoid_discriminator_serves_its_logit(tmp_path):
    # S3GAN's layout: the discriminator takes `images` and `labels`, and its only output is
    # `prediction` = sigmoid(logit); here logit = x w + e_label . b, a closed form per class,
    # w = [10, -20], b = [0, 40, -5].
    hub_modules.save_conditional_sigmoid_gan(tmp_path / "module")
    gan = hub_adapter.load_gan(tmp_path / "module")
    assert gan.conditional and gan.discriminator.serves_logit_of_probability
    x = tf.constant([[0.1, 0.2], [3.0, -1.0], [-1.0, 1.0]])
    classes = tf.constant([0, 1, 2])
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = gan.discriminator([x, classes])
    # x w + b[label]: -3 + 0, 50 + 40, -30 - 5; sigmoid rounds the last two to 1 and 0 in float32.
    np.testing.assert_allclose(logits.numpy().reshape(-1), [-3.0, 90.0, -35.0], rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(logits, x).numpy(), [[10.0, -20.0]] * 3, rtol=1e-6)


def test_an_object_without_signatures_is_named_with_none_available():
    from dgflow_tf.adapters.hub.signature import HubSignature

    with pytest.raises(KeyError, match=r"no signature 'serving_default'\. Its signatures: \[\]"):
        HubSignature(tf.Module(), signature="serving_default")


def test_a_fixed_batch_conditional_module_gets_its_labels_chunked_with_the_images(tmp_path):
    # compare_gan's S3GAN bs<N> exports: images and labels of a fixed batch of 4. The labels must be
    # padded and split into the same chunks as the images: logit x w + b[label] is a closed form per row.
    graph = tf.Graph()
    with graph.as_default():
        z = tf.compat.v1.placeholder(tf.float32, [4, 2], name="z")
        images = tf.compat.v1.placeholder(tf.float32, [4, 2], name="images")
        labels = tf.compat.v1.placeholder(tf.int32, [4], name="labels")
        weight = tf.constant([[10.0], [-20.0]])
        bias = tf.constant([0.0, 40.0, -5.0])
        logits = tf.matmul(images, weight)[:, 0] + tf.gather(bias, labels)
        signatures = {
            "generator": tf.compat.v1.saved_model.predict_signature_def({"z": z}, {"default": 2.0 * z}),
            "discriminator": tf.compat.v1.saved_model.predict_signature_def(
                {"images": images, "labels": labels}, {"logits": logits}
            ),
        }
    save_tf1(graph, tmp_path / "module", signatures)
    gan = hub_adapter.load_gan(tmp_path / "module", check_gradients=False)
    assert gan.discriminator.fixed_batch_size == 4 and gan.discriminator.conditional
    x = np.linspace(-1, 1, 14, dtype="float32").reshape(7, 2)  # 7 rows: chunks of 4, the last padded
    classes = np.array([2, 0, 1, 1, 2, 0, 1], "int32")
    expected = x @ np.array([10.0, -20.0]) + np.array([0.0, 40.0, -5.0])[classes]
    np.testing.assert_allclose(gan.discriminator([x, classes]).numpy().reshape(-1), expected, rtol=1e-5)


class _TwoInputs(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None, 2], tf.float32)])
    def __call__(self, a, b):
        return {"default": a + b}


def test_a_signature_with_unknown_input_names_asks_for_input_key(tmp_path):
    from dgflow_tf.adapters.hub.signature import HubSignature

    module = _TwoInputs()
    tf.saved_model.save(module, str(tmp_path / "two"), signatures={"serving_default": module.__call__})
    loaded = tf.saved_model.load(str(tmp_path / "two"))
    with pytest.raises(
        ValueError,
        match=r"^Cannot tell which of the signature's inputs \['a', 'b'\] to use: pass `input_key`\.$",
    ):
        HubSignature(loaded, signature="serving_default")
    with pytest.raises(
        ValueError, match=r"^`input_key`='c' is not one of the signature's inputs: \['a', 'b'\]$"
    ):
        HubSignature(loaded, signature="serving_default", input_key="c")


def test_a_module_with_the_oldest_variable_op_is_refused_for_export_too(tmp_path):
    # Graphs from TensorFlow before 1.0 hold `Variable` ops (`VariableV2`'s predecessor), initialised
    # here by the MetaGraph's main_op on load. They are reference variables too: refining in Python
    # works, a SavedModel written over them would not capture them.
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        z = v1.placeholder(tf.float32, [None, 2], name="z")
        weight = tf.raw_ops.Variable(shape=[2, 2], dtype=tf.float32, name="w")
        initialise = tf.raw_ops.Assign(ref=weight, value=tf.constant([[1.0, 0.0], [0.0, 2.0]]))
        x = v1.placeholder(tf.float32, [None, 2], name="x")
        signatures = {
            "generator": v1.saved_model.predict_signature_def(
                {"z": z}, {"default": tf.matmul(z, tf.identity(weight))}
            ),
            "discriminator": v1.saved_model.predict_signature_def(
                {"x": x}, {"default": -tf.reduce_sum(x * x, axis=1, keepdims=True)}
            ),
        }
        with v1.Session(graph=graph) as session:
            session.run(initialise)
            builder = v1.saved_model.Builder(str(tmp_path / "module"))
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map=signatures, main_op=initialise.op
            )
            builder.save()
    gan = hub_adapter.load_gan(tmp_path / "module")
    assert gan.generator.uses_ref_variables and not gan.discriminator.uses_ref_variables
    np.testing.assert_allclose(gan.generator(np.array([[1.0, 1.0]], "float32")).numpy(), [[1.0, 2.0]])
    model = hub_adapter.hub_refinement_model(gan, seed=0, step_size=0.01, num_steps=2)
    with pytest.raises(ValueError, match="the generator .* reads TF1 reference variables"):
        model.export(str(tmp_path / "exported"))
    assert not (tmp_path / "exported").exists()
