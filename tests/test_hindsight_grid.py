"""benchmarks/hindsight_grid.py's bookkeeping, on rows whose answers are worked out by hand.

The benchmark's claim is a count (how many settings improve every seed), so the count, the direction
of each metric and the choice of the best setting are checked apart from any model.
"""

import pytest
from benchmark_scripts import load_benchmark


@pytest.fixture(scope="module")
def grid():
    return load_benchmark("hindsight_grid")


def _rows(grid, model, metric, base, special, other):
    """Rows of `model` on seeds 0 and 1: `base`, `special[i]` for the i-th setting named, else `other`."""
    chosen = list(grid.settings())
    rows = [{"model": model, "seed": s, "setting": None, metric: base[s]} for s in (0, 1)]
    for index, setting in enumerate(chosen):
        values = special.get(index, other)
        rows += [{"model": model, "seed": s, "setting": setting, metric: values[s]} for s in (0, 1)]
    return rows, chosen


def test_counts_the_settings_that_improve_every_seed_and_picks_the_best_mean(grid):
    # OT, lower is better. Setting 3 improves seed 0 only (mean 1.0, as the base); setting 7 improves
    # both (mean 0.925); every other setting makes both seeds worse.
    base = {0: 1.0, 1: 1.0}
    special = {3: {0: 0.5, 1: 1.5}, 7: {0: 0.9, 1: 0.95}}
    rows, chosen = _rows(grid, "swissroll/nsgan", "ot", base, special, {0: 2.0, 1: 2.0})
    (entry,) = grid.summarise(rows)
    assert entry["settings"] == len(chosen) == 84
    assert (entry["improving every seed"], entry["most seeds improved"]) == (1, 2)
    assert entry["base mean"] == pytest.approx(1.0)
    assert entry["best mean"] == pytest.approx(0.925)
    assert entry["best mean setting"] == chosen[7] and entry["best mean seeds improved"] == 2
    assert "| swissroll/nsgan | OT | 2 | 1 of 84 | 2 | 1.0000 | 0.9250 |" in grid.markdown(
        [entry], 1.0, "cmd"
    )


def test_higher_hq_is_better_and_an_equal_value_is_no_improvement(grid):
    # HQ, higher is better: setting 0 equals the base on seed 1 (not an improvement), setting 5 lowers it.
    base = {0: 50.0, 1: 60.0}
    special = {0: {0: 55.0, 1: 60.0}, 5: {0: 10.0, 1: 10.0}}
    rows, chosen = _rows(grid, "25gaussians/nsgan", "hq", base, special, {0: 40.0, 1: 50.0})
    ot_rows = [dict(row, ot=1.0) for row in rows]  # OT is the same everywhere: nothing improves it
    entries = grid.summarise(ot_rows)
    hq, ot = entries
    assert (hq["metric"], hq["improving every seed"], hq["most seeds improved"]) == ("hq", 0, 1)
    assert hq["best mean"] == pytest.approx(57.5) and hq["best mean setting"] == chosen[0]
    assert (ot["metric"], ot["improving every seed"], ot["most seeds improved"]) == ("ot", 0, 0)
