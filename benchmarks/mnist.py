"""The paper's image table on MNIST: DGflow and the baselines on conv GANs, scored on the test set.

For each GAN family of `dgflow_tf.zoo.mnist_models` (DCGAN, SN-GAN and
WGAN-GP at 28x28, trained on the 60,000 training images) and for the VAE and
the RealNVP flow (`--families vae flow`: their critic is the shipped DCGAN's discriminator plus a
density-ratio corrector, `experiments.mnist.with_corrector`), every method of
`dgflow_tf.experiments.mnist.METHODS` refines the same latents at an equal
budget of K = 25 generator and critic evaluations per sample (DRS: what its
rejections cost), and `metrics.mnist.mnist_metrics` scores the samples
against the 10,000 test images in the shipped classifier's feature space:
FID, KID, precision, recall and classifier score.

Tuning: one rule for every method. Each method's knob (step size; DOT's
learning rate; DRS's gamma quantile) is chosen from `experiments.mnist.GRIDS`
by the lowest FID on the tuning seed (`TUNING_SEED`, its own latents and
noise, and its own GAN where `--tuning-model-seed` names one), then fixed
for every evaluation seed. A step or learning rate whose best value is the
grid's largest or smallest is not yet tuned: the grid grows past that edge
in the same 1-3 pattern (0.3 -> 1 -> 3 ...; 1e-3 -> 3e-4 ...), at most
`MAX_EXTENSIONS` points (5 above the grid, 3 below it, where a vanishing step
only approaches the base), while the newest point is the best. The sweep is
written beside the table.

Evaluation seeds key the latents and the refinement noise; `--model-seeds`
gives each evaluation seed its own separately trained GAN (cached in
`benchmarks/.cache/mnist`, seed 0 is the shipped model), or `--model-seeds 0`
evaluates every seed on the shipped seed-0 GAN.

Reproduce (2 CPU cores, MNIST's IDX files in DGFLOW_TF_MNIST_DIR):

    python benchmarks/mnist.py --families dcgan sn-gan wgan-gp --seeds 0 1 2 --model-seeds 0

When a library default or the tuning rule changes (e.g. the `auto` step rule),
`--refresh METHOD ...` reruns only those methods' rows of the families finished
earlier, on the same seeds, and keeps every other row (their wall time is then
the earlier run's plus the refresh's). A refreshed method with a knob is tuned
again first, by today's rule; the journal keeps the grid points already swept:

    python benchmarks/mnist.py --families dcgan sn-gan wgan-gp --seeds 0 1 2 --model-seeds 0 \
        --num-samples 1000 --tuning-samples 500 \
        --refresh "DGflow-KL (defaults)" "DGflow-KL (calibrate)"

Separately trained GANs (the DCGAN family; each evaluation seed its own GAN,
tuned on a GAN of its own too), written beside the main table:

    python benchmarks/mnist.py --families dcgan --seeds 0 1 2 --model-seeds 0 1 2 \
        --tuning-model-seed 100 --num-samples 1000 --tuning-samples 500 \
        --output benchmarks/results/mnist_gan_seeds

Writes `results/mnist.{json,md}`, `results/mnist_tuning.json` and one PNG
grid per family, base beside each refined row on the same latents, in
`results/mnist/` (the summaries take the name of `--output`'s folder).
"""

import argparse
import functools
import json
import os
import platform
import shlex
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dgflow_tf.experiments import mnist  # noqa: E402
from dgflow_tf.plotting import image_grid  # noqa: E402
from dgflow_tf.zoo import mnist_models  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache", "mnist")
COLUMNS = ("fid", "kid", "precision", "recall", "score")
#: Knobs whose grid grows past an edge that holds the best value, and by at most how many points
#: above the grid and below it. Below, a step shrinking to zero only approaches the unrefined samples
#: (a method whose best step is that small does not help the model, and 3 points show it); above, a
#: flow with a small drift (the RealNVP's JS and logD) can still gain from longer steps.
EXTENDED_KNOBS = ("step_size", "learning_rate")
MAX_EXTENSIONS = {"up": 5, "down": 3}


def _say(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@functools.cache
def _model(family, seed):
    """The family's model of `seed` (0: shipped); the VAE and the flow get a corrector, once per run."""
    model = (
        mnist_models.load_shipped_mnist_model(family)
        if seed == 0
        else mnist_models.train_or_load(family, seed, CACHE, verbose=2)
    )
    if model.discriminator is None:  # the VAE and the flow
        model = mnist.with_corrector(model, seed=seed)
        _say(f"{family} seed {seed}: corrector trained: {model.info['corrector']}")
    return model


def _versions():
    """The libraries a family ran with. A GAN retrained from its seed in another environment can be
    another GAN: the SN-GAN of seed 100 retrained on 2026-12-04 scored a base FID near 73 on the
    tuning seed, the one it replaced near 68, and what that one was trained with was not kept."""
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "tfp": tfp.__version__,
            "numpy": np.__version__}  # fmt: skip


def _neighbour(value, upward):
    """The next value past `value` in the grid's 1-3 pattern: 0.3 -> 1.0 -> 3.0, 1e-3 -> 3e-4 -> 1e-4."""
    exponent = np.floor(np.log10(value))
    mantissa = round(value / 10**exponent)  # 1 or 3
    if upward:
        return float(f"{value * (3 if mantissa == 1 else 10 / 3):.1g}")
    return float(f"{value / (10 / 3 if mantissa == 1 else 3):.1g}")


def tune(family, model, num_samples, methods, journal_path):
    """Every method's grid on the tuning seed; returns `(choices, sweep_rows)`.

    A step or learning rate whose lowest FID lies at an edge of the grid is swept further past
    that edge (`_neighbour`), up to `MAX_EXTENSIONS` points that way, while the newest point is the best.
    Each finished grid point is appended to `journal_path` (JSON lines), so an interrupted sweep
    resumes where it stopped and a wider grid reuses the points already swept.
    """
    journal = {}
    if os.path.exists(journal_path):
        with open(journal_path, encoding="utf-8") as file:
            for line in file:
                if line.strip():
                    row = json.loads(line)
                    journal[(row["method"], row["value"], row["num_samples"], row["model_seed"])] = row

    def point(method, knob, value):
        key = (method, value, num_samples, model.seed)
        if key not in journal:
            rows, _ = mnist.compare_mnist(
                model, [method], mnist.TUNING_SEED, num_samples, {method: {knob: value}}, num_subsets=20
            )
            journal[key] = {
                **rows[0],
                "family": family,
                "knob": knob,
                "value": value,
                "num_samples": num_samples,
                "model_seed": model.seed,
            }
            with open(journal_path, "a", encoding="utf-8") as file:
                file.write(json.dumps(journal[key], default=float) + "\n")
        _say(f"tune {family} {method} {knob}={value}: FID {journal[key]['fid']:.3f}")
        return journal[key]

    def best_of(rows):
        # The rule: lowest FID; a diverged setting (NaN) never wins; ties keep the smaller value.
        finite = [row for row in rows if np.isfinite(row["fid"])]
        return min(finite, key=lambda row: (row["fid"], row["value"]))["value"] if finite else None

    choices, sweep = {}, []
    for method in methods:
        if method not in mnist.KNOBS:
            continue
        knob, grid = mnist.KNOBS[method], list(mnist.GRIDS[method])
        rows = [point(method, knob, value) for value in grid]
        if knob in EXTENDED_KNOBS:
            for upward, edge in ((True, max), (False, min)):
                for _ in range(MAX_EXTENSIONS["up" if upward else "down"]):
                    if best_of(rows) != edge(grid):
                        break
                    grid.append(_neighbour(edge(grid), upward))
                    rows.append(point(method, knob, grid[-1]))
        sweep += sorted(rows, key=lambda row: row["value"])
        best = best_of(rows)
        choices[method] = {knob: best if best is not None else min(grid)}
    return choices, sweep


def _summary(rows, families, methods, seeds):
    lines = []
    for family in families:
        lines += [
            f"\n### {family}\n",
            "| method | " + " | ".join(COLUMNS) + " | G+D evals | FID lower than base on seeds |",
            "|---" * (len(COLUMNS) + 3) + "|",
        ]
        base = {r["seed"]: r["fid"] for r in rows if r["family"] == family and r["method"] == "base"}
        for method in methods:
            selected = [r for r in rows if r["family"] == family and r["method"] == method]
            if not selected:
                continue
            cells = []
            for column in COLUMNS:
                values = np.array([r[column] for r in selected], dtype=float)
                cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
            evals = selected[0]["generator_evals"] + selected[0]["critic_evals"]
            wins = [r["seed"] for r in selected if r["fid"] < base[r["seed"]]]
            won = "-" if method == "base" else f"{len(wins)} of {len(selected)} {wins}"
            lines.append(f"| {method} | " + " | ".join(cells) + f" | {evals:.0f} | {won} |")
        lines += _paired(rows, family, methods)
    return "\n".join(lines)


def _paired(rows, family, methods):
    """Per-seed FID of the best DGflow row against each baseline: who wins where."""
    fid = {(r["method"], r["seed"]): r["fid"] for r in rows if r["family"] == family}
    seeds = sorted({seed for _, seed in fid})
    dgflow = [m for m in methods if m.startswith("DGflow") and all((m, s) in fid for s in seeds)]
    if not dgflow:
        return []
    best = min(dgflow, key=lambda m: np.mean([fid[(m, s)] for s in seeds]))
    lines = [
        f"\nPaired by seed, FID of {best} (the DGflow row with the lowest mean) against each baseline:\n"
    ]
    for baseline in ("DOT", "DDLS", "DRS", "MH-GAN"):
        if all((baseline, s) in fid for s in seeds):
            ahead = [s for s in seeds if fid[(baseline, s)] < fid[(best, s)]]
            verdict = (
                f"**{baseline} is ahead** on seeds {ahead}" if ahead else "DGflow is ahead on every seed"
            )
            lines.append(f"- {baseline}: {verdict}.")
    return lines


def _grid(samples, output, family, model_seed, seed):
    """Every method's first 36 samples, on the same latents, in `<output>/<family>.png`."""
    panels = {method: images[:36] for method, images in samples.items()}
    title = f"MNIST {family} (GAN seed {model_seed}, latents of seed {seed})"
    image_grid(panels, os.path.join(output, f"{family}.png"), columns=6, title=title)


def _write_atomically(path, record):
    with open(path + ".partial", "w", encoding="utf-8") as file:
        json.dump(record, file, default=float)
    os.replace(path + ".partial", path)


def _refresh(family, done, args, model_seeds, settings):
    """`done` with the rows of `args.refresh` rerun on every seed, in their places.

    Every refreshed method with a knob is tuned again by today's rule (the journal keeps the
    points swept before); a method the earlier run did not have has its rows added.
    """
    started = time.perf_counter()
    retuned = [method for method in args.refresh if method in mnist.KNOBS]
    tuning = done["tuning"]
    if retuned:
        journal = os.path.join(args.output, f"{family}-sweep.jsonl")
        choices, sweep = tune(
            family, _model(family, args.tuning_model_seed), args.tuning_samples, retuned, journal
        )
        untouched = [row for row in tuning["sweep"] if row["method"] not in retuned]
        tuning = {"choices": {**tuning["choices"], **choices}, "sweep": untouched + sweep}
    fresh, kept = {}, {(row["method"], row["seed"]): row for row in done["rows"]}
    for seed, model_seed in zip(args.seeds, model_seeds, strict=True):
        model = _model(family, model_seed)
        # The first seed runs every method, so that the sample grid shows today's rows; the rows
        # not refreshed are kept as they were, and how far the rerun landed from them is logged.
        methods = args.methods if seed == args.seeds[0] else list(args.refresh)
        new_rows, samples = mnist.compare_mnist(
            model, methods, seed, args.num_samples, tuning["choices"], progress=_say
        )
        for row in new_rows:
            if row["method"] in args.refresh or (row["method"], seed) not in kept:
                fresh[(row["method"], seed)] = {**row, "family": family, "model_seed": model_seed}
            else:
                before = kept[(row["method"], seed)]["fid"]
                _say(f"{family} {row['method']} seed {seed}: rerun FID {row['fid']:.3f}, kept {before:.3f}")
        if seed == args.seeds[0]:
            _grid(samples, args.output, family, model_seed, seed)
    rows = [fresh.pop((row["method"], row["seed"]), row) for row in done["rows"]]
    seconds = (done.get("seconds") or 0.0) + time.perf_counter() - started
    return {"settings": settings, "rows": rows + list(fresh.values()), "tuning": tuning, "seconds": seconds,
            "versions": done.get("versions"), "refreshed_with": _versions()}  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["dcgan", "sn-gan", "wgan-gp"])
    parser.add_argument("--methods", nargs="+", default=list(mnist.METHODS), choices=mnist.METHODS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--model-seeds", nargs="+", type=int, default=None, help="GAN seed per evaluation seed"
    )
    parser.add_argument("--tuning-model-seed", type=int, default=0)
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--tuning-samples", type=int, default=1000)
    parser.add_argument("--output", default=os.path.join(HERE, "results", "mnist"))
    parser.add_argument(
        "--refresh",
        nargs="+",
        default=(),
        choices=mnist.METHODS,
        help="rerun only these methods of families finished earlier, keeping their other rows",
    )
    args = parser.parse_args(argv)
    model_seeds = args.model_seeds or args.seeds
    if len(model_seeds) == 1:
        model_seeds = model_seeds * len(args.seeds)
    if len(model_seeds) != len(args.seeds):
        parser.error("--model-seeds takes one seed, or one per --seeds")
    os.makedirs(args.output, exist_ok=True)
    started = time.perf_counter()
    rows, tuning, family_seconds, family_versions = [], {}, {}, {}
    settings = [
        args.methods,
        args.seeds,
        model_seeds,
        args.tuning_model_seed,
        args.num_samples,
        args.tuning_samples,
    ]
    for family in args.families:
        # A family finished by an earlier run with the same settings is read back, not rerun.
        done_path = os.path.join(args.output, f"{family}.json")
        if os.path.exists(done_path):
            with open(done_path, encoding="utf-8") as file:
                done = json.load(file)
            # A refresh may add methods the earlier run lacked; every other setting must match.
            same = done["settings"] == settings or (
                args.refresh
                and done["settings"][1:] == settings[1:]
                and set(done["settings"][0]) <= set(args.methods)
            )
            if same:
                _say(f"{family}: read back from {done_path}")
                if args.refresh:
                    done = _refresh(family, done, args, model_seeds, settings)
                    _write_atomically(done_path, done)
                rows += done["rows"]
                tuning[family] = done["tuning"]
                family_seconds[family] = done.get("seconds")
                family_versions[family] = done.get("versions")
                continue
        family_start, family_started = len(rows), time.perf_counter()
        journal = os.path.join(args.output, f"{family}-sweep.jsonl")
        choices, sweep = tune(
            family, _model(family, args.tuning_model_seed), args.tuning_samples, args.methods, journal
        )
        tuning[family] = {"choices": choices, "sweep": sweep}
        for seed, model_seed in zip(args.seeds, model_seeds, strict=True):
            model = _model(family, model_seed)
            family_rows, samples = mnist.compare_mnist(
                model, args.methods, seed, args.num_samples, choices, progress=_say
            )
            rows += [{**row, "family": family, "model_seed": model_seed} for row in family_rows]
            if seed == args.seeds[0]:
                _grid(samples, args.output, family, model_seed, seed)
            _say(f"{family} seed {seed} done")
        family_seconds[family] = time.perf_counter() - family_started
        family_versions[family] = _versions()
        _write_atomically(
            done_path,
            {
                "settings": settings,
                "rows": rows[family_start:],
                "tuning": tuning[family],
                "seconds": family_seconds[family],
                "versions": family_versions[family],
            },
        )
    seconds = time.perf_counter() - started
    record = {
        "command": "python benchmarks/mnist.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "seconds": seconds,
        "family_seconds": family_seconds,
        "family_versions": family_versions,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "seeds": args.seeds,
        "model_seeds": model_seeds,
        "tuning_seed": mnist.TUNING_SEED,
        "tuning_model_seed": args.tuning_model_seed,
        "num_samples": args.num_samples,
        "tuning_samples": args.tuning_samples,
        "rows": rows,
    }
    # The summary files are named after the output folder: results/mnist -> results/mnist.{json,md}.
    results, name = os.path.split(args.output.rstrip("/"))
    with open(os.path.join(results, f"{name}.json"), "w", encoding="utf-8") as file:
        json.dump(record, file, indent=1, default=float)
    with open(os.path.join(results, f"{name}_tuning.json"), "w", encoding="utf-8") as file:
        json.dump(tuning, file, indent=1, default=float)
    chosen = "; ".join(
        f"{family}: " + ", ".join(f"{m} {list(v.values())[0]}" for m, v in t["choices"].items())
        for family, t in tuning.items()
    )
    with open(os.path.join(results, f"{name}.md"), "w", encoding="utf-8") as file:
        file.write(
            f"Command: `{record['command']}` on {record['machine']}; wall time per family (tuning "
            "sweep, calibration and evaluation; a family finished by an earlier run is read back): "
            + ", ".join(
                f"{family} {value / 60:.0f} min" if value else f"{family} not recorded"
                for family, value in family_seconds.items()
            )
            + ". Libraries per family (a GAN retrained in another environment can differ): "
            + "; ".join(
                f"{family} " + (", ".join(f"{k} {v}" for k, v in value.items()) if value else "not recorded")
                for family, value in family_versions.items()
            )
            + ".\n\n"
            f"Mean ± std over evaluation seeds {args.seeds} (GAN seeds {model_seeds}), "
            f"{args.num_samples} samples each, against the 10,000 MNIST test images. Tuned on seed "
            f"{mnist.TUNING_SEED} (GAN seed {args.tuning_model_seed}), lowest FID: {chosen}.\n"
            + _summary(rows, args.families, args.methods, args.seeds)
            + "\n"
        )
    _say(f"done in {seconds:.0f} s")


if __name__ == "__main__":
    main()
