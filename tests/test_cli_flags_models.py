"""Model-loading and input flags of `refine`, `stream`, `sweep` and `export`, against the library.

test_cli_flags.py checks the refinement settings; this file the flags that choose what is loaded and
what goes in: --batch-size with a generator that sees its batch, --unsafe-deserialization,
--labels and --latent-shape with a conditional generator, --latents, --on-nonfinite,
--hub-batch-size and --collective-timeout. Each case sets up a model on which the flag changes the
output, so a flag that is parsed and dropped fails.
"""

import io
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel, cli, loading, metrics
from dgflow_tf.zoo import hub_modules

NUM_SAMPLES, NUM_STEPS, STEP = 12, 3, 0.05


def _run(command, folder, output, *flags, generator="generator.keras", critic="critic.keras"):
    argv = [command, "--generator", folder / generator, "--critic", folder / critic, *flags]
    if command != "export":
        argv += ["--num-samples", NUM_SAMPLES, "--quiet"]
    if command == "sweep":
        argv += ["--reference", folder / "reference.npy", "--step-sizes", STEP, "--num-steps-grid", NUM_STEPS]
    else:
        argv += ["--step-size", STEP, "--num-steps", NUM_STEPS]
    out = io.StringIO()
    code = cli.main([str(arg) for arg in [*argv, "--output-dir", output]], out=out)
    assert code == 0, out.getvalue()
    if command == "refine":
        return np.load(output / "refined.npy")
    if command == "stream":
        return np.concatenate([np.load(shard) for shard in sorted(output.glob("shard-*.npy"))])
    return json.loads((output / "sweep.json").read_text())["rows"][0]["score"]


def _expected(command, folder, refined):
    """What `command` reports for the library's refined samples."""
    if command == "sweep":
        return metrics.ot_distance(refined, np.load(folder / "reference.npy"))
    return refined


def _check(command, folder, got, refined):
    if command == "sweep":
        assert got == pytest.approx(_expected(command, folder, refined), rel=1e-6)
    else:
        np.testing.assert_allclose(got, refined, rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def batch_models(tmp_path_factory):
    """A generator whose output scales with the size of the batch it is called on (a Lambda layer, so
    loading it needs --unsafe-deserialization), and a small critic."""
    keras.utils.set_random_seed(1)
    folder = tmp_path_factory.mktemp("batch_models")
    generator = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Lambda(
                lambda z: z * __import__("keras").ops.cast(__import__("keras").ops.shape(z)[0], z.dtype) / 8
            ),
        ]
    )
    critic = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)]
    )
    generator.save(folder / "generator.keras")
    critic.save(folder / "critic.keras")
    np.save(folder / "reference.npy", np.random.default_rng(3).normal(size=(60, 2)).astype("float32"))
    return folder


@pytest.mark.cli_flag("refine", "--batch-size", "--unsafe-deserialization")
@pytest.mark.cli_flag("stream", "--batch-size", "--unsafe-deserialization")
@pytest.mark.cli_flag("sweep", "--batch-size", "--unsafe-deserialization")
@pytest.mark.parametrize("command", ["refine", "stream", "sweep"])
def test_batch_size_reaches_the_generator(command, batch_models, tmp_path):
    folder = batch_models
    generator = loading.load_callable(folder / "generator.keras", "generator", safe_mode=False)
    critic = keras.saving.load_model(folder / "critic.keras")
    model = RefinementModel(generator, critic, step_size=STEP, num_steps=NUM_STEPS, seed=0, latent_shape=(2,))
    latents = model.sample_latents(NUM_SAMPLES, seed=0)
    results = {}
    for batch_size in (5, 12):
        flags = ["--batch-size", batch_size, "--unsafe-deserialization", "--latent-shape", "2"]
        results[batch_size] = _run(command, folder, tmp_path / str(batch_size), *flags)
        _check(command, folder, results[batch_size], model.predict(latents, batch_size=batch_size, verbose=0))
    assert not np.allclose(results[5], results[12]), "--batch-size did not reach the generator"


@pytest.mark.cli_flag("export", "--unsafe-deserialization")
@pytest.mark.parametrize("command", ["refine", "stream", "sweep", "export"])
def test_unsafe_deserialization_is_needed_for_python_code(command, batch_models, tmp_path, capsys):
    argv = [
        command,
        "--generator",
        batch_models / "generator.keras",
        "--critic",
        batch_models / "critic.keras",
    ]
    if command == "sweep":
        argv += ["--reference", batch_models / "reference.npy"]
    assert cli.main([str(arg) for arg in [*argv, "--output-dir", tmp_path / "out"]], out=io.StringIO()) == 2
    assert "safe_mode" in capsys.readouterr().err
    if command == "export":  # refine, stream and sweep run with it in test_batch_size_reaches_the_generator
        _export(batch_models, tmp_path / "saved", "--unsafe-deserialization", "--latent-shape", "2")


@pytest.fixture(scope="module")
def conditional_models(tmp_path_factory):
    """A generator and critic that take `[x, label]`, saved without a latent shape the CLI can read."""
    keras.utils.set_random_seed(2)
    folder = tmp_path_factory.mktemp("conditional_models")
    z, label = keras.Input((2,)), keras.Input((1,))
    generator = keras.Model([z, label], keras.layers.Dense(2)(keras.layers.Concatenate()([z, label])))
    x, label = keras.Input((2,)), keras.Input((1,))
    hidden = keras.layers.Dense(8, activation="tanh")(keras.layers.Concatenate()([x, label]))
    critic = keras.Model([x, label], keras.layers.Dense(1)(hidden))
    generator.save(folder / "generator.keras")
    critic.save(folder / "critic.keras")
    labels = np.arange(NUM_SAMPLES, dtype="float32").reshape(-1, 1) % 3
    np.save(folder / "labels.npy", labels)
    np.save(folder / "other_labels.npy", (labels + 1) % 3)
    np.save(folder / "reference.npy", np.random.default_rng(4).normal(size=(60, 2)).astype("float32"))
    return folder, generator, critic, labels


@pytest.mark.cli_flag("refine", "--labels", "--latent-shape")
@pytest.mark.cli_flag("stream", "--labels", "--latent-shape")
@pytest.mark.cli_flag("sweep", "--labels", "--latent-shape")
@pytest.mark.parametrize("command", ["refine", "stream", "sweep"])
def test_labels_and_latent_shape_match_the_library(command, conditional_models, tmp_path, capsys):
    folder, generator, critic, labels = conditional_models
    # A conditional Keras model does not say which of its inputs is the latent: --latent-shape does.
    with pytest.raises(AssertionError):
        _run(command, folder, tmp_path / "none", "--labels", folder / "labels.npy")
    assert "--latent-shape" in capsys.readouterr().err
    model = RefinementModel(
        generator, critic, conditional=True, latent_shape=(2,), step_size=STEP, num_steps=NUM_STEPS, seed=0
    )
    latents = model.sample_latents(NUM_SAMPLES, seed=0)
    got = _run(command, folder, tmp_path / "a", "--labels", folder / "labels.npy", "--latent-shape", "2")
    _check(command, folder, got, model.predict((latents, labels), verbose=0))
    other = _run(
        command, folder, tmp_path / "b", "--labels", folder / "other_labels.npy", "--latent-shape", "2"
    )
    assert not np.allclose(other, got), "--labels did not reach the model"


@pytest.mark.cli_flag("stream", "--latents")
@pytest.mark.cli_flag("sweep", "--latents")
@pytest.mark.parametrize("command", ["stream", "sweep"])
def test_given_latents_are_the_ones_refined(command, point_models, tmp_path):
    folder, generator, critic = point_models
    np.save(folder / "reference.npy", np.random.default_rng(5).normal(size=(60, 2)).astype("float32"))
    latents = np.random.default_rng(6).uniform(-2, 2, size=(NUM_SAMPLES, 2)).astype("float32")
    np.save(tmp_path / "latents.npy", latents)
    got = _run(command, folder, tmp_path / "a", "--latents", tmp_path / "latents.npy")
    model = RefinementModel(generator, critic, step_size=STEP, num_steps=NUM_STEPS, seed=0)
    _check(command, folder, got, model.predict(latents, verbose=0))
    drawn = _run(command, folder, tmp_path / "b")
    assert not np.allclose(got, drawn), "--latents was not used"


@pytest.fixture(scope="module")
def overflowing_models(tmp_path_factory):
    """A critic whose logit overflows to Inf (weights of 1e20 twice) for samples with x0 + x1 > 0, and is
    0 for the rest: the first step turns the former non-finite and leaves the latter finite."""
    folder = tmp_path_factory.mktemp("overflowing_models")
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, kernel_initializer="identity")])
    huge = keras.initializers.Constant(1e20)
    critic = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(1, kernel_initializer=huge, use_bias=False, activation="relu"),
            keras.layers.Dense(1, kernel_initializer=huge, use_bias=False),
        ]
    )
    generator.save(folder / "generator.keras")
    critic.save(folder / "critic.keras")
    np.save(folder / "reference.npy", np.random.default_rng(7).normal(size=(60, 2)).astype("float32"))
    return folder, generator, critic


@pytest.mark.cli_flag("refine", "--on-nonfinite")
@pytest.mark.cli_flag("sweep", "--on-nonfinite")
@pytest.mark.parametrize("command", ["refine", "sweep"])
def test_on_nonfinite_freeze_keeps_the_last_finite_state(command, overflowing_models, tmp_path, capsys):
    folder, generator, critic = overflowing_models
    model = RefinementModel(
        generator, critic, step_size=STEP, num_steps=NUM_STEPS, seed=0, on_nonfinite="freeze"
    )
    latents = model.sample_latents(NUM_SAMPLES, seed=0)
    with pytest.warns(UserWarning):
        frozen = model.predict(latents, verbose=0)
    # Frozen at their start: the samples the critic overflows on, and only those.
    overflowing = latents.sum(axis=1) > 0
    assert 0 < overflowing.sum() < NUM_SAMPLES
    np.testing.assert_array_equal(frozen[overflowing], latents[overflowing])
    assert not np.allclose(frozen[~overflowing], latents[~overflowing])
    with pytest.warns(UserWarning):
        got = _run(command, folder, tmp_path / "freeze", "--on-nonfinite", "freeze")
    _check(command, folder, got, frozen)
    if command == "refine":  # the default raises: exit code 1, nothing written
        argv = ["refine", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
        argv += ["--num-samples", NUM_SAMPLES, "--step-size", STEP, "--output-dir", tmp_path / "raise"]
        assert cli.main([str(arg) for arg in argv], out=io.StringIO()) == 1
        assert "NaN or Inf" in capsys.readouterr().err
    else:  # the default counts the run as diverged, and with one setting that is an error
        argv = ["sweep", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
        argv += ["--reference", folder / "reference.npy", "--num-samples", NUM_SAMPLES, "--quiet"]
        argv += ["--step-sizes", STEP, "--num-steps-grid", NUM_STEPS, "--output-dir", tmp_path / "raise"]
        assert cli.main([str(arg) for arg in argv], out=io.StringIO()) == 2
        assert "Every setting of the sweep diverged" in capsys.readouterr().err


@pytest.mark.cli_flag("refine", "--hub-batch-size")
@pytest.mark.cli_flag("stream", "--hub-batch-size")
@pytest.mark.cli_flag("sweep", "--hub-batch-size")
@pytest.mark.parametrize("command", ["refine", "stream", "sweep"])
def test_hub_batch_size_chooses_the_modules_signature(command, tmp_path, capsys):
    weights = hub_modules.compare_gan_mlp_weights(latent_dim=3, image_shape=(2,), seed=0)
    module = hub_modules.save_compare_gan_mlp(tmp_path / "module", weights, batch_sizes=(4, 8))
    np.save(tmp_path / "reference.npy", np.random.default_rng(8).normal(size=(60, 2)).astype("float32"))
    # The module serves batches of 4 and 8 only: a size it lacks is an error, so the flag is read.
    with pytest.raises(AssertionError):
        _run(command, tmp_path, tmp_path / "bad", "--hub-batch-size", 5, generator="module", critic="module")
    assert "no 'gen' MetaGraph for batch_size=5: ['bs4', 'bs8']" in capsys.readouterr().err
    generator = loading.load_callable(module, "generator", batch_size=4)
    discriminator = loading.load_callable(module, "discriminator", batch_size=4)
    assert generator.fixed_batch_size == 4
    model = RefinementModel(
        generator,
        discriminator,
        step_size=STEP,
        num_steps=NUM_STEPS,
        seed=0,
        latent_prior=getattr(generator, "latent_prior", None) or "normal",
        latent_shape=generator.sample_shape,
    )
    got = _run(
        command, tmp_path, tmp_path / "four", "--hub-batch-size", 4, generator="module", critic="module"
    )
    _check(command, tmp_path, got, model.predict(model.sample_latents(NUM_SAMPLES, seed=0), verbose=0))


@pytest.mark.cli_flag("stream", "--collective-timeout", "--strategy")
def test_collective_timeout_reaches_the_multi_worker_strategy(point_models, tmp_path, monkeypatch):
    folder, _, _ = point_models
    timeouts = []

    class Recorded(Exception):
        pass

    def communication_options(timeout_seconds=None, **_):
        timeouts.append(timeout_seconds)
        raise Recorded  # stop before a multi-worker strategy starts its servers

    monkeypatch.setattr(tf.distribute.experimental, "CommunicationOptions", communication_options)
    worker = {"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(worker))
    argv = ["stream", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
    argv += ["--strategy", "multi-worker", "--output-dir", tmp_path / "a", "--quiet"]
    for flags, expected in (([], 600.0), (["--collective-timeout", 17], 17.0)):
        assert cli.main([str(arg) for arg in [*argv, *flags]], out=io.StringIO()) != 0
        assert timeouts[-1] == expected


def _export(folder, output, *flags, generator="generator.keras", critic="critic.keras"):
    argv = ["export", "--generator", folder / generator, "--critic", folder / critic]
    argv += ["--step-size", STEP, "--num-steps", NUM_STEPS, *flags, "--output-dir", output]
    out = io.StringIO()
    code = cli.main([str(arg) for arg in argv], out=out)
    assert code == 0, out.getvalue()
    return tf.saved_model.load(str(output))


def _assert_serves_the_conditional_library(loaded, generator, critic, labels):
    model = RefinementModel(
        generator, critic, conditional=True, latent_shape=(2,), step_size=STEP, num_steps=NUM_STEPS, seed=0
    )
    latents = model.sample_latents(NUM_SAMPLES, seed=3)
    served = loaded.serve(tf.constant(latents), tf.constant(labels), tf.constant(0, tf.int64)).numpy()
    np.testing.assert_allclose(served, model.predict((latents, labels), verbose=0), rtol=1e-6, atol=1e-6)


@pytest.mark.cli_flag("export", "--labels", "--latent-shape")
def test_export_of_a_conditional_model_serves_the_librarys_samples(conditional_models, tmp_path):
    folder, generator, critic, labels = conditional_models
    loaded = _export(folder, tmp_path / "saved", "--labels", folder / "labels.npy", "--latent-shape", "2")
    _assert_serves_the_conditional_library(loaded, generator, critic, labels)


@pytest.mark.cli_flag("export", "--labels")
def test_export_keeps_the_dtype_of_integer_labels(tmp_path):
    # Class indices for an Embedding: the SavedModel must take int32 labels, as the .npy holds them.
    keras.utils.set_random_seed(5)
    z, label = keras.Input((2,)), keras.Input((), dtype="int32")
    embedded = keras.layers.Embedding(3, 2)(label)
    generator = keras.Model([z, label], keras.layers.Dense(2)(keras.layers.Concatenate()([z, embedded])))
    x, label = keras.Input((2,)), keras.Input((), dtype="int32")
    embedded = keras.layers.Embedding(3, 2)(label)
    critic = keras.Model([x, label], keras.layers.Dense(1)(keras.layers.Concatenate()([x, embedded])))
    generator.save(tmp_path / "generator.keras")
    critic.save(tmp_path / "critic.keras")
    labels = np.arange(NUM_SAMPLES, dtype="int32") % 3
    np.save(tmp_path / "labels.npy", labels)
    loaded = _export(tmp_path, tmp_path / "saved", "--labels", tmp_path / "labels.npy", "--latent-shape", "2")
    _assert_serves_the_conditional_library(loaded, generator, critic, labels)


@pytest.mark.cli_flag("export", "--on-nonfinite")
def test_export_freezes_nonfinite_samples_when_asked(overflowing_models, tmp_path):
    folder, generator, critic = overflowing_models
    latents = np.random.default_rng(9).normal(size=(NUM_SAMPLES, 2)).astype("float32")
    frozen = _export(folder, tmp_path / "freeze", "--on-nonfinite", "freeze")
    served = frozen.serve(tf.constant(latents), tf.constant(0, tf.int64)).numpy()
    model = RefinementModel(
        generator, critic, step_size=STEP, num_steps=NUM_STEPS, seed=0, on_nonfinite="freeze"
    )
    with pytest.warns(UserWarning):
        np.testing.assert_allclose(served, model.predict(latents, verbose=0), rtol=1e-6, atol=1e-6)
    raising = _export(folder, tmp_path / "raise")  # the default: the graph raises
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or Inf"):
        raising.serve(tf.constant(latents), tf.constant(0, tf.int64))


@pytest.mark.cli_flag("export", "--hub-batch-size")
def test_export_reads_hub_batch_size(tmp_path, capsys):
    weights = hub_modules.compare_gan_mlp_weights(latent_dim=3, image_shape=(2,), seed=0)
    hub_modules.save_compare_gan_mlp(tmp_path / "module", weights, batch_sizes=(4, 8))
    argv = [
        "export",
        "--generator",
        tmp_path / "module",
        "--hub-batch-size",
        5,
        "--output-dir",
        tmp_path / "s",
    ]
    assert cli.main([str(arg) for arg in argv], out=io.StringIO()) == 2
    assert "no 'gen' MetaGraph for batch_size=5: ['bs4', 'bs8']" in capsys.readouterr().err
