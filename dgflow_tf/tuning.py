"""Choosing the step size and number of steps: a sweep on one tuning batch.

DGflow's step size `eta` and number of steps `K` depend on the critic: the
paper's `eta = 0.1` suits its image critics, but throws the samples of a
steep 2-D MLP critic off the modes, while `eta = 0.01` is right for a 2-D
WGAN-GP. What matters most is the flow's total time `eta * K`, so both are
swept. `sweep` refines one batch at every setting, scores each result with a
metric you pass (against held-out data you pass), stops a step size's longer
runs once it diverges, and returns a table and a plot.

Choose the setting on a *tuning* batch (its own latents, its own held-out
data, and ideally its own trained model), never on the batch you report:
`benchmarks/synthetic.py` tunes every method on seed 100 and reports seeds
0, 1 and 2.

Examples:
    >>> from dgflow_tf import RefinementModel, critics, datasets, metrics
    >>> from dgflow_tf.zoo import toy_gans
    >>> generator, critic = toy_gans.load_toy_gan("25gaussians", "wgan-gp")
    >>> latents = np.random.default_rng(100).standard_normal((500, 2)).astype("float32")
    >>> held_out = datasets.twenty_five_gaussians(500, seed=100)
    >>> result = sweep(
    ...     lambda **s: RefinementModel(generator, critics.WassersteinCritic(critic), seed=100, **s),
    ...     latents,
    ...     lambda x: metrics.kde_score(x, held_out, bandwidth=0.05),
    ...     step_sizes=[0.003, 0.01, 0.03],
    ...     num_steps=[10, 25],
    ...     reference=held_out,
    ... )
    >>> best = result.best  # {"step_size": ..., "num_steps": ..., "score": ..., ...}
    >>> path = result.plot("/tmp/sweep.png")
"""

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from dgflow_tf import plotting
from dgflow_tf._validation import check_positive_float, check_positive_int
from dgflow_tf.errors import NonFiniteRefinementError

#: A setting diverged when its samples' RMS distance from the reference's mean exceeds this many
#: times the reference's own RMS spread (or any value is NaN/Inf).
BLOWUP_FACTOR = 10.0


def _samples_of(result):
    samples = getattr(result, "samples", result)
    return np.asarray(samples)


def diverged(samples: np.ndarray, reference: np.ndarray | None = None, blowup: float = BLOWUP_FACTOR) -> bool:
    """Whether refined samples have left the data: any NaN/Inf, or a blow-up against `reference`.

    Args:
        samples: `[n, ...]` refined samples.
        reference: optional `[m, ...]` data. With it, samples whose RMS
            distance from the reference's mean exceeds `blowup` times the
            reference's RMS spread count as diverged. Defaults to `None`.
        blowup: the factor. Defaults to `BLOWUP_FACTOR` (10).

    Returns:
        A bool.
    """
    samples = np.asarray(samples, np.float64).reshape(len(samples), -1)
    if not np.all(np.isfinite(samples)):
        return True
    if reference is None or len(samples) == 0:
        return False
    reference = np.asarray(reference, np.float64).reshape(len(reference), -1)
    center = reference.mean(axis=0)
    spread = math.sqrt(np.mean(np.sum((reference - center) ** 2, axis=1)))
    distance = math.sqrt(np.mean(np.sum((samples - center) ** 2, axis=1)))
    return distance > blowup * max(spread, np.finfo(np.float64).tiny)


class SweepResult:
    """The rows of a sweep, the best setting, a Markdown table and a plot.

    Attributes:
        rows: one dict per setting: its parameters (`step_size`,
            `num_steps`, and any `grid` entries), `score` (NaN unless
            `status` is `"ok"`), `status` (`"ok"`, `"diverged"`, or
            `"skipped"` for the longer runs of a step size that already
            diverged) and `seconds`.
        metric: the score's name.
        higher_is_better: how scores rank.
    """

    def __init__(self, rows, metric, higher_is_better):
        self.rows = rows
        self.metric = metric
        self.higher_is_better = higher_is_better

    @property
    def parameters(self):
        """The swept parameters' names, in the table's order."""
        return [key for key in self.rows[0] if key not in ("score", "status", "seconds")]

    @property
    def best(self):
        """The row with the best score among those that did not diverge (the first on ties).

        Raises:
            ValueError: if every setting diverged.
        """
        candidates = [row for row in self.rows if row["status"] == "ok"]
        if not candidates:
            raise ValueError("Every setting of the sweep diverged: try smaller step sizes or fewer steps.")
        sign = 1.0 if self.higher_is_better else -1.0
        return max(candidates, key=lambda row: sign * row["score"])

    def to_markdown(self):
        """The sweep as a Markdown table, the best row in bold."""
        names = self.parameters
        try:
            best = self.best
        except ValueError:
            best = None
        lines = [
            "| " + " | ".join(names) + f" | {self.metric} | status | seconds |",
            "|" + "---:|" * len(names) + "---:|---|---:|",
        ]
        for row in self.rows:
            score = f"{row['score']:.4g}" if row["status"] == "ok" else "-"
            if row is best:
                score = f"**{score}**"
            cells = [f"{row[name]:g}" if isinstance(row[name], float) else str(row[name]) for name in names]
            lines.append("| " + " | ".join(cells) + f" | {score} | {row['status']} | {row['seconds']:.2f} |")
        return "\n".join(lines)

    def plot(self, path, title=None):
        """Writes the score against the step size, one line per number of steps (and grid entry).

        Diverged and skipped settings are marked with a cross on the lower
        edge. Returns `path`.
        """
        others = [name for name in self.parameters if name != "step_size"]
        curves = {}
        for row in self.rows:
            label = ", ".join(f"{name}={row[name]:g}" for name in others)
            curves.setdefault(label, []).append(
                (row["step_size"], row["score"] if row["status"] == "ok" else None)
            )
        ylabel = self.metric + (" (higher is better)" if self.higher_is_better else " (lower is better)")
        return plotting.sweep_curves(curves, path, ylabel=ylabel, title=title)


def sweep(
    build: Callable[..., Any],
    inputs: np.ndarray | tuple,
    score: Callable[[np.ndarray], float],
    *,
    step_sizes: Sequence[float],
    num_steps: Sequence[int] = (25,),
    grid: Mapping[str, Sequence] | None = None,
    metric: str = "score",
    higher_is_better: bool = True,
    reference: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
) -> "SweepResult":
    """Refines one batch at every step size and number of steps; scores each result.

    For each step size (ascending) and each entry of `grid`, the step counts
    run in ascending order. A run that diverges (its samples turn NaN/Inf,
    the refiner raises `NonFiniteRefinementError`, the score is not finite,
    or the samples blow up against `reference`; see `diverged`) stops that
    step size: its longer runs are recorded as `"skipped"`.

    Args:
        build: callable `build(step_size=..., num_steps=..., **grid_entry)`
            returning a refiner whose `refine(inputs)` returns a result with
            `.samples` (a `RefinementModel`, `baselines.DDLS`,
            `baselines.DOT`, ...) or the samples themselves.
        inputs: the tuning batch (latents, or samples in data space).
        score: callable from a NumPy batch of refined samples to a float,
            e.g. `lambda x: metrics.ot_distance(x, held_out)`.
        step_sizes: positive floats.
        num_steps: positive ints. Defaults to `(25,)`.
        grid: optional dict `{name: values}` of further parameters passed to
            `build` (e.g. DOT's `k_eff`), swept as a product. Defaults to
            `None`.
        metric: the score's name for the table and plot. Defaults to
            `"score"`.
        higher_is_better: how scores rank (`False` for distances).
            Defaults to `True`.
        reference: optional held-out data for the blow-up test.
        progress: optional callable `(row) -> None` called after each run.

    Returns:
        A `SweepResult`.

    Raises:
        ValueError: for empty or non-positive `step_sizes` or `num_steps`,
            or a `grid` that is not a dict of non-empty sequences.
        TypeError: if `build` or `score` is not callable.
    """
    if not callable(build) or not callable(score):
        raise TypeError("`build` and `score` must be callables (see the docstring's example).")
    step_sizes = sorted(
        check_positive_float(value, "step_sizes") for value in _non_empty(step_sizes, "step_sizes")
    )
    num_steps = sorted(check_positive_int(value, "num_steps") for value in _non_empty(num_steps, "num_steps"))
    grid = dict(grid or {})
    if not all(isinstance(name, str) for name in grid):
        raise ValueError(f"`grid` must map parameter names to values. Received: grid={grid!r}")
    grid_entries = [
        dict(zip(grid, values, strict=True))
        for values in itertools.product(
            *(_non_empty(values, f"grid[{name!r}]") for name, values in grid.items())
        )
    ]
    rows = []
    for step_size, entry in itertools.product(step_sizes, grid_entries):
        stopped = False
        for steps in num_steps:
            row = {"step_size": step_size, "num_steps": steps, **entry}
            if stopped:
                rows.append({**row, "score": float("nan"), "status": "skipped", "seconds": 0.0})
                continue
            start = time.perf_counter()
            value, status = float("nan"), "diverged"
            try:
                samples = _samples_of(build(step_size=step_size, num_steps=steps, **entry).refine(inputs))
            except NonFiniteRefinementError:
                samples = None
            if samples is not None and not diverged(samples, reference):
                value = float(score(samples))
                status = "ok" if math.isfinite(value) else "diverged"
                value = value if status == "ok" else float("nan")
            rows.append({**row, "score": value, "status": status, "seconds": time.perf_counter() - start})
            stopped = status != "ok"
            if progress is not None:
                progress(rows[-1])
    return SweepResult(rows, metric, higher_is_better)


def _non_empty(values, name):
    try:
        values = list(values)
    except TypeError:
        raise ValueError(f"`{name}` must be a non-empty sequence. Received: {values!r}") from None
    if not values:
        raise ValueError(f"`{name}` must be a non-empty sequence. Received: []")
    return values
