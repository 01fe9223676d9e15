"""DGflow on digits: DCGAN, SN-DCGAN, VAE, RealNVP flow and MMD-GAN, over seeds.

For each seed, `dgflow_tf.experiments.images.compare_digits` trains the five
reference models with that seed (about 4 minutes on 2 CPU cores), trains the
density-ratio correctors, refines one batch of 2,000 latents with every
method, and measures FID, KID (± standard error) and the classifier score
against the 1,797 digits with the offline digits classifier (held-out
accuracy 97.5 %). The table reports mean ± std over seeds; `--sweep` adds
DGflow's step-size sweep on the first seed.

Reproduce (2 CPU cores; about 25 minutes for 3 seeds):

    python benchmarks/images.py --seeds 0 1 2 --sweep

Writes benchmarks/results/images.json, benchmarks/results/images.md and
before/after grids benchmarks/results/images/<model>.png (first seed).
Finished seeds are kept in benchmarks/.cache/digits/seed<N>-n<samples>.json
(rows) and .npz (the grid images), written atomically, with the trained
models next to them, so an interrupted run resumes where it stopped.
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dgflow_tf import plotting  # noqa: E402
from dgflow_tf.experiments import images  # noqa: E402
from dgflow_tf.zoo import digits_classifier, digits_models  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
METRICS = ("fid", "kid", "kid_std", "score", "generator_evals", "critic_evals", "seconds")
SWEEP_STEPS = (0.003, 0.01, 0.03)


def summarise(rows_by_seed):
    """Mean and std over seeds of every (model, method) row."""
    summary = []
    for index, first in enumerate(rows_by_seed[0]):
        entry = {"model": first["model"], "method": first["method"]}
        for metric in METRICS:
            values = np.array([rows[index][metric] for rows in rows_by_seed], dtype=float)
            entry[metric] = float(values.mean())
            entry[metric + "_seed_std"] = float(values.std())
        base = [rows[[r["model"] for r in rows].index(first["model"])]["fid"] for rows in rows_by_seed]
        # Per-seed paired comparison with the same seed's base model.
        pairs = zip(rows_by_seed, base, strict=True)
        entry["fid_lower_than_base"] = int(sum(rows[index]["fid"] < b for rows, b in pairs))
        summary.append(entry)
    return summary


def format_summary(summary, num_seeds):
    lines = [
        "| model | method | FID | KID | classifier score | FID < base (seeds) | G evals | D evals | seconds "
        "|",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in summary:
        lower = "" if e["method"] == "base" else f"{e['fid_lower_than_base']}/{num_seeds}"
        lines.append(
            f"| {e['model']} | {e['method']} | {e['fid']:.2f} ± {e['fid_seed_std']:.2f} | "
            f"{e['kid']:.3f} ± {e['kid_seed_std']:.3f} | {e['score']:.2f} ± {e['score_seed_std']:.2f} | "
            f"{lower} | {e['generator_evals']:.0f} | {e['critic_evals']:.0f} | {e['seconds']:.1f} |"
        )
    return "\n".join(lines)


def format_seed(rows):
    lines = [
        "| model | method | FID | KID (± std over subsets) | classifier score |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['method']} | {r['fid']:.2f} | {r['kid']:.3f} ± {r['kid_std']:.3f} | "
            f"{r['score']:.2f} |"
        )
    return "\n".join(lines)


GRID_METHODS = ("base", "DGflow", "DGflow+corrector")
GRID_COUNT = 64


def write_grids(grid_samples, directory):
    """One PNG per model: the grid methods' first 64 images, from the same latents."""
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for model in dict.fromkeys(key.split("/")[0] for key in grid_samples):
        panels = {m: grid_samples[f"{model}/{m}"] for m in GRID_METHODS if f"{model}/{m}" in grid_samples}
        paths[model] = plotting.image_grid(
            panels, os.path.join(directory, f"{model}.png"), title=f"{model}: same latents, before and after"
        )
    return paths


def _atomic_write(path, write):
    temporary = path + ".tmp"
    with open(temporary, "wb") as file:
        write(file)
    os.replace(temporary, path)


def run_seed(seed, args, cache, need_grids):
    """Rows (and grid images if `need_grids`) of one seed, from its finished files if they exist."""
    stem = os.path.join(cache, f"seed{seed}-n{args.num_samples}")
    if os.path.exists(stem + ".json") and (os.path.exists(stem + ".npz") or not need_grids):
        with open(stem + ".json", encoding="utf-8") as file:
            rows = json.load(file)
        if not need_grids:
            return rows, None
        with np.load(stem + ".npz") as grids:
            return rows, dict(grids)
    rows, samples = images.compare_digits(
        seed,
        models=args.models,
        num_samples=args.num_samples,
        cache_dir=cache,
        epochs=args.epochs,
        corrector_settings=None if args.corrector_epochs is None else {"epochs": args.corrector_epochs},
        progress=None if args.quiet else lambda m: print(m, file=sys.stderr, flush=True),
    )
    grids = {
        f"{model}/{method}": images_[:GRID_COUNT]
        for (model, method), images_ in samples.items()
        if method in GRID_METHODS
    }
    _atomic_write(stem + ".npz", lambda file: np.savez_compressed(file, **grids))
    _atomic_write(stem + ".json", lambda file: file.write(json.dumps(rows).encode("utf-8")))
    return rows, grids


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=list(digits_models.NAMES))
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=None, help="override training epochs (quick runs only)")
    parser.add_argument("--corrector-epochs", type=int, default=None, help="override (quick runs only)")
    parser.add_argument("--sweep", action="store_true", help="DGflow step-size sweep on the first seed")
    parser.add_argument("--cache-dir", default=os.path.join(HERE, ".cache", "digits"))
    parser.add_argument("--output", default=os.path.join(HERE, "results"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    quick = args.epochs is not None or args.corrector_epochs is not None
    cache = (
        os.path.join(args.cache_dir, f"quick-{args.epochs}-{args.corrector_epochs}")
        if quick
        else args.cache_dir
    )
    os.makedirs(cache, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    start = time.time()

    rows_by_seed = []
    for index, seed in enumerate(args.seeds):
        rows, grid_samples = run_seed(seed, args, cache, need_grids=index == 0)
        if index == 0:
            grids = write_grids(grid_samples, os.path.join(args.output, "images"))
        rows_by_seed.append(rows)

    sweep = []
    if args.sweep:
        sweep_methods = ["DGflow", "DGflow+corrector", "DGflow (c only)"]
        for step in SWEEP_STEPS:
            if step == images.DGFLOW_SETTINGS["step_size"]:
                rows = rows_by_seed[0]  # the main table's first seed already ran this step
            else:
                rows, _ = images.compare_digits(
                    args.seeds[0],
                    models=args.models,
                    num_samples=args.num_samples,
                    cache_dir=cache,
                    epochs=args.epochs,
                    dgflow_settings={"step_size": step},
                    methods=sweep_methods,
                )
            sweep += [{**r, "step_size": step} for r in rows if r["method"] in sweep_methods]

    summary = summarise(rows_by_seed)
    _, classifier_info = digits_classifier.load_digits_classifier()
    elapsed = time.time() - start
    command = "python benchmarks/images.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = {
        "command": command,
        "seconds": elapsed,
        "platform": platform.platform(),
        "seeds": args.seeds,
        "num_samples": args.num_samples,
        "classifier": classifier_info,
        "settings": {
            "dgflow": images.DGFLOW_SETTINGS,
            "flow_data_space": images.FLOW_DATA_SETTINGS,
            "dot": images.DOT_SETTINGS,
            "ddls": images.DDLS_SETTINGS,
            "corrector": images.CORRECTOR_SETTINGS,
            "training": {name: digits_models.DEFAULTS[name] for name in args.models},
        },
        "summary": summary,
        "per_seed": rows_by_seed,
        "sweep": sweep,
    }
    with open(os.path.join(args.output, "images.json"), "w", encoding="utf-8") as file:
        json.dump(report, file, indent=1)
    markdown = [
        "# DGflow on scikit-learn digits (8x8, native size)",
        "",
        f"Command: `{command}` ({elapsed / 60:.1f} min, {platform.platform()}).",
        f"{args.num_samples} samples per method against the 1,797 digits; features and logits of the "
        f"offline digits classifier (held-out accuracy {100 * classifier_info['test_accuracy']:.1f} %). "
        f"Mean ± std over seeds {args.seeds}; every seed trains its own models and correctors.",
        "`seconds` includes training the corrector where a row has one.",
        "",
        format_summary(summary, len(args.seeds)),
        "",
        "Grids (seed "
        + str(args.seeds[0])
        + "): "
        + ", ".join(f"[{m}](images/{os.path.basename(p)})" for m, p in grids.items()),
    ]
    for seed, rows in zip(args.seeds, rows_by_seed, strict=True):
        markdown += ["", f"## Seed {seed}", "", format_seed(rows)]
    if sweep:
        markdown += [
            "",
            f"## DGflow step-size sweep (seed {args.seeds[0]})",
            "",
            "| model | method | step size | FID |",
            "|---|---|---:|---:|",
        ]
        for r in sweep:
            fid = f"diverged ({r['diverged']} samples NaN)" if r.get("diverged") else f"{r['fid']:.2f}"
            markdown.append(f"| {r['model']} | {r['method']} | {r['step_size']} | {fid} |")
    with open(os.path.join(args.output, "images.md"), "w", encoding="utf-8") as file:
        file.write("\n".join(markdown) + "\n")
    print(format_summary(summary, len(args.seeds)))
    return report


if __name__ == "__main__":
    main()
