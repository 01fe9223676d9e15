"""`benchmarks/quality_per_eval_mnist.py`: its settings, tuning, summary and resuming, on a stand-in FID."""

import json

import pytest
from benchmark_scripts import load_benchmark

bench = load_benchmark("quality_per_eval_mnist")


def test_method_settings_count_evaluations_and_take_the_tuned_step():
    tuned = {"euler": {10: 0.03}, "adaptive": {5: 0.1}}
    assert bench.method_settings("base", 0, tuned) == {"num_steps": 0}
    assert bench.method_settings("Euler tuned", 10, tuned) == {
        "solver": "euler",
        "num_steps": 10,
        "step_size": 0.03,
    }
    assert bench.method_settings("Euler auto", 10, tuned) == {"solver": "euler", "num_steps": 10}
    # MALA also evaluates its start, so a budget of 10 buys 9 steps.
    assert bench.method_settings("MALA auto", 10, tuned) == {"solver": "mala", "num_steps": 9}
    assert bench.method_settings("adaptive tuned", 5, tuned)["step_size"] == 0.1


def _rows(fids):
    return [
        {"gan": "g", "seed": seed, "method": method, "budget": budget, "fid": fid, "step_size": 0.0}
        for (method, budget), per_seed in fids.items()
        for seed, fid in zip((0, 1, 2), per_seed, strict=True)
    ]


def test_summary_on_hand_worked_rows():
    rows = _rows(
        {
            ("base", 0): (10.0, 12.0, 14.0),
            ("Euler tuned", 25): (6.0, 6.0, 6.0),
            ("Euler auto", 25): (9.0, 13.0, 9.0),
            **{(m, b): (7.0, 7.0, 7.0) for m in ("Euler tuned", "adaptive tuned") for b in (2, 5, 10)},
            **{("adaptive auto", b): (f, f, f) for b, f in ((2, 9.0), (5, 6.3), (10, 6.6))},
        }
    )
    summary = bench.summary(rows, "g")
    assert summary["base"] == 12.0 and summary["tuned"] == 6.0
    # (12 - 31/3) / (12 - 6): auto keeps 5/18 of the tuned gain; it is below the base on seeds 0 and 2.
    assert summary["auto_share"] == pytest.approx(5 / 18)
    assert summary["auto_seeds_improved"] == 2
    within = summary["best_at_10_over_tuned_25"]
    assert within["adaptive auto"] == pytest.approx(6.3 / 6.0 - 1)  # the best of budgets 2, 5, 10
    assert within["adaptive tuned"] == within["Euler tuned"] == pytest.approx(7.0 / 6.0 - 1)


class _FakeFID:
    """FID as a function of the settings: lowest at step 0.03 for Euler and 0.1 for the adaptive solver."""

    def __init__(self, fail_after=None):
        self.calls, self.fail_after = 0, fail_after

    def __call__(self, model, critic, seed, num_samples, **settings):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt
        steps = settings.get("num_steps", 0)
        best = 0.1 if settings.get("solver") == "adaptive" else 0.03
        step = settings.get("step_size", 0.05)
        fid = 50.0 + seed - (0.0 if steps == 0 else steps - 100 * abs(step - best))
        return {"fid": fid, "step_size": step if steps else 0.0, "evaluations": steps}


def test_tunes_on_seed_100_evaluates_with_the_tuned_steps_and_resumes(tmp_path, monkeypatch):
    output = tmp_path / "results"
    output.mkdir()
    (output / "quality_per_eval.json").write_text(
        json.dumps({"chosen": {"mala": [0.5, 3.0], "adaptive": [1.5, 1.0, 0.5]}})
    )
    cache = tmp_path / "runs.jsonl"
    monkeypatch.setattr(bench, "load", lambda gan: (None, None))
    arguments = ["--gans", "dcgan", "--cache", str(cache), "--output", str(output)]

    interrupted = _FakeFID(fail_after=7)
    monkeypatch.setattr(bench, "measure", interrupted)
    with pytest.raises(KeyboardInterrupt):
        bench.main(arguments)
    assert len(cache.read_text().splitlines()) == 7  # every finished run was kept

    resumed = _FakeFID()
    monkeypatch.setattr(bench, "measure", resumed)
    bench.main(arguments)
    tuning_runs = 2 * len(bench.BUDGETS) * len(bench.STEP_GRID)
    evaluation_runs = len(bench.EVALUATION_SEEDS) * (1 + (len(bench.METHODS) - 1) * len(bench.BUDGETS))
    assert resumed.calls == tuning_runs + evaluation_runs - 7

    results = json.loads((output / "quality_per_eval_mnist.json").read_text())
    assert results["tuned"]["dcgan"]["euler"] == {str(b): 0.03 for b in bench.BUDGETS}
    assert results["tuned"]["dcgan"]["adaptive"] == {str(b): 0.1 for b in bench.BUDGETS}
    assert {r["seed"] for r in results["rows"]} == set(bench.EVALUATION_SEEDS)
    tuned_rows = [r for r in results["rows"] if r["method"] == "adaptive tuned"]
    assert {r["step_size"] for r in tuned_rows} == {0.1}
    markdown = (output / "quality_per_eval_mnist.md").read_text()
    assert "| dcgan | euler | 25 |" in markdown and "0.03 |" in markdown

    rerun = _FakeFID()
    monkeypatch.setattr(bench, "measure", rerun)
    bench.main(arguments)
    assert rerun.calls == 0  # everything is read back
