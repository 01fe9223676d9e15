"""benchmarks/quality_per_eval.py's rule for the adaptive solver's factors, on a fake measurement.

The measurement is replaced by scores known in advance, so these tests check the choosing rule
(the largest least share of tuned Euler's gain over models and budgets), not a model.
"""

import pytest
from benchmark_scripts import load_benchmark

MODELS = (("25gaussians", "wgan-gp"), ("digits", "dcgan"))
BASE = {MODELS[0]: -1.0, MODELS[1]: 20.0}  # KDE (higher is better) and FID (lower is better)
BEST = {MODELS[0]: 1.0, MODELS[1]: 10.0}  # tuned Euler at 25: KDE 1.0, FID 10.0


@pytest.fixture
def bench(monkeypatch):
    module = load_benchmark("quality_per_eval", "quality_per_eval_rule")
    monkeypatch.setattr(module, "ADAPTIVE_TUNING_MODELS", MODELS)
    return module


def _fake(module, shares):
    """A `measure` that reaches `shares[(factors, model, budget)]` of the gain from base to best."""
    calls = []

    def measure(generator, critic, ds, seed, num_steps, **settings):
        model = (ds, generator)
        if num_steps == 0:
            value = BASE[model]
        else:
            factors = (module.adaptive.INITIAL_FACTOR, module.adaptive.GROW, module.adaptive.SHRINK)
            calls.append((factors, model, num_steps, settings["solver"]))
            value = BASE[model] + shares[(factors, model, num_steps)] * (BEST[model] - BASE[model])
        return {"fid": value} if ds == "digits" else {"kde": value}

    return measure, calls


def _choose(module, shares):
    measure, calls = _fake(module, shares)
    module.measure = measure
    g100 = {model: (model[1], None) for model in MODELS}  # the fake reads the GAN's name as "generator"
    euler_best = {
        model: module.score({"fid": BEST[model]} if model[0] == "digits" else {"kde": BEST[model]})
        for model in MODELS
    }

    def record(kind, ds, gan, setting, result):
        return module.score(result)

    chosen = module._tune_adaptive(g100, euler_best, record)
    return chosen, calls


def test_share_is_the_fraction_of_the_gain_for_both_directions_of_score(bench):
    assert bench._share(0.5, -1.0, 1.0) == pytest.approx(0.75)  # KDE: higher is better
    assert bench._share(-12.0, -20.0, -10.0) == pytest.approx(0.8)  # minus FID
    assert bench._share(-25.0, -20.0, -10.0) == pytest.approx(-0.5)  # worse than the base
    assert bench._share(1.0, 1.0, 1.0) == float("-inf")  # no gain to share: never chosen


def test_the_factors_with_the_largest_least_share_over_models_and_budgets_win(bench, monkeypatch):
    steady, bold, timid = (1.5, 1.0, 0.5), (3.0, 1.0, 0.5), (1.0, 1.0, 0.5)
    monkeypatch.setattr(bench, "ADAPTIVE_GRID", [bold, steady, timid])
    shares = {}
    for model in MODELS:
        for budget in (10, 25):
            shares[(steady, model, budget)] = 0.95
            shares[(timid, model, budget)] = 0.9
            # Best on the 2-D model and on average, but far short on the digits GAN at 25.
            shares[(bold, model, budget)] = 1.3 if model == MODELS[0] else (1.0 if budget == 10 else 0.6)
    chosen, calls = _choose(bench, shares)
    assert chosen == list(steady)
    # Every setting ran on every model at both budgets, with the adaptive solver.
    assert sorted(calls) == sorted(
        (factors, model, budget, "adaptive")
        for factors in (bold, steady, timid)
        for model in MODELS
        for budget in (10, 25)
    )


def test_a_tie_on_the_least_share_goes_to_the_larger_mean(bench, monkeypatch):
    first, second = (1.0, 1.0, 0.5), (2.0, 1.0, 0.5)
    monkeypatch.setattr(bench, "ADAPTIVE_GRID", [first, second])
    shares = {(f, m, b): 0.8 for f in (first, second) for m in MODELS for b in (10, 25)}
    shares[(second, MODELS[0], 10)] = 0.9
    assert _choose(bench, shares)[0] == list(second)


def test_extend_evaluates_only_the_missing_gans_with_the_recorded_choices(bench, monkeypatch, tmp_path):
    budgets = (2,)
    monkeypatch.setattr(bench, "BUDGETS", budgets)
    monkeypatch.setattr(bench, "MODELS", [("swissroll", "nsgan", (0, 1, 2))])
    monkeypatch.setattr(bench, "plot", lambda rows, path: None)
    loaded, settings_seen = [], []
    monkeypatch.setattr(bench, "load", lambda ds, gan, seed, cache: loaded.append(seed) or (seed, None))

    def measure(generator, critic, ds, seed, **settings):
        settings_seen.append((seed, settings))
        return {"kde": float(seed), "ot": 0.1, "step_size": settings.get("step_size", 0.0)}

    monkeypatch.setattr(bench, "measure", measure)
    monkeypatch.setattr(bench, "tune", lambda *args: pytest.fail("--extend must not tune again"))
    chosen = {
        "euler": {"swissroll/nsgan/constant/2": 0.003, "swissroll/nsgan/linear/2": 0.005},
        "adaptive_step": {"swissroll/nsgan/2": 0.02},
        "mala": [0.5, 3.0],
        "adaptive": [1.5, 1.0, 0.5],
        "final_fraction": 0.1,
    }
    base_row = {"method": "base", "budget": 0, "kde": 9.0, "ot": 0.1, "step_size": 0.0}
    published = [{"dataset": "swissroll", "gan": "nsgan", "seed": 0, **base_row}]
    record = {"chosen": chosen, "tuning": [], "rows": published, "seconds": 100.0}
    (tmp_path / "quality_per_eval.json").write_text(bench.json.dumps(record))
    bench.main(["--extend", "--output", str(tmp_path), "--cache", str(tmp_path)])
    assert loaded == [1, 2]  # seed 0 has rows already
    steps = {s.get("step_size") for seed, s in settings_seen if s.get("solver") is None and "step_size" in s}
    assert steps == {0.003, 0.005}  # tuned Euler, equal and linear steps, read from the record
    assert {s.get("step_size") for _, s in settings_seen if s.get("solver") == "adaptive"} == {None, 0.02}
    written = bench.json.loads((tmp_path / "quality_per_eval.json").read_text())
    assert written["rows"][0] == published[0]
    assert sorted({row["seed"] for row in written["rows"]}) == [0, 1, 2]
    assert len(written["rows"]) == 1 + 2 * (1 + 7 * len(budgets))  # base + 7 methods a budget, per seed
    assert written["seconds"] == 100.0 and written["extensions"][0]["models"] == [
        ["swissroll", "nsgan", 1],
        ["swissroll", "nsgan", 2],
    ]
    assert "quality_per_eval.py --extend" in (tmp_path / "quality_per_eval.md").read_text()


def test_extend_without_published_results_is_one_clear_line(bench, tmp_path):
    with pytest.raises(SystemExit, match="--extend adds to .*quality_per_eval.json, which does not exist"):
        bench.main(["--extend", "--output", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []  # nothing written
