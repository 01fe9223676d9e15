"""benchmarks/auto_rule_sweep.py's choosing rule (`summarise`), on scores known in advance.

The same rule chose the shipped `auto` constants and checks them on held-out GANs
(`--held-out`), so it is tested here apart from any model: most models improved first, then most
near their best (80 % of the best gain any setting reached), then the best mean rank, the first
listed setting winning a tie.
"""

import json

import pytest
from benchmark_scripts import load_benchmark


@pytest.fixture(scope="module")
def sweep():
    return load_benchmark("auto_rule_sweep", "auto_rule_sweep_rule")


def _scores(table):
    """`{(model, D, cap): (score, eta)}` from `{setting: {model: score}}`."""
    return {(m, *setting): (score, 0.01) for setting, row in table.items() for m, score in row.items()}


def test_most_models_improved_wins_over_better_gains_elsewhere(sweep):
    bases = {"a": 0.0, "b": 0.0, "c": 0.0}
    # X improves all three a little; Y improves two a lot and makes c worse.
    table = {("X", 1.0): {"a": 0.2, "b": 0.2, "c": 0.2}, ("Y", 1.0): {"a": 1.0, "b": 1.0, "c": -0.1}}
    summary, chosen = sweep.summarise(_scores(table), bases, list(table))
    assert [row["improved"] for row in summary] == [3, 2]
    assert [row["near_best"] for row in summary] == [1, 2]  # c's best is X's 0.2; a's and b's are Y's
    assert (chosen["displacement"], chosen["cap"]) == ("X", 1.0)


def test_then_most_near_their_best_then_the_mean_rank_then_the_first_listed(sweep):
    bases = {"a": 0.0, "b": 0.0}
    near = {
        ("X", 1.0): {"a": 0.5, "b": 0.5},
        ("Y", 1.0): {"a": 1.0, "b": 0.79},
        ("Z", 1.0): {"a": 0.9, "b": 1.0},
    }
    _, chosen = sweep.summarise(_scores(near), bases, list(near))
    assert chosen["displacement"] == "Z"  # the only one within 80 % of the best on both
    ranked = {
        ("X", 1.0): {"a": 1.0, "b": 0.95},
        ("Y", 1.0): {"a": 0.95, "b": 1.0},
        ("Z", 1.0): {"a": 0.9, "b": 0.9},
    }
    summary, chosen = sweep.summarise(_scores(ranked), bases, list(ranked))
    assert [row["mean_rank"] for row in summary] == [1.5, 1.5, 3.0]
    assert chosen["displacement"] == "X"  # X and Y tie on every count: the first listed wins
    summary, chosen = sweep.summarise(_scores(ranked), bases, [("Y", 1.0), ("X", 1.0), ("Z", 1.0)])
    assert chosen["displacement"] == "Y"


def test_held_out_check_reports_the_choice_with_the_held_out_models_and_their_shares(sweep, tmp_path):
    # The nine (here two) models prefer X; the held-out model is made worse by X and helped by Y, so
    # with it the most-improved criterion moves the choice to Y.
    bases, held_bases = {"a": 0.0, "b": 0.0}, {"h": 0.0}
    table = {("X", 1.0): {"a": 1.0, "b": 1.0}, ("Y", 0.1): {"a": 0.1, "b": 0.1}}
    held = {("X", 1.0): {"h": -2.0}, ("Y", 0.1): {"h": 0.5}}
    settings = list(table)
    sweep.write_held_out(
        "unseen", str(tmp_path / "sweep"), _scores(table), bases, settings, _scores(held), held_bases, 1.0
    )
    record = json.loads((tmp_path / "sweep_unseen.json").read_text())
    assert record["chosen_from_nine"]["displacement"] == "X"
    assert record["chosen_from_3"]["displacement"] == "Y"  # improves all three; X only two
    assert record["shares_at_shipped_rule"] == {"h": pytest.approx(-4.0)}  # -2 of a best gain of 0.5
    text = (tmp_path / "sweep_unseen.md").read_text()
    assert "**D = Y, cap = 0.1** from all 3" in text
    assert "h none (worse than its base)" in text


@pytest.mark.parametrize("group", [[], ["unseen"]])
def test_held_out_refuses_rescore_and_unknown_groups_before_measuring(sweep, group, capsys):
    with pytest.raises(SystemExit):
        sweep.main(["--held-out", *group, "--rescore"])
    assert "--held-out checks the latent rule" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        sweep.main(["--held-out", "bogus"])
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_sweep_loads_the_gans_it_was_published_with_and_the_toy_group_the_seed_100_ones(sweep, monkeypatch):
    loaded = []

    def fake_load(dataset, gan, seed, cache):
        loaded.append((dataset, gan, seed))
        return None, None

    monkeypatch.setattr(sweep.benchmark, "load", fake_load)
    monkeypatch.setattr(sweep, "mnist_models", lambda space: iter(()))
    names = [name for name, *_ in sweep.zoo_models("cache")]
    # As when the rule was chosen: seed-100 GANs for the 25-Gaussian WGAN-GP and the digits GANs only.
    assert loaded == [
        ("25gaussians", "wgan-gp", 100),
        ("swissroll", "wgan-gp", 0),
        ("25gaussians", "nsgan", 0),
        ("swissroll", "nsgan", 0),
        ("digits", "dcgan", 100),
        ("digits", "sn-dcgan", 100),
    ]
    assert names[:2] == ["25gaussians/wgan-gp", "swissroll/wgan-gp"]
    loaded.clear()
    names = [name for name, *_ in sweep.held_out_models("toy")]
    assert loaded == [
        ("swissroll", "wgan-gp", 100),
        ("25gaussians", "nsgan", 100),
        ("swissroll", "nsgan", 100),
    ]
    assert names == ["swissroll seed 100/wgan-gp", "25gaussians seed 100/nsgan", "swissroll seed 100/nsgan"]
