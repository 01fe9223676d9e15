"""benchmarks/auto_timescale.py's statistics, against closed forms and SciPy."""

import numpy as np
import pytest
import scipy.special
from benchmark_scripts import load_benchmark

timescale = load_benchmark("auto_timescale")


def test_log_mean_exp_matches_scipy_without_overflow():
    values = np.array([1000.0, 999.0, -5.0, 3.0])
    expected = scipy.special.logsumexp(values) - np.log(len(values))
    assert timescale.log_mean_exp(values) == pytest.approx(expected, rel=1e-12)


def test_linear_log_ratio_between_unit_gaussians_has_the_closed_form_timescale():
    # d(z) = w.z is the log ratio N(w, I) / N(0, I) up to a constant: KL(N(0,I) || N(w,I)) = |w|^2 / 2,
    # the drift is w everywhere (Fisher |w|^2), so KL / Fisher = 1/2. On 256 probe draws the
    # Donsker-Varadhan estimate is within sampling error of the closed form.
    import tensorflow as tf

    from dgflow_tf import critics

    w = tf.constant([0.6, -0.8])
    critic = critics.get(lambda x: tf.reduce_sum(x * w, axis=-1) + 3.0)  # any offset
    kl, fisher = timescale.probe_statistics(lambda z: z, critic, 2)
    assert fisher == pytest.approx(1.0, rel=1e-6)
    assert kl == pytest.approx(0.5, abs=0.1)
    # The same draws, re-derived in NumPy.
    rng = np.random.default_rng(timescale.step_size_lib.PROBE_SEED)
    d = rng.standard_normal((timescale.step_size_lib.PROBE_SIZE, 2)).astype(np.float32) @ np.array(
        [0.6, -0.8]
    )
    assert kl == pytest.approx(np.log(np.mean(np.exp(d))) - d.mean(), rel=1e-4)


def test_spread_is_that_of_the_log_ratios():
    stats = timescale.spread([1.0, 10.0, 100.0])
    assert stats["mean_log10"] == pytest.approx(1.0)
    assert stats["std_log10"] == pytest.approx(np.sqrt(2 / 3))
    assert stats["range"] == pytest.approx(100.0)


def test_tuned_times_are_the_published_steps_times_25():
    times = timescale.tuned_times()
    # benchmarks/results: quality_per_eval tuned 0.01 on the 25-Gaussian WGAN-GP, mnist.py 0.3 on the
    # VAE and 1.0 on the flow, unseen_models.py 0.005 on the digits MLP WGAN-GP (its sweep's lowest FID).
    assert times["25gaussians/wgan-gp"] == pytest.approx(0.25)
    assert times["mnist/vae"] == pytest.approx(7.5) and times["mnist/flow"] == pytest.approx(25.0)
    assert times["digits/mlp-wgan-gp"] == pytest.approx(0.125)
    assert len(times) == 4 + 5 + 5


def test_summary_separates_wasserstein_critics():
    rows = [
        {"critic": "logit", "tuned_time": 1.0, "auto_time": 1.0, "timescale": 0.1},
        {"critic": "Wasserstein", "tuned_time": 1.0, "auto_time": 0.01, "timescale": 0.1},
    ]
    summary = timescale.summarise(rows)
    assert summary["all models"]["auto_time"]["range"] == pytest.approx(100.0)
    assert summary["logit and corrector critics"]["auto_time"]["range"] == pytest.approx(1.0)
    assert summary["all models"]["timescale"]["std_log10"] == pytest.approx(0.0)
    assert summary["all models"]["timescale"]["spearman"] is None  # two models have no rank correlation


def test_rank_correlation_follows_the_order_of_the_tuned_times():
    rows = [
        {"critic": "logit", "tuned_time": t, "auto_time": a, "timescale": s}
        for t, a, s in ((0.1, 1.0, 0.001), (1.0, 0.5, 0.01), (10.0, 0.2, 0.1))
    ]
    summary = timescale.summarise(rows)["all models"]
    assert summary["timescale"]["spearman"] == pytest.approx(1.0)
    assert summary["auto_time"]["spearman"] == pytest.approx(-1.0)


def test_rescore_rewrites_the_page_from_the_published_rows(tmp_path):
    import json

    rows = [
        {
            "model": m,
            "critic": "logit",
            "tuned_time": t,
            "auto_time": 1.0,
            "kl": 0.1,
            "fisher": 1.0,
            "timescale": s,
        }
        for m, t, s in (("a", 0.1, 0.01), ("b", 1.0, 0.1), ("c", 10.0, 1.0))
    ]
    (tmp_path / "auto_timescale.json").write_text(json.dumps({"command": "x", "seconds": 1.0, "rows": rows}))
    assert timescale.main(["--rescore", "--output", str(tmp_path)]) == 0
    page = (tmp_path / "auto_timescale.md").read_text()
    assert "| all models | `T*` | 1.00 | 0.00 | 1 | 1.00 |" in page
    assert "| all models | `auto` | 0.00 | 0.82 | 100 | - |" in page  # a constant predictor has no ranks
