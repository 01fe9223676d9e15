"""DGflow against DOT, DDLS, DRS and MH-GAN on 25 Gaussians and the Swiss roll, over seeds.

For each data set and seed: a non-saturating MLP GAN trained with that seed
(seed 0: the weights shipped in the package, which the trainer reproduces),
one latent batch refined by every method of `dgflow_tf.experiments.synthetic`,
and the metrics against held-out data. The table reports mean ± std over
seeds. `--sweep` adds the step-size sweep of DGflow-KL (data and latent
space), DOT's learning rate and DDLS's step, at equal evaluations (25 steps).

Reproduce (2 CPU cores; about 15 minutes with training):

    python benchmarks/synthetic.py --seeds 0 1 2 --sweep

Writes benchmarks/results/synthetic.json and benchmarks/results/synthetic.md.
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
from dgflow_tf.experiments import synthetic  # noqa: E402
from dgflow_tf.zoo import toy_gans  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
METRICS = ("hq", "modes", "kde", "ot", "generator_evals", "critic_evals", "seconds")
SWEEP = {
    "DGflow-KL": ("dgflow_settings", "step_size", (0.0003, 0.001, 0.003, 0.01, 0.1)),
    "DGflow-KL-latent": ("dgflow_latent_settings", "step_size", (0.0003, 0.001, 0.003, 0.01, 0.1)),
    "DOT": ("dot_settings", "learning_rate", (0.001, 0.003, 0.01, 0.03)),
    "DOT-latent": ("dot_settings", "learning_rate", (0.001, 0.003, 0.01, 0.03)),
    "DDLS": ("ddls_settings", "step_size", (0.0005, 0.002, 0.01, 0.05)),
    "DRS": ("drs_settings", "gamma_quantile", (0.5, 0.8, 0.95)),
}


def load_gan(dataset, seed, cache, steps):
    if seed == 0 and steps == toy_gans.DEFAULTS["steps"]:
        return toy_gans.load_toy_gan(dataset, seed=0)
    directory = os.path.join(cache, f"steps{steps}")
    try:
        return toy_gans.load_toy_gan(dataset, seed=seed, directory=directory)
    except FileNotFoundError:
        generator, discriminator, _ = toy_gans.train_toy_gan(dataset, seed=seed, steps=steps, verbose=0)
        settings = {**toy_gans.DEFAULTS, "steps": steps}
        toy_gans.save_toy_gan(generator, discriminator, directory, dataset, "nsgan", seed, settings)
        return generator, discriminator


def summarise(rows_by_seed):
    """Mean and std over seeds for each method and metric."""
    summary = []
    for index, first in enumerate(rows_by_seed[0]):
        row = {"method": first["method"]}
        for key in METRICS:
            if key in first:
                values = np.array([rows[index][key] for rows in rows_by_seed], np.float64)
                row[key] = (float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0)
        summary.append(row)
    return summary


def format_summary(summary):
    formats = {"hq": "{:.1f}", "modes": "{:.1f}", "kde": "{:.3f}", "ot": "{:.4f}"}
    formats.update({"generator_evals": "{:.1f}", "critic_evals": "{:.1f}", "seconds": "{:.2f}"})
    names = {"hq": "HQ %", "modes": "modes", "kde": "KDE", "ot": "OT (W1)"}
    names.update({"generator_evals": "G evals", "critic_evals": "D evals", "seconds": "seconds"})
    keys = [k for k in METRICS if k in summary[0]]
    lines = ["| method | " + " | ".join(names[k] for k in keys) + " |", "|---|" + "---:|" * len(keys)]
    for row in summary:
        cells = [f"{formats[k].format(row[k][0])} ± {formats[k].format(row[k][1])}" for k in keys]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=datasets.names(), choices=datasets.names())
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--train-steps", type=int, default=toy_gans.DEFAULTS["steps"])
    parser.add_argument("--mh-chain-length", type=int, default=synthetic.MH_CHAIN_LENGTH)
    parser.add_argument("--sweep", action="store_true", help="also sweep step sizes / learning rates")
    parser.add_argument("--cache", default=os.path.join(HERE, ".cache", "toy_gans"), help="trained GANs")
    parser.add_argument("--output", default=os.path.join(HERE, "results", "synthetic"), help="path stem")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    command_line = sys.argv[1:] if argv is None else argv
    results = {"command": "python benchmarks/synthetic.py " + " ".join(command_line), "datasets": {}}
    results["settings"] = {
        "num_samples": args.num_samples,
        "seeds": args.seeds,
        "train_steps": args.train_steps,
        "dgflow": synthetic.DGFLOW_SETTINGS,
        "dgflow_latent": synthetic.DGFLOW_LATENT_SETTINGS,
        "dot": synthetic.DOT_SETTINGS,
        "ddls": synthetic.DDLS_SETTINGS,
        "mh_chain_length": args.mh_chain_length,
        "kde_bandwidth": synthetic.KDE_BANDWIDTH,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    markdown = []
    for dataset in args.datasets:
        rows_by_seed, sweep_rows = [], []
        for seed in args.seeds:
            generator, discriminator = load_gan(dataset, seed, args.cache, args.train_steps)
            rows, _ = synthetic.compare(
                generator,
                discriminator,
                dataset,
                num_samples=args.num_samples,
                seed=seed,
                mh_chain_length=args.mh_chain_length,
            )
            rows_by_seed.append(rows)
            print(f"{dataset} seed {seed}:\n{synthetic.format_table(rows)}\n", flush=True)
            if args.sweep:
                for method, (argument, key, values) in SWEEP.items():
                    for value in values:
                        (row,), _ = synthetic.compare(
                            generator,
                            discriminator,
                            dataset,
                            num_samples=args.num_samples,
                            seed=seed,
                            methods=[method],
                            **{argument: {key: value}},
                        )
                        sweep_rows.append({"seed": seed, "parameter": key, "value": value, **row})
        summary = summarise(rows_by_seed)
        results["datasets"][dataset] = {"per_seed": rows_by_seed, "summary": summary}
        markdown.append(f"## {dataset}\n\n{format_summary(summary)}\n")
        if sweep_rows:
            results["datasets"][dataset]["sweep"] = sweep_rows
            markdown.append(f"### {dataset}: sweep (mean over seeds)\n\n" + format_sweep(sweep_rows) + "\n")
    results["seconds"] = time.perf_counter() - started
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output + ".json", "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)
    header = (
        f"# Synthetic benchmark\n\nCommand: `{results['command']}`; mean ± std over seeds {args.seeds}; "
        f"{args.num_samples} samples per method; {results['settings']['machine']}; "
        f"{results['seconds']:.0f} s in all.\n"
    )
    with open(args.output + ".md", "w", encoding="utf-8") as handle:
        handle.write(header + "\n" + "\n".join(markdown))
    print("\n".join(markdown))
    return results


def format_sweep(rows):
    keys = ("hq", "modes", "kde", "ot")
    groups = {}
    for row in rows:
        groups.setdefault((row["method"], row["parameter"], row["value"]), []).append(row)
    has_hq = "hq" in rows[0]
    lines = ["| method | parameter | value | " + ("HQ % | modes | " if has_hq else "") + "KDE | OT (W1) |"]
    lines.append("|---|---|---:|" + ("---:|" * (4 if has_hq else 2)))
    for (method, parameter, value), group in groups.items():
        cells = [f"{np.mean([r[k] for r in group]):.4g}" for k in keys if k in group[0]]
        lines.append(f"| {method} | {parameter} | {value} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
