"""benchmarks/mnist.py's bookkeeping: refreshing rows, adding a method, and where the summaries go.

The experiment itself is replaced by a fake whose FID is a known function of method, seed and
setting, so these tests check the driver's tuning rule and row handling, not a model.
"""

import importlib.util
import json
import os

import pytest

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "mnist.py")


@pytest.fixture
def bench(monkeypatch):
    spec = importlib.util.spec_from_file_location("mnist_benchmark", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
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
            # FID is lowest at step 0.03 for every method; the "version" lets a refresh show itself.
            fid = 10.0 + seed + abs(value - 0.03) * 100 + module.VERSION
            row = {"method": method, "seed": seed, "fid": fid, "generator_evals": 1.0, "critic_evals": 0.0}
            rows.append({**row, **{column: 0.0 for column in ("kid", "precision", "recall", "score")}})
        return rows, {}

    module.VERSION = 0.0
    monkeypatch.setattr(module.mnist, "compare_mnist", compare)
    monkeypatch.setattr(module, "_model", lambda family, seed: Model(seed))
    monkeypatch.setattr(module, "image_grid", lambda *args, **kwargs: None)
    module.calls = calls
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
    # Only the new method ran on the evaluation seeds; the earlier rows are kept as they were.
    assert [methods for methods, seed in bench.calls if seed in (0, 1)] == [("DGflow-KL (data)",)] * 2
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
