"""The step-size sweep: ranking, early stopping on divergence, table and plot, bad input."""

import numpy as np
import pytest

from dgflow_tf import RefinementModel, tuning
from dgflow_tf.zoo.gaussian import GaussianPair, gaussian_kl

PAIR = GaussianPair(data_mean=[1.0, -0.5], data_std=[0.5, 0.7], model_mean=[0.0, 0.0], model_std=[1.0, 1.0])


def _kl_to_data(samples):
    return gaussian_kl(samples.mean(axis=0), samples.std(axis=0), PAIR.data_mean, PAIR.data_std)


def _build(step_size, num_steps):
    return RefinementModel(
        PAIR.generator, PAIR.log_ratio, step_size=step_size, num_steps=num_steps, entropy_weight=0.0, seed=0
    )


def test_sweep_ranks_by_the_closed_form_optimum():
    # Deterministic KL flow on a Gaussian pair: the refined law is known in closed form
    # (GaussianPair.refined_moments), so the best (step size, K) can be worked out independently.
    latents = PAIR.sample_latents(4000, seed=1)
    step_sizes, counts = [0.01, 0.03, 0.1], [5, 20]
    result = tuning.sweep(
        _build, latents, _kl_to_data, step_sizes=step_sizes, num_steps=counts, higher_is_better=False
    )
    assert [(r["step_size"], r["num_steps"]) for r in result.rows] == [
        (e, k) for e in step_sizes for k in counts
    ]
    assert all(r["status"] == "ok" for r in result.rows)
    expected = {}
    for eta in step_sizes:
        for k in counts:
            mean, std = PAIR.refined_moments(eta, 0.0, k)
            expected[(eta, k)] = gaussian_kl(mean, std, PAIR.data_mean, PAIR.data_std)
    best = min(expected, key=expected.get)
    assert (result.best["step_size"], result.best["num_steps"]) == best
    for row in result.rows:
        # Samples of 4,000: the empirical KL is close to the closed-form one.
        assert row["score"] == pytest.approx(expected[(row["step_size"], row["num_steps"])], abs=0.02)


def test_a_diverging_step_size_stops_and_skips_its_longer_runs():
    # The exact ratio of two Gaussians is unbounded: eta = 3 overshoots and grows without bound.
    latents = PAIR.sample_latents(200, seed=2)
    reference = PAIR.data_mean + PAIR.data_std * np.random.default_rng(3).standard_normal((200, 2))
    calls = []

    def build(step_size, num_steps):
        calls.append((step_size, num_steps))
        return _build(step_size, num_steps)

    result = tuning.sweep(
        build,
        latents,
        _kl_to_data,
        step_sizes=[0.05, 3.0],
        num_steps=[20, 40, 80],
        reference=reference,
        higher_is_better=False,
    )
    statuses = {(r["step_size"], r["num_steps"]): r["status"] for r in result.rows}
    assert statuses[(0.05, 80)] == "ok"
    assert statuses[(3.0, 20)] == "diverged"
    assert statuses[(3.0, 40)] == statuses[(3.0, 80)] == "skipped"
    assert all(np.isnan(r["score"]) for r in result.rows if r["status"] != "ok")
    assert (3.0, 40) not in calls and (3.0, 80) not in calls  # stopped early: never run
    assert result.best["step_size"] == 0.05
    table = result.to_markdown()
    assert "| 3 | 40 | - | skipped |" in table and table.count("**") == 2


def test_diverged_detects_nan_and_blow_up():
    reference = np.random.default_rng(0).normal(size=(100, 2))
    assert not tuning.diverged(reference * 2.0, reference)
    assert tuning.diverged(reference * 20.0, reference)  # RMS distance 20x the spread
    assert tuning.diverged(np.array([[0.0, np.nan]]), None)
    assert not tuning.diverged(reference * 1e6, None)  # no reference: only NaN/Inf count


def test_grid_entries_reach_build_and_the_plot_is_written(tmp_path):
    seen = []

    class Refiner:
        def __init__(self, shift):
            self.shift = shift

        def refine(self, x):
            return x + self.shift

    def build(step_size, num_steps, shift):
        seen.append((step_size, num_steps, shift))
        return Refiner(shift)

    result = tuning.sweep(
        build,
        np.zeros((4, 2)),
        lambda x: -abs(float(x.mean()) - 1.0),
        step_sizes=[0.1, 0.2],
        grid={"shift": [0.5, 1.0]},
    )
    assert sorted(seen) == [(s, 25, h) for s in (0.1, 0.2) for h in (0.5, 1.0)]
    assert result.best["shift"] == 1.0 and result.parameters == ["step_size", "num_steps", "shift"]
    path = result.plot(str(tmp_path / "sweep.png"))
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_every_setting_diverging_is_an_error_naming_the_fix():
    result = tuning.sweep(
        lambda **_: type("R", (), {"refine": lambda self, x: x * np.nan})(),
        np.ones((2, 2)),
        float,
        step_sizes=[1.0],
    )
    with pytest.raises(ValueError, match="Every setting of the sweep diverged: try smaller step sizes"):
        _ = result.best


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"step_sizes": []}, ValueError, "`step_sizes` must be a non-empty sequence"),
        ({"step_sizes": [-0.1]}, ValueError, "step_sizes"),
        ({"step_sizes": [0.1], "num_steps": [0]}, ValueError, "num_steps"),
        ({"step_sizes": [0.1], "num_steps": []}, ValueError, "^`num_steps` must be a non-empty sequence"),
        ({"step_sizes": 0.1}, ValueError, "`step_sizes` must be a non-empty sequence"),
        ({"step_sizes": [0.1], "grid": {"k": []}}, ValueError, "grid\\['k'\\]"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        tuning.sweep(_build, np.zeros((2, 2), "float32"), float, **kwargs)


def test_build_and_score_must_be_callable():
    with pytest.raises(TypeError, match="`build` and `score` must be callables"):
        tuning.sweep(None, np.zeros((2, 2)), float, step_sizes=[0.1])


def test_a_score_that_is_not_finite_marks_the_setting_diverged():
    # The samples are fine but the metric returns Inf (e.g. a covariance that is singular for them):
    # the row is recorded as diverged with a NaN score, and longer runs are skipped.
    latents = PAIR.sample_latents(50, seed=4)
    result = tuning.sweep(
        _build,
        latents,
        lambda x: float("inf") if float(x.mean()) > -10 else 0.0,
        step_sizes=[0.01],
        num_steps=[2, 4],
    )
    assert [(r["status"], np.isnan(r["score"])) for r in result.rows] == [
        ("diverged", True),
        ("skipped", True),
    ]


def test_diverged_compares_with_a_multiple_of_the_reference_spread():
    reference = np.array([[-0.01], [0.01]])  # centre 0, RMS spread 0.01
    assert not tuning.diverged(np.full((3, 1), 0.09), reference)  # 9 spreads away
    assert tuning.diverged(np.full((3, 1), 0.11), reference)  # 11 spreads: beyond the factor 10
    assert tuning.diverged(np.full((3, 1), 0.05), reference, blowup=4.0)


def test_the_plot_gets_one_labelled_curve_per_setting_and_says_which_way_is_better(monkeypatch, tmp_path):
    drawn = {}

    def sweep_curves(curves, path, ylabel=None, title=None):
        drawn.update(curves=curves, ylabel=ylabel, title=title)
        return path

    monkeypatch.setattr(tuning.plotting, "sweep_curves", sweep_curves)
    rows = [
        {"step_size": 0.1, "num_steps": 10, "score": 1.0, "status": "ok", "seconds": 0.0},
        {"step_size": 0.2, "num_steps": 10, "score": float("nan"), "status": "diverged", "seconds": 0.0},
        {"step_size": 0.1, "num_steps": 20, "score": 0.5, "status": "ok", "seconds": 0.0},
    ]
    path = str(tmp_path / "sweep.png")
    assert tuning.SweepResult(rows, "FID", higher_is_better=False).plot(path, title="t") == path
    assert drawn == {
        "curves": {"num_steps=10": [(0.1, 1.0), (0.2, None)], "num_steps=20": [(0.1, 0.5)]},
        "ylabel": "FID (lower is better)",
        "title": "t",
    }
