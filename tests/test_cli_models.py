"""`dgflow-tf refine`, `evaluate` and `export` on small models saved to disk."""

import io
import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel, cli, datasets, streaming
from dgflow_tf.errors import NonFiniteRefinementWarning
from dgflow_tf.zoo import hub_modules


def _run(*argv):
    out = io.StringIO()
    code = cli.main([str(arg) for arg in argv], out=out)
    return code, out.getvalue()


@pytest.mark.cli_flag(
    "refine", "--generator", "--critic", "--num-samples", "--num-steps", "--seed", "--output-dir", "--quiet"
)
def test_refine_writes_samples_that_match_the_library(point_models, tmp_path):
    folder, generator, critic = point_models
    code, text = _run(
        "refine",
        "--generator",
        folder / "generator.keras",
        "--critic",
        folder / "critic.keras",
        "--num-samples",
        50,
        "--num-steps",
        5,
        "--seed",
        3,
        "--output-dir",
        tmp_path,
        "--quiet",
    )
    assert code == 0, text
    latents, base, refined = (np.load(tmp_path / f"{name}.npy") for name in ("latents", "base", "refined"))
    model = RefinementModel(generator, critic, num_steps=5, seed=3)
    np.testing.assert_array_equal(latents, model.sample_latents(50, seed=0))
    np.testing.assert_array_equal(refined, model.predict(latents, batch_size=64, verbose=0))
    np.testing.assert_allclose(base, generator.predict(latents, verbose=0), rtol=1e-6)
    assert (tmp_path / "refined.png").stat().st_size > 1000
    assert json.loads((tmp_path / "run.json").read_text())["settings"]["num_steps"] == 5


@pytest.mark.cli_flag("evaluate", "--reference", "--num-reference")
def test_evaluate_points_and_digits(point_models, tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "points.npy", rng.normal(size=(200, 2)).astype("float32"))
    code, text = _run(
        "evaluate", tmp_path / "points.npy", "--reference", "25gaussians", "--num-reference", 300
    )
    assert code == 0, text
    results = json.loads(text)
    assert results["num_samples"] == 200 and results["ot"] > 0 and np.isfinite(results["kde"])
    # HQ % and modes recomputed here from the points and the 25 means (they do not depend on the reference).
    points = np.load(tmp_path / "points.npy").astype("float64")
    distances = np.linalg.norm(points[:, None] - datasets.TWENTY_FIVE_GAUSSIANS_MODES[None], axis=-1)
    high = distances.min(axis=1) <= 4 * datasets.TWENTY_FIVE_GAUSSIANS_STD
    assert results["hq"] == pytest.approx(100 * high.mean())
    assert results["modes"] == len(np.unique(distances.argmin(axis=1)[high]))

    digits = datasets.digits()
    np.save(tmp_path / "real.npy", digits[:300])
    np.save(tmp_path / "noise.npy", rng.uniform(-1, 1, size=(300, 8, 8, 1)).astype("float32"))
    fids = {}
    for name in ("real", "noise"):
        code, text = _run("evaluate", tmp_path / f"{name}.npy", "--output", tmp_path / f"{name}.json")
        assert code == 0, text
        fids[name] = json.loads((tmp_path / f"{name}.json").read_text())["fid"]
    # Real digits sit far closer to the digits set than uniform noise does.
    assert fids["real"] * 10 < fids["noise"]


@pytest.mark.cli_flag("export", "--generator", "--critic", "--num-steps", "--output-dir")
def test_export_serves_what_refine_wrote(point_models, tmp_path):
    folder, _, _ = point_models
    common = [
        "--generator",
        folder / "generator.keras",
        "--critic",
        folder / "critic.keras",
        "--num-steps",
        4,
    ]
    refine = ["--seed", 9, "--num-samples", 20, "--output-dir", tmp_path / "run", "--quiet"]
    assert _run("refine", *common, *refine)[0] == 0
    # export has no --seed: the SavedModel takes the seed with every call.
    code, text = _run("export", *common, "--output-dir", tmp_path / "saved")
    assert code == 0, text
    assert "loaded.serve(z, seed)" in text
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    served = loaded.serve(tf.constant(np.load(tmp_path / "run" / "latents.npy")), tf.constant(9, tf.int64))
    np.testing.assert_array_equal(served.numpy(), np.load(tmp_path / "run" / "refined.npy"))


def test_refine_a_compare_gan_module_with_its_own_discriminator(tmp_path):
    weights = hub_modules.compare_gan_mlp_weights(latent_dim=3, image_shape=(8, 8, 1), seed=0)
    module = hub_modules.save_compare_gan_mlp(tmp_path / "module", weights, batch_sizes=(8,))
    code, text = _run(
        "refine",
        "--generator",
        module,
        "--num-samples",
        12,
        "--num-steps",
        3,
        "--output-dir",
        tmp_path / "out",
        "--quiet",
    )
    assert code == 0, text
    # The {gen, bsN} layout is S3GAN's and SSGAN's, whose z is standard normal.
    assert "prior Normal()" in text
    latents = np.load(tmp_path / "out" / "latents.npy")
    assert latents.shape == (12, 3)
    assert np.load(tmp_path / "out" / "refined.npy").shape == (12, 8, 8, 1)
    assert (tmp_path / "out" / "refined.png").exists()


def test_bad_input_is_a_one_line_error(point_models, tmp_path, capsys):
    folder, _, _ = point_models
    code, _ = _run("refine", "--generator", tmp_path / "missing.keras", "--critic", folder / "critic.keras")
    assert code == 2
    assert "No model at" in capsys.readouterr().err
    np.save(tmp_path / "cube.npy", np.zeros((3, 3, 3)))
    assert _run("evaluate", tmp_path / "cube.npy")[0] == 2
    assert "evaluate measures 2-D points" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run("refine", "--generator", folder / "generator.keras", "--step-size", "-0.1")


@pytest.mark.parametrize("command", ["refine", "stream", "evaluate", "export"])
def test_help_explains_every_option_and_its_default(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    options = [o for o in re.findall(r"^\s+(--[a-z-]+)", text, flags=re.M) if o != "--help"]
    assert len(options) >= 3
    assert text.count("(default:") >= len(options)


def test_unreadable_model_files_are_errors_that_name_the_path(point_models, tmp_path):
    from dgflow_tf import loading

    folder, _, _ = point_models
    good = (folder / "generator.keras").read_bytes()
    (tmp_path / "truncated.keras").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.keras").write_text("not a model")
    for name in ("truncated.keras", "text.keras"):
        with pytest.raises(ValueError, match=rf"{name}.*(not a readable \.keras file|Cannot read)"):
            loading.load_callable(tmp_path / name, "generator")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty' is not a SavedModel directory: it has no saved_model.pb"):
        loading.load_callable(tmp_path / "empty", "generator")
    module = hub_modules.save_gan_module(tmp_path / "module", *_tiny_keras_gan(), latent_shape=(2,))
    proto = tmp_path / "module" / "saved_model.pb"
    proto.write_bytes(proto.read_bytes()[:100])
    with pytest.raises(ValueError, match="module"):
        loading.load_callable(module, "generator")


def _tiny_keras_gan():
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    return generator, critic


def test_keras_files_with_python_code_need_an_explicit_opt_in(tmp_path, capsys):
    from dgflow_tf import loading

    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: 2.0 * x)])
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="safe_mode"):
        loading.load_callable(tmp_path / "lambda.keras", "generator")
    loaded = loading.load_callable(tmp_path / "lambda.keras", "generator", safe_mode=False)
    np.testing.assert_allclose(loaded(np.ones((1, 2), "float32")).numpy(), [[2.0, 2.0]])
    refuse = ["refine", "--generator", tmp_path / "lambda.keras", "--critic", tmp_path / "lambda.keras"]
    small = ["--num-steps", 1, "--num-samples", 4, "--output-dir", tmp_path / "run", "--quiet"]
    assert _run(*refuse, *small)[0] == 2
    assert "safe_mode" in capsys.readouterr().err
    # With the opt-in the files load; this critic's [batch, 2] output is then the error.
    assert _run(*refuse, *small, "--unsafe-deserialization")[0] == 2
    assert "`critic` must return one value per sample" in capsys.readouterr().err


@pytest.mark.cli_flag("stream", "--on-nonfinite")
def test_stream_follows_the_nonfinite_policy(tmp_path, capsys):
    # A critic with weights of 1e20: its logit overflows float32 after one step for every sample.
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, kernel_initializer="identity")])
    critic = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(1e20))]
    )
    generator.save(tmp_path / "generator.keras")
    critic.save(tmp_path / "critic.keras")
    common = ["stream", "--generator", tmp_path / "generator.keras", "--critic", tmp_path / "critic.keras"]
    common += ["--num-samples", 12, "--shard-size", 5, "--num-steps", 3, "--step-size", 0.1, "--quiet"]
    code, _ = _run(*common, "--output-dir", tmp_path / "raise")
    assert code == 1  # a failure while running, not bad input
    assert "NaN or Inf for 5 of 5 samples: sample 0 at step 1" in capsys.readouterr().err
    with pytest.warns(NonFiniteRefinementWarning):
        code, text = _run(*common, "--on-nonfinite", "freeze", "--output-dir", tmp_path / "freeze")
    assert code == 0, text
    assert "12 samples flagged non-finite" in text
    manifest = streaming.read_manifest(tmp_path / "freeze")
    assert [p for shard in manifest["shards"] for p in shard["nonfinite"]["positions"]] == list(range(12))
    assert {s for shard in manifest["shards"] for s in shard["nonfinite"]["steps"]} == {1}


@pytest.mark.cli_flag("stream", "--strategy")
def test_stream_under_a_mirrored_strategy_writes_the_default_runs_shards(tmp_path, monkeypatch, capsys):
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    generator.save(tmp_path / "generator.keras")
    critic.save(tmp_path / "critic.keras")
    common = ["stream", "--generator", tmp_path / "generator.keras", "--critic", tmp_path / "critic.keras"]
    common += ["--num-samples", 9, "--shard-size", 4, "--num-steps", 3, "--quiet"]
    assert _run(*common, "--output-dir", tmp_path / "default")[0] == 0
    assert _run(*common, "--strategy", "mirrored", "--output-dir", tmp_path / "mirrored")[0] == 0
    np.testing.assert_array_equal(
        streaming.load_shards(tmp_path / "mirrored"), streaming.load_shards(tmp_path / "default")
    )
    # Multi-worker needs a cluster: without TF_CONFIG it is refused as bad input, before any work.
    monkeypatch.delenv("TF_CONFIG", raising=False)
    code, _ = _run(*common, "--strategy", "multi-worker", "--output-dir", tmp_path / "workers")
    assert code == 2
    assert "TF_CONFIG" in capsys.readouterr().err
    assert not (tmp_path / "workers").exists()


def test_a_stream_worker_without_the_chiefs_directory_says_the_chief_wrote_it(
    point_models, tmp_path, monkeypatch
):
    # streaming.refine_to_shards returns None on a worker that cannot see the chief's directory
    # (tests/test_distributed.py runs real workers); the command then says where the result is.
    folder, _, _ = point_models
    monkeypatch.setattr(streaming, "refine_to_shards", lambda *args, **kwargs: None)
    output = tmp_path / "shards"
    code, text = _run(
        "stream",
        "--generator",
        folder / "generator.keras",
        "--critic",
        folder / "critic.keras",
        "--num-samples",
        8,
        "--output-dir",
        output,
        "--quiet",
    )
    assert code == 0
    assert text.splitlines()[-1] == f"This worker's part of the run is done; the chief wrote {output}."
