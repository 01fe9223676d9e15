"""`--step-size auto`, `--solver` and `--calibrate` of `dgflow-tf refine`, each against the library call."""

import io
import json
import warnings

import numpy as np
import pytest

from dgflow_tf import RefinementModel, cli


def _refine(folder, output, *flags):
    out = io.StringIO()
    argv = ["refine", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
    argv += ["--num-samples", 40, "--num-steps", 6, "--seed", 2, "--output-dir", output, "--quiet", *flags]
    code = cli.main([str(arg) for arg in argv], out=out)
    return code, out.getvalue()


def test_default_step_is_auto_and_printed_with_its_value(point_models, tmp_path):
    folder, generator, critic = point_models
    code, text = _refine(folder, tmp_path)
    assert code == 0, text
    model = RefinementModel(generator, critic, num_steps=6, seed=2)
    assert f"step size {model.step_size:.4g} (auto)" in text
    latents = np.load(tmp_path / "latents.npy")
    np.testing.assert_array_equal(
        np.load(tmp_path / "refined.npy"), model.predict(latents, batch_size=64, verbose=0)
    )


@pytest.mark.cli_flag("refine", "--step-size")
def test_a_float_step_size_is_applied(point_models, tmp_path):
    folder, generator, critic = point_models
    code, text = _refine(folder, tmp_path, "--step-size", 0.03)
    assert code == 0, text
    assert "step size 0.03," in text
    expected = RefinementModel(generator, critic, num_steps=6, seed=2, step_size=0.03)
    latents = np.load(tmp_path / "latents.npy")
    np.testing.assert_array_equal(
        np.load(tmp_path / "refined.npy"), expected.predict(latents, batch_size=64, verbose=0)
    )
    # Auto gives another result, so the flag is not ignored.
    assert np.abs(np.load(tmp_path / "refined.npy") - np.load(tmp_path / "base.npy")).max() > 0


@pytest.mark.cli_flag("refine", "--solver")
@pytest.mark.parametrize("solver", ["mala", "adaptive"])
def test_solver_is_applied(point_models, tmp_path, solver):
    folder, generator, critic = point_models
    code, text = _refine(folder, tmp_path, "--solver", solver)
    assert code == 0, text
    latents = np.load(tmp_path / "latents.npy")
    chosen = RefinementModel(generator, critic, num_steps=6, seed=2, solver=solver).predict(
        latents, batch_size=64, verbose=0
    )
    euler = RefinementModel(generator, critic, num_steps=6, seed=2).predict(latents, batch_size=64, verbose=0)
    np.testing.assert_array_equal(np.load(tmp_path / "refined.npy"), chosen)
    assert np.abs(chosen - euler).max() > 1e-6


@pytest.mark.cli_flag("refine", "--calibrate")
def test_calibrate_sets_the_step_the_library_chooses(point_models, tmp_path):
    folder, generator, critic = point_models
    real = np.random.default_rng(5).normal(size=(200, 2)).astype("float32") * 0.5
    np.save(tmp_path / "real.npy", real)
    code, text = _refine(folder, tmp_path / "run", "--calibrate", tmp_path / "real.npy")
    assert code == 0, text
    assert "| step_size | num_steps | OT distance |" in text
    # The chosen row is the bold one; when it is "no refinement", the run says so.
    if "| 0 | 0 | **" in text:
        assert "Note: calibrate: no step size refined the tuning batch" in text
    model = RefinementModel(generator, critic, num_steps=6, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the CLI run may have warned that refinement was switched off
        model.calibrate(real)
    latents = np.load(tmp_path / "run" / "latents.npy")
    np.testing.assert_array_equal(
        np.load(tmp_path / "run" / "refined.npy"), model.predict(latents, batch_size=64, verbose=0)
    )
    assert json.loads((tmp_path / "run" / "run.json").read_text())["settings"]["calibrate"].endswith(
        "real.npy"
    )


@pytest.mark.cli_flag("refine", "--calibrate-samples")
def test_calibrate_samples_sets_the_tuning_batch(point_models, tmp_path):
    folder, generator, critic = point_models
    real = np.random.default_rng(5).normal(size=(200, 2)).astype("float32") * 0.5
    np.save(tmp_path / "real.npy", real)
    flags = ("--calibrate", tmp_path / "real.npy", "--calibrate-samples", 60)
    code, text = _refine(folder, tmp_path / "run", *flags)
    assert code == 0, text
    assert "Calibrating the step size on 60 samples" in text

    def library(num_samples):
        model = RefinementModel(generator, critic, num_steps=6, seed=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = model.calibrate(real, num_samples=num_samples, verbose=0)
        return model, table

    model, table = library(60)
    # The base row's score (OT distance of 60 tuning samples to 60 real ones) differs from the default's.
    base_score = f"| 0 | 0 | {table.rows[0]['score']:.4g}"
    assert base_score in text.replace("**", "")
    assert f"| 0 | 0 | {library(1000)[1].rows[0]['score']:.4g}" not in text.replace("**", "")
    latents = np.load(tmp_path / "run" / "latents.npy")
    np.testing.assert_array_equal(
        np.load(tmp_path / "run" / "refined.npy"), model.predict(latents, batch_size=64, verbose=0)
    )
    with pytest.raises(SystemExit):
        _refine(folder, tmp_path / "bad", "--calibrate-samples", 0)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--step-size", "fast"], "must be 'auto' or a positive number"),
        (["--step-size", "0"], "must be 'auto' or a positive number, got 0"),
        (["--solver", "heun"], "invalid choice: 'heun'"),
    ],
)
def test_bad_values_are_usage_errors(point_models, tmp_path, capsys, flags, message):
    folder, _, _ = point_models
    with pytest.raises(SystemExit) as exit_info:
        _refine(folder, tmp_path, *flags)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_calibrate_file_must_exist(point_models, tmp_path, capsys):
    folder, _, _ = point_models
    code, _ = _refine(folder, tmp_path / "run", "--calibrate", tmp_path / "missing.npy")
    assert code == 2
    assert "--calibrate" in capsys.readouterr().err


def test_calibrate_prints_the_library_warning_when_it_switches_refinement_off(tmp_path):
    # The generator's samples already have the data's law, N(0, I), and the critic d(x) = |x|^2 / 2
    # pushes them outwards: every step size hurts, so calibrate sets num_steps = 0 and warns, and
    # the command passes that warning on as a note (the library's test of the rule is in
    # test_step_size.py).
    import keras

    x = keras.Input((2,))
    identity = keras.layers.Dense(2, kernel_initializer="identity", bias_initializer="zeros")
    generator = keras.Model(x, identity(x))
    squares = keras.layers.Multiply()([x, x])
    half_sum = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.5), use_bias=False)
    critic = keras.Model(x, half_sum(squares))
    generator.save(tmp_path / "generator.keras")
    critic.save(tmp_path / "critic.keras")
    np.save(tmp_path / "real.npy", np.random.default_rng(11).normal(size=(400, 2)).astype("float32"))
    code, text = _refine(tmp_path, tmp_path / "run", "--calibrate", tmp_path / "real.npy")
    assert code == 0, text
    assert "Note: calibrate: no step size refined the tuning batch" in text
    assert "| 0 | 0 | **" in text  # the bold row: no refinement
    np.testing.assert_array_equal(
        np.load(tmp_path / "run" / "refined.npy"), np.load(tmp_path / "run" / "base.npy")
    )
