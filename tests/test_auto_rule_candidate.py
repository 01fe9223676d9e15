"""benchmarks/auto_rule_candidate.py's bookkeeping, on rows whose answers are worked out by hand.

The benchmark decides whether a candidate `auto` rule would beat the shipped one on the evaluation
seeds, so its per-seed counts, shares and reproduction flags are checked apart from any model, and
its rule switch must leave the shipped constants in place even when a refinement fails.
"""

import pytest
from benchmark_scripts import load_benchmark

from dgflow_tf import step_size


@pytest.fixture(scope="module")
def candidate():
    return load_benchmark("auto_rule_candidate")


def _row(seed, base, shipped, candidate, tuned, published_base=None, published_auto=None):
    return {
        "model": "digits/x",
        "seed": seed,
        "base": {"fid": base},
        "shipped": {"fid": shipped, "step_size": 0.04},
        "candidate": {"fid": candidate, "step_size": 0.004},
        "published base": {"fid": base if published_base is None else published_base},
        "published auto": {"fid": shipped if published_auto is None else published_auto},
        "published Euler tuned": {"fid": tuned},
    }


def test_summarise_counts_seeds_and_shares_of_the_tuned_gain(candidate):
    # FID, lower is better. Seed 0: shipped worse (12 > 10), candidate better; seed 1: both better.
    rows = [_row(0, 10.0, 12.0, 9.0, 6.0), _row(1, 10.0, 8.0, 9.0, 6.0)]
    (entry,) = candidate.summarise(rows)
    assert (entry["base"], entry["shipped"], entry["candidate"], entry["tuned"]) == (10.0, 10.0, 9.0, 6.0)
    assert (entry["shipped improved"], entry["candidate improved"]) == (1, 2)
    assert entry["shipped share"] == pytest.approx(0.0)  # (10 - 10) / (10 - 6)
    assert entry["candidate share"] == pytest.approx(0.25)  # (10 - 9) / (10 - 6)
    assert entry["base reproduced"] and entry["shipped reproduced"]
    assert entry["candidate step"] == pytest.approx(0.004)


def test_summarise_flags_a_base_that_does_not_reproduce_the_published_one(candidate):
    rows = [_row(0, 10.0, 9.0, 9.0, 6.0, published_base=10.5, published_auto=9.0)]
    (entry,) = candidate.summarise(rows)
    assert not entry["base reproduced"]
    assert entry["shipped reproduced"]
    assert "10.00*" in candidate.markdown([entry], (0.25, 0.1), 1.0, "cmd")


def test_no_share_where_the_tuned_step_gains_nothing(candidate):
    (entry,) = candidate.summarise([_row(0, 10.0, 9.0, 8.0, 11.0)])
    assert entry["shipped share"] is None and entry["candidate share"] is None


def test_with_rule_restores_the_shipped_constants_even_when_the_refinement_fails(candidate):
    shipped = (step_size.DISPLACEMENT, step_size.TIME_CAP)
    seen = candidate.with_rule((0.25, 0.1), lambda: (step_size.DISPLACEMENT, step_size.TIME_CAP))
    assert seen == (0.25, 0.1)
    assert (step_size.DISPLACEMENT, step_size.TIME_CAP) == shipped

    def fail():
        raise RuntimeError("refinement failed")

    with pytest.raises(RuntimeError):
        candidate.with_rule((0.25, 0.1), fail)
    assert (step_size.DISPLACEMENT, step_size.TIME_CAP) == shipped


@pytest.mark.parametrize("argv", [["--cap", "0"], ["--displacement", "-0.25"], ["--cap", "nan"]])
def test_a_rule_that_is_not_positive_is_refused_before_any_model_runs(candidate, argv, capsys):
    with pytest.raises(SystemExit):
        candidate.main(argv)
    assert "--displacement and --cap must be positive" in capsys.readouterr().err
