"""benchmarks/mnist.py's bookkeeping: refreshing rows, adding a method, and where the summaries go.

The experiment itself is replaced by a fake whose FID is a known function of method, seed and
setting, so these tests check the driver's tuning rule and row handling, not a model.
"""

import json

import pytest
from benchmark_scripts import load_benchmark


@pytest.fixture
def bench(monkeypatch):
    module = load_benchmark("mnist")
    calls = []

    class Model:
        def __init__(self, seed):
            self.seed = seed

    def compare(model, methods, seed, num_samples, settings, num_subsets=100, progress=None):
        calls.append((tuple(methods), seed))
        rows = []
        for method in methods:
            knob = settings.get(method, {})
            value = next(iter(knob.values()), 0.0)
            # FID is lowest at step OPTIMUM (0.03) for every method; VERSION lets a refresh show itself.
            fid = 10.0 + seed + abs(value - module.OPTIMUM) * 100 + module.VERSION
            row = {"method": method, "seed": seed, "fid": fid, "generator_evals": 1.0, "critic_evals": 0.0}
            rows.append({**row, **{column: 0.0 for column in ("kid", "precision", "recall", "score")}})
        return rows, {method: [] for method in methods}

    module.VERSION, module.OPTIMUM = 0.0, 0.03
    monkeypatch.setattr(module.mnist, "compare_mnist", compare)
    monkeypatch.setattr(module, "_model", lambda family, seed: Model(seed))
    grids = []
    monkeypatch.setattr(module, "image_grid", lambda panels, path, **_: grids.append((list(panels), path)))
    module.calls, module.grids = calls, grids
    return module


def _argv(output, *extra):
    methods = ["base", "DGflow-KL", "DOT"]
    return ["--families", "dcgan", "--seeds", "0", "1", "--model-seeds", "0", "--methods", *methods,
            "--num-samples", "8", "--tuning-samples", "4", "--output", str(output), *extra]  # fmt: skip


def test_a_refresh_adds_a_new_method_tuned_by_the_same_rule_and_keeps_every_other_row(bench, tmp_path):
    output = tmp_path / "mnist_gan_seeds"
    bench.main(_argv(output))
    first = json.loads((tmp_path / "mnist_gan_seeds.json").read_text())
    assert not (tmp_path / "mnist.json").exists()  # the summaries are named after --output's folder
    assert {row["method"] for row in first["rows"]} == {"base", "DGflow-KL", "DOT"}

    bench.VERSION = 1.0  # rows computed from now on differ from the first run's
    bench.calls.clear()
    bench.main(_argv(output, "--methods", "base", "DGflow-KL", "DOT", "DGflow-KL (data)",
                     "--refresh", "DGflow-KL (data)"))  # fmt: skip
    second = json.loads((tmp_path / "mnist_gan_seeds.json").read_text())
    tuning = json.loads((tmp_path / "mnist_gan_seeds_tuning.json").read_text())["dcgan"]
    # The new method was swept over the whole grid on the tuning seed and the lowest FID chosen.
    swept = [row["value"] for row in tuning["sweep"] if row["method"] == "DGflow-KL (data)"]
    assert swept == list(bench.mnist.GRIDS["DGflow-KL (data)"])
    assert tuning["choices"]["DGflow-KL (data)"] == {"step_size": 0.03}
    assert tuning["choices"]["DGflow-KL"] == {"step_size": 0.03}
    # Only the new method ran on the second evaluation seed; the first ran every method to redraw
    # the sample grid with today's rows, and the earlier rows are kept as they were.
    assert [methods for methods, seed in bench.calls if seed in (0, 1)] == [
        ("base", "DGflow-KL", "DOT", "DGflow-KL (data)"),
        ("DGflow-KL (data)",),
    ]
    assert bench.grids[-1] == (["base", "DGflow-KL", "DOT", "DGflow-KL (data)"], str(output / "dcgan.png"))
    old = [row for row in second["rows"] if row["method"] != "DGflow-KL (data)"]
    assert old == first["rows"]
    added = sorted((row["seed"], row["fid"]) for row in second["rows"] if row["method"] == "DGflow-KL (data)")
    assert added == [(0, 11.0), (1, 12.0)]
    summary = (tmp_path / "mnist_gan_seeds.md").read_text()
    assert "| DGflow-KL (data) | 11.500 ± 0.500 |" in summary


def test_a_run_with_other_settings_is_not_read_back_as_a_refresh(bench, tmp_path):
    output = tmp_path / "mnist"
    bench.main(_argv(output))
    bench.VERSION = 1.0
    bench.calls.clear()
    # Another sample count: the whole family runs again, it is not patched.
    argv = _argv(output, "--refresh", "DOT")
    argv[argv.index("--num-samples") + 1] = "16"
    bench.main(argv)
    rows = json.loads((tmp_path / "mnist.json").read_text())["rows"]
    assert {row["fid"] >= 11.0 for row in rows} == {True}


def _sweep(tmp_path, method):
    tuning = json.loads((tmp_path / "mnist_tuning.json").read_text())["dcgan"]
    return [row["value"] for row in tuning["sweep"] if row["method"] == method], tuning["choices"]


@pytest.mark.parametrize(
    ("optimum", "extension", "chosen"),
    [
        (1.0, [1.0, 3.0], 1.0),  # past the top edge until the newest point is no longer the best
        (1000.0, [1.0, 3.0, 10.0, 30.0, 100.0], 100.0),  # at most MAX_EXTENSIONS["up"] (5) points above
        (1e-4, [1e-4, 3e-5, 3e-4], 1e-4),  # past the bottom edge, in the same 1-3 pattern
        (1e-7, [1e-4, 3e-5, 3e-4], 3e-5),  # at most MAX_EXTENSIONS["down"] (3) points below
        (0.3, [1.0], 0.3),  # the edge itself wins once the point past it is worse
    ],
)
def test_a_step_best_at_the_grids_edge_is_swept_past_that_edge(bench, tmp_path, optimum, extension, chosen):
    bench.OPTIMUM = optimum
    bench.main(_argv(tmp_path / "mnist", "--methods", "base", "DGflow-KL", "DRS"))
    swept, choices = _sweep(tmp_path, "DGflow-KL")
    assert swept == sorted(list(bench.mnist.GRIDS["DGflow-KL"]) + extension)
    assert choices["DGflow-KL"] == {"step_size": chosen}
    # DRS's quantile is not a step: its best at an edge of its grid (0.5 or 0.95) does not grow the grid.
    assert _sweep(tmp_path, "DRS")[0] == list(bench.mnist.DRS_QUANTILES)
    nearest = min(bench.mnist.DRS_QUANTILES, key=lambda quantile: abs(quantile - optimum))
    assert choices["DRS"] == {"gamma_quantile": nearest}


def test_a_refresh_retunes_by_todays_rule_and_sweeps_only_the_new_points(bench, tmp_path):
    bench.OPTIMUM, bench.MAX_EXTENSIONS = 1.0, {"up": 0, "down": 0}  # the earlier rule: the fixed grid
    bench.main(_argv(tmp_path / "mnist"))
    assert _sweep(tmp_path, "DGflow-KL")[1]["DGflow-KL"] == {"step_size": 0.3}
    before = json.loads((tmp_path / "mnist.json").read_text())["rows"]

    bench.MAX_EXTENSIONS = {"up": 3, "down": 3}
    bench.calls.clear()
    bench.main(_argv(tmp_path / "mnist", "--refresh", "DGflow-KL"))
    swept, choices = _sweep(tmp_path, "DGflow-KL")
    assert swept == sorted(list(bench.mnist.GRIDS["DGflow-KL"]) + [1.0, 3.0])
    assert choices == {"DGflow-KL": {"step_size": 1.0}, "DOT": {"learning_rate": 0.3}}
    # The journal kept the fixed grid's points: only 1.0 and 3.0 ran on the tuning seed.
    tuning_calls = [methods for methods, seed in bench.calls if seed == bench.mnist.TUNING_SEED]
    assert tuning_calls == [("DGflow-KL",)] * 2
    after = json.loads((tmp_path / "mnist.json").read_text())["rows"]
    fid = {(row["method"], row["seed"]): row["fid"] for row in after}
    assert fid[("DGflow-KL", 0)] == 10.0 and fid[("DGflow-KL", 1)] == 11.0  # rerun at step 1.0
    assert [row for row in after if row["method"] != "DGflow-KL"] == [
        row for row in before if row["method"] != "DGflow-KL"
    ]


def test_each_family_records_the_library_versions_it_ran_with(bench, tmp_path):
    import keras
    import numpy as np
    import tensorflow as tf

    output = tmp_path / "mnist"
    bench.main(_argv(output))
    family = json.loads((output / "dcgan.json").read_text())
    assert family["versions"]["tensorflow"] == tf.__version__
    assert (family["versions"]["keras"], family["versions"]["numpy"]) == (keras.__version__, np.__version__)
    summary = (tmp_path / "mnist.md").read_text()
    assert f"dcgan tensorflow {tf.__version__}, keras {keras.__version__}" in summary
    # A refresh keeps what the family ran with and adds its own; a family written before versions
    # were kept says so instead of claiming today's.
    bench.main(_argv(output, "--refresh", "DOT"))
    family = json.loads((output / "dcgan.json").read_text())
    assert family["versions"]["tensorflow"] == tf.__version__ and "refreshed_with" in family
    del family["versions"]
    (output / "dcgan.json").write_text(json.dumps(family))
    bench.main(_argv(output))
    assert "dcgan not recorded" in (tmp_path / "mnist.md").read_text()
