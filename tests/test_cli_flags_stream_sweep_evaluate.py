"""Every flag of `dgflow-tf stream`, `sweep` and `evaluate` that changes a result, against the library.

As for `refine` (test_cli_flags.py): each case changes one flag from its default and requires the
command's output to equal the library computation the flag documents and to differ from the default
run, so a flag that is parsed and then dropped fails.
"""

import io
import json
import re
import time

import numpy as np
import pytest

from dgflow_tf import RefinementModel, cli, metrics
from dgflow_tf.experiments import synthetic
from tests.test_cli_flags import CASES, NUM_SAMPLES, NUM_STEPS, _marked


def _stream(folder, output, *flags):
    argv = ["stream", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
    argv += [
        "--num-samples",
        NUM_SAMPLES,
        "--num-steps",
        NUM_STEPS,
        "--output-dir",
        output,
        "--quiet",
        *flags,
    ]
    assert cli.main([str(arg) for arg in argv], out=io.StringIO()) == 0
    shards = sorted(output.glob("shard-*.npy"))
    return np.concatenate([np.load(shard) for shard in shards]), len(shards)


@pytest.fixture(scope="module")
def default_stream(point_models, tmp_path_factory):
    return _stream(point_models[0], tmp_path_factory.mktemp("default_stream"))[0]


@pytest.mark.parametrize("flag", _marked("stream", sorted(CASES)))
def test_stream_flag_matches_the_library(flag, point_models, default_stream, tmp_path):
    folder, generator, critic = point_models
    flags, settings, latent_draw, batch_size, wrap = CASES[flag]
    refined, _ = _stream(folder, tmp_path, *flags)
    model = RefinementModel(
        generator, wrap(critic) if wrap else critic, **{"num_steps": NUM_STEPS, "seed": 0, **settings}
    )
    latents = model.sample_latents(NUM_SAMPLES, seed=latent_draw.get("seed", 0))
    np.testing.assert_array_equal(refined, model.predict(latents, batch_size=batch_size, verbose=0))
    assert not np.array_equal(refined, default_stream), f"{flag} did not change the samples"


@pytest.mark.cli_flag(
    "stream",
    "--shard-size",
    "--generator",
    "--critic",
    "--num-samples",
    "--num-steps",
    "--output-dir",
    "--quiet",
)
def test_stream_shard_size_splits_the_run_into_shards(point_models, default_stream, tmp_path):
    refined, count = _stream(point_models[0], tmp_path, "--shard-size", "10")
    assert [len(np.load(shard)) for shard in sorted(tmp_path.glob("shard-*.npy"))] == [10, 10, 4]
    # The noise is keyed by position, so the samples are the one-shard run's up to float rounding
    # (each shard is a batch of its own, and matrix products round by batch size: reproducibility.md).
    np.testing.assert_allclose(refined, default_stream, rtol=1e-5, atol=1e-6)
    assert count == 3 and _stream(point_models[0], tmp_path / "one")[1] == 1  # default: 1,000 a shard


def _sweep(folder, output, *flags, reference="reference.npy"):
    argv = ["sweep", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
    argv += ["--reference", reference, "--num-samples", 40, "--output-dir", output, "--quiet", *flags]
    assert cli.main([str(arg) for arg in argv], out=io.StringIO()) == 0
    return json.loads((output / "sweep.json").read_text())["rows"]


@pytest.fixture()
def reference(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    points = np.random.default_rng(8).normal(0.5, 0.3, size=(150, 2)).astype("float32")
    np.save(tmp_path / "reference.npy", points)
    return points


@pytest.mark.cli_flag(
    "sweep",
    "--step-sizes",
    "--num-steps-grid",
    "--metric",
    "--kde-bandwidth",
    "--generator",
    "--critic",
    "--reference",
    "--num-samples",
    "--output-dir",
    "--quiet",
)
def test_sweep_grids_and_kde_bandwidth_match_the_library(point_models, reference, tmp_path):
    folder, generator, critic = point_models
    flags = ["--step-sizes", "0.01", "0.1", "--num-steps-grid", "2", "6", "--metric", "kde"]
    rows = _sweep(folder, tmp_path / "a", *flags, "--kde-bandwidth", "0.2")
    ran = {(row["step_size"], row["num_steps"]) for row in rows if row["status"] == "ok"}
    assert ran == {(0.01, 2), (0.01, 6), (0.1, 2), (0.1, 6)}
    row = next(r for r in rows if r["step_size"] == 0.1 and r["num_steps"] == 6)
    model = RefinementModel(generator, critic, step_size=0.1, num_steps=6, seed=0)
    refined = model.predict(model.sample_latents(40, seed=0), verbose=0)
    assert row["score"] == pytest.approx(metrics.kde_score(refined, reference, bandwidth=0.2), rel=1e-6)
    narrower = _sweep(folder, tmp_path / "b", *flags, "--kde-bandwidth", "0.05")
    assert [r["score"] for r in narrower] != [r["score"] for r in rows]


@pytest.mark.cli_flag("sweep", "--num-reference", "--reference")
def test_sweep_named_reference_draws_num_reference_points(point_models, reference, tmp_path):
    folder, generator, critic = point_models
    flags = ["--step-sizes", "0.03", "--num-steps-grid", "3", "--num-reference", "120"]
    rows = _sweep(folder, tmp_path / "a", *flags, reference="swissroll")
    held_out = synthetic.held_out_data("swissroll", 120, 0)
    model = RefinementModel(generator, critic, step_size=0.03, num_steps=3, seed=0)
    refined = model.predict(model.sample_latents(40, seed=0), verbose=0)
    assert rows[-1]["score"] == pytest.approx(metrics.ot_distance(refined, held_out), rel=1e-6)
    more = _sweep(folder, tmp_path / "b", *flags[:-1], "500", reference="swissroll")
    assert more[-1]["score"] != rows[-1]["score"]


# The refinement flags of refine (test_cli_flags.CASES) but for the grid's own: --step-size and --num-steps.
SWEEP_CASES = sorted(flag for flag in CASES if flag not in ("--step-size", "--num-steps"))


@pytest.mark.parametrize(
    "flag",
    [pytest.param(flag, marks=pytest.mark.cli_flag("sweep", *flag.split("/"))) for flag in SWEEP_CASES],
)
def test_sweep_flag_matches_the_library(flag, point_models, reference, tmp_path):
    folder, generator, critic = point_models
    flags, settings, latent_draw, batch_size, wrap = CASES[flag]
    settings = {"num_steps": NUM_STEPS, "seed": 0, "step_size": 0.03, **settings}
    flags = list(flags)
    if "--step-size" in flags:  # a case's step size is the sweep's one-point grid
        del flags[flags.index("--step-size") : flags.index("--step-size") + 2]
    grid = ["--step-sizes", settings["step_size"], "--num-steps-grid", NUM_STEPS]
    [row] = _sweep(folder, tmp_path / "a", *flags, *grid)
    model = RefinementModel(generator, wrap(critic) if wrap else critic, **settings)
    refined = model.predict(model.sample_latents(40, seed=latent_draw.get("seed", 0)), batch_size=batch_size)
    assert row["score"] == pytest.approx(metrics.ot_distance(refined, reference), rel=1e-6)
    if flag != "--batch-size":  # batches change only the rounding here (test_cli_flags_models.py)
        [default] = _sweep(folder, tmp_path / "b", "--step-sizes", 0.03, "--num-steps-grid", NUM_STEPS)
        assert row["score"] != default["score"], f"{flag} did not change the sweep"


@pytest.mark.cli_flag("sweep", "--step-size", "--num-steps")
def test_sweep_step_size_and_num_steps_are_its_grid(point_models, reference, tmp_path):
    rows = _sweep(point_models[0], tmp_path, "--step-size", 0.1, 0.02, "--num-steps", 4, 2)
    assert [(row["step_size"], row["num_steps"]) for row in rows] == [
        (0.02, 2),
        (0.02, 4),
        (0.1, 2),
        (0.1, 4),
    ]


def _evaluate(*argv):
    out = io.StringIO()
    assert cli.main(["evaluate", *[str(arg) for arg in argv]], out=out) == 0
    return json.loads(out.getvalue())


@pytest.mark.cli_flag("evaluate", "--reference", "--num-reference", "--seed", "--output")
def test_evaluate_flags_match_the_library(tmp_path):
    points = np.random.default_rng(2).normal(size=(300, 2)).astype("float32") * 0.6
    np.save(tmp_path / "points.npy", points)
    named = _evaluate(
        tmp_path / "points.npy", "--reference", "25gaussians", "--num-reference", 400, "--seed", 3
    )
    expected = synthetic.evaluate(points, synthetic.held_out_data("25gaussians", 400, 3), "25gaussians")
    for key, value in expected.items():
        assert named[key] == pytest.approx(value, rel=1e-9), key
    for flag, value in (("--num-reference", 500), ("--seed", 4)):
        argv = {"--num-reference": 400, "--seed": 3, flag: value}
        changed = _evaluate(tmp_path / "points.npy", "--reference", "25gaussians", *sum(argv.items(), ()))
        assert changed["ot"] != named["ot"], flag
    np.save(tmp_path / "ref.npy", points[::-1] + 0.5)
    given = _evaluate(
        tmp_path / "points.npy", "--reference", tmp_path / "ref.npy", "--output", tmp_path / "r.json"
    )
    assert given["ot"] == pytest.approx(metrics.ot_distance(points, points[::-1] + 0.5), rel=1e-9)
    assert json.loads((tmp_path / "r.json").read_text()) == given


@pytest.mark.cli_flag("evaluate", "--seed", "--reference")
def test_evaluate_scores_mnist_images_against_the_shipped_test_statistics(tmp_path, mnist_test):
    from dgflow_tf.metrics.mnist import mnist_metrics

    images = mnist_test[0][:300]
    np.save(tmp_path / "images.npy", images)
    shipped = _evaluate(tmp_path / "images.npy", "--seed", 1)
    expected = mnist_metrics(images, subset_size=300, seed=1)
    for key, value in expected.items():
        assert shipped[key] == pytest.approx(value, rel=1e-9), key
    np.save(tmp_path / "ref.npy", mnist_test[0][5000:5600])
    against_file = _evaluate(tmp_path / "images.npy", "--reference", tmp_path / "ref.npy")
    assert against_file["fid"] != shipped["fid"] and 0.0 <= against_file["precision"] <= 1.0


def test_stream_says_it_resumes_reports_its_run_and_shows_progress_unless_quiet(
    point_models, tmp_path, capsys
):
    folder = point_models[0]
    argv = ["stream", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
    argv += ["--num-samples", NUM_SAMPLES, "--num-steps", NUM_STEPS, "--shard-size", 10]
    for quiet in (False, True):
        out, output = io.StringIO(), tmp_path / f"quiet-{quiet}"
        flags = [*argv, "--output-dir", output, *(["--quiet"] if quiet else [])]
        start = time.perf_counter()
        assert cli.main([str(arg) for arg in flags], out=out) == 0
        elapsed = time.perf_counter() - start
        first, last = out.getvalue().strip().splitlines()
        assert first.endswith("An interrupted run resumes where it stopped.")
        report = re.fullmatch(
            rf"3 shards, {NUM_SAMPLES} samples in {re.escape(str(output))} \((\d+\.\d) s this run; "
            r"0 samples flagged non-finite\)\. Load them with dgflow_tf\.streaming\.load_shards\.",
            last,
        )
        assert report is not None, last
        assert 0.0 <= float(report.group(1)) <= elapsed + 0.05
        progress = capsys.readouterr()
        assert bool(progress.out + progress.err) != quiet
