"""Can any setting improve these models? A grid judged with hindsight, on the evaluation seeds.

Issue 25 asks that the defaults improve every zoo model on its headline
metrics (HQ and OT for 2-D data) on every evaluation seed. On the models where
the `auto` step does not (`auto_rule_candidate.md`), this benchmark asks a
weaker question: does *any* setting, chosen after seeing the evaluation seeds'
results, improve them? If none does, no default in the grid can, and neither
can any rule that picks one of its settings without data.

Each model is refined from the latents of `quality_per_eval.py` (its seeds,
1,000 samples, the held-out data its metrics compare against) at every point
of a grid: divergence KL, JS or log D, K = 5 or 25 Euler steps, seven step
sizes from 1e-4 to 0.1, and entropy weight gamma 0.01 (the default) or 0.1;
every other setting is the default. The 25-Gaussian WGAN-GP is a control, a
model the grid does improve.

    python benchmarks/hindsight_grid.py      # about 20 minutes on 2 CPU cores

Seed 0 of each model is the zoo's shipped GAN; seeds 1 and 2 are trained into
`--cache` on first use (`quality_per_eval.load`). The WGAN-GP control uses
seeds 0 and 1 only: its seed-2 GAN would take about 20 minutes to train here
(seed 1 took 1,179 s).

Writes `results/hindsight_grid.{json,md}`.
"""

import itertools
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality_per_eval as qpe  # noqa: E402

DIVERGENCES = ("kl", "js", "logd")
NUM_STEPS = (5, 25)
STEP_SIZES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
ENTROPY_WEIGHTS = (0.01, 0.1)
#: (data set, GAN kind, evaluation seeds); the last is the control.
MODELS = [
    ("25gaussians", "nsgan", (0, 1, 2)),
    ("swissroll", "nsgan", (0, 1, 2)),
    ("swissroll", "wgan-gp", (0, 1, 2)),
    ("25gaussians", "wgan-gp", (0, 1)),
]
HEADLINE = {"25gaussians": ("hq", "ot"), "swissroll": ("ot",)}
HIGHER_IS_BETTER = {"hq": True, "ot": False}


def settings():
    """Every grid point as a dict of `RefinementModel` settings."""
    for divergence, num_steps, step_size, entropy_weight in itertools.product(
        DIVERGENCES, NUM_STEPS, STEP_SIZES, ENTROPY_WEIGHTS
    ):
        yield {
            "divergence": divergence,
            "num_steps": num_steps,
            "step_size": step_size,
            "entropy_weight": entropy_weight,
        }


def run(cache, say):
    """One row per model, seed and setting (`settings` None: the base)."""
    rows = []
    for dataset, gan, seeds in MODELS:
        for seed in seeds:
            generator, critic = qpe.load(dataset, gan, seed, cache)
            for setting in (None, *settings()):
                chosen = setting or {"num_steps": 0}
                metrics = qpe.measure(generator, critic, dataset, seed, **chosen)
                rows.append(
                    {
                        "model": f"{dataset}/{gan}",
                        "seed": seed,
                        "setting": setting,
                        **{m: metrics[m] for m in HEADLINE[dataset]},
                    }
                )
            say(f"{dataset}/{gan} seed {seed} done")
    return rows


def summarise(rows):
    """Per model and headline metric: how many settings improve every seed, and the best of them."""
    table = []
    for name in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == name]
        seeds = sorted({row["seed"] for row in mine})
        base = {row["seed"]: row for row in mine if row["setting"] is None}
        for metric in HEADLINE[name.split("/")[0]]:
            sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
            per_setting = []
            for setting in settings():
                values = {row["seed"]: row[metric] for row in mine if row["setting"] == setting}
                improved = sum(sign * (values[s] - base[s][metric]) > 0 for s in seeds)
                per_setting.append((improved, sign * np.mean([values[s] for s in seeds]), setting))
            best_mean = max(per_setting, key=lambda entry: entry[1])
            table.append(
                {
                    "model": name,
                    "metric": metric,
                    "seeds": len(seeds),
                    "settings": len(per_setting),
                    "improving every seed": sum(entry[0] == len(seeds) for entry in per_setting),
                    "most seeds improved": max(entry[0] for entry in per_setting),
                    "base mean": float(np.mean([base[s][metric] for s in seeds])),
                    "best mean": float(sign * best_mean[1]),
                    "best mean setting": best_mean[2],
                    "best mean seeds improved": best_mean[0],
                }
            )
    return table


def markdown(table, seconds, command):
    def setting(chosen):
        return (
            f"{chosen['divergence']}, K = {chosen['num_steps']}, eta {chosen['step_size']:g}, "
            f"gamma {chosen['entropy_weight']:g}"
        )

    lines = [
        "## Can any setting improve these models? A grid judged on the evaluation seeds",
        "",
        f"Command: `{command}` ({seconds:.0f} s on {platform.machine()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d')}). Grid: divergence {', '.join(DIVERGENCES)} x K "
        f"{', '.join(map(str, NUM_STEPS))} x eta {', '.join(f'{s:g}' for s in STEP_SIZES)} x gamma "
        f"{', '.join(f'{g:g}' for g in ENTROPY_WEIGHTS)}, every other "
        "setting the default; 1,000 samples per seed, as in `quality_per_eval.py`. A setting *improves* "
        "a seed when it beats that seed's base; `best mean` is the setting with the best mean over the "
        "seeds, chosen with hindsight. The 25-Gaussian WGAN-GP is a control.",
        "",
        "| model | metric | seeds | settings improving every seed | most seeds any setting improves "
        "| base mean | best mean | its setting | seeds it improves |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for row in table:
        digits = 1 if row["metric"] == "hq" else 4
        lines.append(
            f"| {row['model']} | {row['metric'].upper()} | {row['seeds']} | "
            f"{row['improving every seed']} of {row['settings']} | {row['most seeds improved']} | "
            f"{row['base mean']:.{digits}f} | {row['best mean']:.{digits}f} | "
            f"{setting(row['best mean setting'])} | {row['best mean seeds improved']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = qpe.parse_arguments(__doc__.splitlines()[0], argv)
    started = time.perf_counter()

    def say(message):
        print(f"[{time.perf_counter() - started:7.1f}s] {message}", flush=True)

    rows = run(args.cache, say)
    table = summarise(rows)
    seconds = time.perf_counter() - started
    command = "python benchmarks/hindsight_grid.py " + " ".join(argv if argv is not None else sys.argv[1:])
    record = {"command": command.strip(), "seconds": seconds, "table": table, "rows": rows}
    with open(os.path.join(args.output, "hindsight_grid.json"), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1, default=float)
    text = markdown(table, seconds, command.strip())
    with open(os.path.join(args.output, "hindsight_grid.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
