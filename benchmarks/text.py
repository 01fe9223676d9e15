"""DGflow on text: a character WGAN-GP on CPython's documentation topics, over seeds.

For each seed, `dgflow_tf.experiments.text.compare_text` trains the character
GAN with that seed (`char_gan.SIZES["cpu"]`), draws 2,000 latents, refines them
in latent space with DGflow-KL on the WGAN critic, and measures JS-1..JS-4
(Jensen-Shannon divergence in bits between character n-gram distributions)
of the argmax-decoded samples against the held-out 10 % of the corpus.

Three settings run on every evaluation seed:
- the library's every default (`step_size="auto"`, no data, no tuning);
- the paper's step size 0.1;
- the step size tuned on the tuning seed's own GAN (seed 100, never an
  evaluation seed): the lowest JS-4 over `SWEEP_STEPS`, the sweep published.

The table reports mean ± std over seeds, on how many seeds each lowered each
JS-n, and the share of the tuned step's gain in the mean that `auto` keeps.

Reproduce (2 CPU cores):

    python benchmarks/text.py --seeds 0 1 2

Writes benchmarks/results/text.json and benchmarks/results/text.md. Finished
seeds are kept in benchmarks/.cache/text (rows and decoded samples as json,
written atomically; the trained GANs next to them), so an interrupted run
resumes where it stopped.
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dgflow_tf import datasets  # noqa: E402
from dgflow_tf.experiments import text  # noqa: E402
from dgflow_tf.zoo import char_gan  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
METRICS = tuple(f"js{n}" for n in text.ORDERS)
#: The metric the step size is tuned on: the longest n-grams, the most sensitive to the samples' quality.
HEADLINE = "js4"
TUNING_SEED = 100
SWEEP_STEPS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
DEFAULTS, PAPER, TUNED = "DGflow (defaults)", "DGflow (paper's 0.1)", "DGflow (tuned)"
SHOWN_SAMPLES = 6


def _atomic_write_json(path, value):
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(value, file, indent=1)
    os.replace(temporary, path)


def run_seed(seed, methods, args, cache, tag):
    """Rows and decoded samples of one seed's methods, from its finished file if it exists."""
    path = os.path.join(cache, f"seed{seed}-n{args.num_samples}-{tag}.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as file:
            finished = json.load(file)
        if finished["methods"] == methods:
            return finished["rows"], finished["samples"]
    rows, samples = text.compare_text(
        seed,
        num_samples=args.num_samples,
        size=args.size,
        cache_dir=cache,
        critic_steps=args.critic_steps,
        methods=methods,
        progress=None if args.quiet else lambda message: print(message, file=sys.stderr, flush=True),
    )
    shown = {method: strings[:SHOWN_SAMPLES] for method, strings in samples.items()}
    _atomic_write_json(path, {"methods": methods, "rows": rows, "samples": shown})
    return rows, shown


def sweep_methods():
    return {f"step {step}": {**text.DGFLOW_SETTINGS, "step_size": step} for step in SWEEP_STEPS}


def tuned_step(sweep_rows):
    """The swept step size with the lowest `HEADLINE` (the first on a tie); the base is never chosen."""
    refined = [row for row in sweep_rows if row["method"] != "base"]
    return min(refined, key=lambda row: row[HEADLINE])["step_size"]


def evaluation_methods(step):
    return {
        DEFAULTS: None,  # RefinementModel's every default
        PAPER: dict(text.DGFLOW_SETTINGS),
        TUNED: {**text.DGFLOW_SETTINGS, "step_size": step},
    }


def gain_share(base, value, tuned):
    """`value`'s share of the tuned step's lowering of a JS-n (1: all of it); `None` if it lowers nothing."""
    gain = base - tuned
    return None if gain <= 0 else (base - value) / gain


def summarise(rows_by_seed):
    """Mean, std and per-seed wins of each method against the same seed's base."""
    summary = []
    for index, first in enumerate(rows_by_seed[0]):
        entry = {"method": first["method"]}
        for metric in (*METRICS, "seconds"):
            values = np.array([rows[index][metric] for rows in rows_by_seed], dtype=float)
            entry[metric], entry[metric + "_std"] = float(values.mean()), float(values.std())
        for metric in METRICS:
            entry[metric + "_lower_than_base"] = int(
                sum(rows[index][metric] < rows[0][metric] for rows in rows_by_seed)
            )
        summary.append(entry)
    return summary


def add_shares(summary):
    """Adds each refined method's share of the tuned step's gain in the mean (`<metric>_share`)."""
    by_method = {entry["method"]: entry for entry in summary}
    base, tuned = by_method["base"], by_method.get(TUNED)
    for entry in summary:
        if entry is base or tuned is None:
            continue
        for metric in METRICS:
            entry[metric + "_share"] = gain_share(base[metric], entry[metric], tuned[metric])
    return summary


def format_summary(summary, num_seeds):
    header = " | ".join(f"JS-{n}" for n in text.ORDERS)
    lines = [f"| method | {header} | seconds |", "|---|" + "---:|" * (len(METRICS) + 1)]
    for e in summary:
        cells = []
        for metric in METRICS:
            wins = "" if e["method"] == "base" else f" ({e[metric + '_lower_than_base']}/{num_seeds} lower)"
            cells.append(f"{e[metric]:.4f} ± {e[metric + '_std']:.4f}{wins}")
        lines.append(f"| {e['method']} | {' | '.join(cells)} | {e['seconds']:.1f} |")
    return "\n".join(lines)


def format_shares(summary):
    """Each refined method's share of the tuned gain per JS-n (`-`: the tuned step lowers nothing)."""
    lines = [
        "| method | " + " | ".join(f"JS-{n}" for n in text.ORDERS) + " |",
        "|---|" + "---:|" * len(METRICS),
    ]
    for e in summary:
        if e["method"] in ("base", TUNED) or METRICS[0] + "_share" not in e:
            continue
        cells = ["-" if e[m + "_share"] is None else f"{100 * e[m + '_share']:.0f} %" for m in METRICS]
        lines.append(f"| {e['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_rows(rows):
    lines = [
        "| method | " + " | ".join(f"JS-{n}" for n in text.ORDERS) + " |",
        "|---|" + "---:|" * len(METRICS),
    ]
    for r in rows:
        lines.append(f"| {r['method']} | " + " | ".join(f"{r[m]:.4f}" for m in METRICS) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="evaluation seeds")
    parser.add_argument(
        "--tuning-seed", type=int, default=TUNING_SEED, help="the seed whose GAN the step size is tuned on"
    )
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--size", choices=sorted(char_gan.SIZES), default="cpu")
    parser.add_argument(
        "--critic-steps", type=int, default=None, help="override training length (quick runs only)"
    )
    parser.add_argument("--cache-dir", default=os.path.join(HERE, ".cache", "text"))
    parser.add_argument("--output", default=os.path.join(HERE, "results"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.tuning_seed in args.seeds:
        parser.error(f"--tuning-seed {args.tuning_seed} is also an evaluation seed (--seeds); pick another.")
    quick = args.critic_steps is not None
    cache = os.path.join(args.cache_dir, f"quick-{args.critic_steps}") if quick else args.cache_dir
    os.makedirs(cache, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)

    start = time.perf_counter()
    sweep, _ = run_seed(args.tuning_seed, sweep_methods(), args, cache, "sweep")
    step = tuned_step(sweep)
    rows_by_seed, samples_by_seed = [], {}
    for seed in args.seeds:
        rows, samples = run_seed(seed, evaluation_methods(step), args, cache, "evaluation")
        rows_by_seed.append(rows)
        samples_by_seed[seed] = samples
    summary = add_shares(summarise(rows_by_seed))
    train_text, held_out, alphabet = datasets.python_docs_text()
    result = {
        "command": "python benchmarks/text.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": quick,
        "python": platform.python_version(),
        "corpus": {
            "source": "pydoc_data.topics",
            "train_characters": len(train_text),
            "held_out_characters": len(held_out),
            "alphabet_size": len(alphabet),
        },
        "gan": char_gan.SIZES[args.size]
        if not quick
        else {**char_gan.SIZES[args.size], "critic_steps": args.critic_steps},
        "dgflow": {**text.DGFLOW_SETTINGS, "critic_scale": text.CRITIC_SCALE},
        "seeds": args.seeds,
        "tuning_seed": args.tuning_seed,
        "tuned_step_size": step,
        "num_samples": args.num_samples,
        "summary": summary,
        "per_seed": rows_by_seed,
        "samples": samples_by_seed,
        "sweep": sweep,
        "wall_seconds": time.perf_counter() - start,
    }
    suffix = "-quick" if quick else ""
    with open(os.path.join(args.output, f"text{suffix}.json"), "w", encoding="utf-8") as file:
        json.dump(result, file, indent=1)
    with open(os.path.join(args.output, f"text{suffix}.md"), "w", encoding="utf-8") as file:
        file.write(report(result, args, len(train_text), len(held_out), len(alphabet)) + "\n")
    return 0


def report(result, args, train_characters, held_out_characters, alphabet_size):
    """The Markdown page of a run."""
    auto_steps = sorted(
        {
            f"{row['step_size']:.3g}"
            for rows in result["per_seed"]
            for row in rows
            if row["method"] == DEFAULTS
        }
    )
    lines = [
        "# DGflow on text: character WGAN-GP, JS-n (bits; lower is closer to held-out text)",
        "",
        f"Command: `{result['command']}` (Python {result['python']}, {result['wall_seconds'] / 60:.1f} min "
        "including cached work).",
        "",
        f"Corpus: `pydoc_data.topics`, {train_characters:,} training and {held_out_characters:,} held-out "
        f"characters, alphabet of {alphabet_size}. GAN: {result['gan']}, trained anew for each seed. "
        f"DGflow-KL in latent space on the WGAN critic (scale {text.CRITIC_SCALE}), 25 steps, entropy "
        f'weight 0.01. Methods: `{DEFAULTS}` is `RefinementModel`\'s every default (`step_size="auto"`, '
        f"resolved per GAN to {', '.join(auto_steps)}); `{PAPER}` the paper's step size; `{TUNED}` the "
        f"step size {result['tuned_step_size']} that gave the lowest {HEADLINE.upper()} on the tuning "
        f"seed's GAN (seed {result['tuning_seed']}, never an evaluation seed; sweep below). "
        f"{args.num_samples} samples per method and seed; evaluation seeds {result['seeds']}.",
        "",
        format_summary(result["summary"], len(result["seeds"])),
        "",
        "Share of the tuned step's gain (in the mean over seeds) that each setting keeps:",
        "",
        format_shares(result["summary"]),
    ]
    for seed, rows in zip(result["seeds"], result["per_seed"], strict=True):
        lines += [
            "",
            f"## Seed {seed}",
            "",
            format_rows(rows),
            "",
            "Samples (same latents, before and after):",
            "",
        ]
        samples = result["samples"][seed]
        for before, after in zip(samples["base"], samples[DEFAULTS], strict=True):
            lines.append(f"    base:     {before!r}")
            lines.append(f"    defaults: {after!r}")
    lines += [
        "",
        f"## Step-size sweep (tuning seed {result['tuning_seed']})",
        "",
        "| step size | " + " | ".join(f"JS-{n}" for n in text.ORDERS) + " |",
        "|---:|" + "---:|" * len(METRICS),
    ]
    for row in result["sweep"]:
        step = "base" if row["method"] == "base" else row["step_size"]
        lines.append(f"| {step} | " + " | ".join(f"{row[m]:.4f}" for m in METRICS) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
