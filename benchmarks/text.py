"""DGflow on text: a character WGAN-GP on CPython's documentation topics, over seeds.

For each seed, `dgflow_tf.experiments.text.compare_text` trains the character
GAN with that seed (`char_gan.SIZES["cpu"]`), draws 2,000 latents, refines them
in latent space with DGflow-KL on the WGAN critic, and measures JS-1..JS-4
(Jensen-Shannon divergence in bits between character n-gram distributions)
of the argmax-decoded samples against the held-out 10 % of the corpus. The
table reports mean ± std over seeds and on how many seeds DGflow lowered each
JS-n; `--sweep` adds a step-size sweep on the first seed.

Reproduce (2 CPU cores):

    python benchmarks/text.py --seeds 0 1 2 --sweep

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
SWEEP_STEPS = (0.03, 0.1, 0.3)
SHOWN_SAMPLES = 6


def _atomic_write_json(path, value):
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(value, file, indent=1)
    os.replace(temporary, path)


def run_seed(seed, args, cache, settings=None, tag=""):
    """Rows and decoded samples of one seed, from its finished file if it exists."""
    path = os.path.join(cache, f"seed{seed}-n{args.num_samples}{tag}.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as file:
            finished = json.load(file)
        return finished["rows"], finished["samples"]
    rows, samples = text.compare_text(
        seed,
        num_samples=args.num_samples,
        size=args.size,
        cache_dir=cache,
        critic_steps=args.critic_steps,
        dgflow_settings=settings,
        progress=None if args.quiet else lambda message: print(message, file=sys.stderr, flush=True),
    )
    shown = {method: strings[:SHOWN_SAMPLES] for method, strings in samples.items()}
    _atomic_write_json(path, {"rows": rows, "samples": shown})
    return rows, shown


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
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--size", choices=sorted(char_gan.SIZES), default="cpu")
    parser.add_argument(
        "--critic-steps", type=int, default=None, help="override training length (quick runs only)"
    )
    parser.add_argument("--sweep", action="store_true", help="DGflow step-size sweep on the first seed")
    parser.add_argument("--cache-dir", default=os.path.join(HERE, ".cache", "text"))
    parser.add_argument("--output", default=os.path.join(HERE, "results"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    quick = args.critic_steps is not None
    cache = os.path.join(args.cache_dir, f"quick-{args.critic_steps}") if quick else args.cache_dir
    os.makedirs(cache, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)

    start = time.perf_counter()
    rows_by_seed, samples_by_seed = [], {}
    for seed in args.seeds:
        rows, samples = run_seed(seed, args, cache)
        rows_by_seed.append(rows)
        samples_by_seed[seed] = samples
    sweep = []
    if args.sweep:
        for step_size in SWEEP_STEPS:
            rows, _ = run_seed(args.seeds[0], args, cache, {"step_size": step_size}, tag=f"-step{step_size}")
            sweep.append({"step_size": step_size, **rows[1]})
    summary = summarise(rows_by_seed)
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
    lines = [
        "# DGflow on text: character WGAN-GP, JS-n (bits; lower is closer to held-out text)",
        "",
        f"Command: `{result['command']}` (Python {result['python']}, {result['wall_seconds'] / 60:.1f} min "
        "including cached work).",
        "",
        f"Corpus: `pydoc_data.topics`, {len(train_text):,} training and {len(held_out):,} held-out "
        "characters, "
        f"alphabet of {len(alphabet)}. GAN: {result['gan']}. DGflow: {result['dgflow']}. "
        f"{args.num_samples} samples per method and seed.",
        "",
        format_summary(summary, len(args.seeds)),
    ]
    for seed, rows in zip(args.seeds, rows_by_seed, strict=True):
        lines += [
            "",
            f"## Seed {seed}",
            "",
            format_rows(rows),
            "",
            "Samples (same latents, before and after):",
            "",
        ]
        for before, after in zip(samples_by_seed[seed]["base"], samples_by_seed[seed]["DGflow"], strict=True):
            lines.append(f"    base:   {before!r}")
            lines.append(f"    DGflow: {after!r}")
    if sweep:
        lines += [
            "",
            f"## Step-size sweep (seed {args.seeds[0]})",
            "",
            "| step size | " + " | ".join(f"JS-{n}" for n in text.ORDERS) + " |",
        ]
        lines.append("|---:|" + "---:|" * len(METRICS))
        for row in sweep:
            lines.append(f"| {row['step_size']} | " + " | ".join(f"{row[m]:.4f}" for m in METRICS) + " |")
    with open(os.path.join(args.output, f"text{suffix}.md"), "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
