"""The paper's Table 1 on 2-D GANs: DGflow against DOT, DDLS, DRS and MH-GAN, over seeds.

Protocol (`--gan wgan-gp`, the paper's base model; `--gan nsgan` runs the
same on the non-saturating GANs):

1. Tuning (`--tune`), on seed 100 only: a GAN trained with seed 100, its own
   latents and held-out data. Every method's step size (DOT: learning rate
   and `k_eff`; DRS: its acceptance quantile) is swept over the grids of
   `dgflow_tf.experiments.synthetic.TUNING_GRIDS` with
   `dgflow_tf.tuning.sweep`, all at K = 25 (equal evaluations), and the
   setting with the best KDE score is chosen: one rule for every method.
   DGflow-KL is also swept over step size x K, for the record. Writes
   `results/synthetic_tuning_<gan>.{json,md}` and the sweep plots.
2. Evaluation (`--seeds 0 1 2`): a GAN trained with each seed (seed 0: the
   weights shipped in the package), one latent batch refined by every method
   with the tuned settings of `synthetic.SETTINGS`, metrics against that
   seed's held-out data. Writes `results/synthetic_<gan>.{json,md}` (mean ±
   std over seeds and the paired per-seed tables) and a scatter plot of
   seed 0. Finished seeds are kept in `.cache/` and not run again.
3. DDLS diagnostics (`--diagnose-ddls`): the law DDLS samples,
   `p0(z) exp(d(g(z)))`, drawn exactly by importance resampling of 200,000
   prior latents, against DDLS run for 25 and 1,000 steps.

Reproduce (2 CPU cores; GANs are trained on first use, about 12 minutes each):

    python benchmarks/synthetic.py --gan wgan-gp --tune --seeds 0 1 2 --diagnose-ddls
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dgflow_tf import datasets, plotting, tuning  # noqa: E402
from dgflow_tf.experiments import synthetic  # noqa: E402
from dgflow_tf.zoo import toy_gans  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
METRICS = ("hq", "modes", "kde", "ot", "generator_evals", "critic_evals", "seconds")
NAMES = {
    "hq": "HQ %",
    "modes": "modes",
    "kde": "KDE",
    "ot": "OT (W1)",
    "generator_evals": "G evals",
    "critic_evals": "D evals",
    "seconds": "seconds",
}
FORMATS = {"hq": "{:.1f}", "modes": "{:.1f}", "kde": "{:.3f}", "ot": "{:.4f}"}
FORMATS.update({"generator_evals": "{:.1f}", "critic_evals": "{:.1f}", "seconds": "{:.2f}"})
STEP_COUNTS = (5, 10, 25, 50, 100)


def load_gan(dataset, gan, seed, cache):
    """The GAN of `seed`: shipped weights for seed 0, else trained once and cached."""
    if seed == 0:
        return toy_gans.load_toy_gan(dataset, gan, seed=0)
    directory = os.path.join(cache, "toy_gans", gan)
    return toy_gans.load_toy_gan(dataset, gan, seed=seed, directory=directory, train_if_missing=True)


def _write(path, text):
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


# -- tuning ------------------------------------------------------------------------------------


def _tunable_parameter(method):
    """`(family, parameter swept as the step size)` of a method, or `(family, None)` without one."""
    family = method.split("-")[0]
    return family, {"DGflow": "step_size", "DOT": "learning_rate", "DDLS": "step_size"}.get(family)


def tune_dataset(dataset, gan, args, log):
    """Sweeps every tunable method on the tuning seed; returns `(chosen settings, report)`."""
    seed = args.tuning_seed
    generator, critic = load_gan(dataset, gan, seed, args.cache)
    latents = synthetic.latents_for(args.num_samples, seed)
    held_out = synthetic.held_out_data(dataset, args.num_samples, seed)

    def kde(samples):
        return synthetic.evaluate(samples, held_out, dataset)["kde"]

    chosen, report = {}, {}
    for method in synthetic.METHODS:
        family, parameter = _tunable_parameter(method)
        grid = dict(synthetic.TUNING_GRIDS.get(family, {}))
        if not grid:
            continue
        if parameter is None:  # DRS: no step size; its one knob by the same rule.
            ((name, values),) = grid.items()
            rows = []
            for value in values:
                start = time.perf_counter()
                runner = synthetic.method_runner(
                    method, generator, critic, dataset, gan=gan, seed=seed, **{name: value}
                )
                score = kde(runner.refine(latents).samples)
                rows.append(
                    {name: value, "score": score, "status": "ok", "seconds": time.perf_counter() - start}
                )
            result = tuning.SweepResult(rows, "KDE", higher_is_better=True)
        else:
            step_sizes = grid.pop(parameter)

            def build(step_size, num_steps, method=method, parameter=parameter, **extra):
                return synthetic.method_runner(
                    method,
                    generator,
                    critic,
                    dataset,
                    gan=gan,
                    seed=seed,
                    **{parameter: step_size, "num_steps": num_steps, **extra},
                )

            result = tuning.sweep(
                build,
                latents,
                kde,
                step_sizes=step_sizes,
                num_steps=(25,),
                grid=grid,
                metric="KDE",
                reference=held_out,
            )
        best = result.best
        chosen[method] = {
            ("learning_rate" if key == "step_size" and family == "DOT" else key): value
            for key, value in best.items()
            if key not in ("score", "status", "seconds", "num_steps")
        }
        report[method] = {"rows": result.rows, "chosen": chosen[method], "score": best["score"]}
        log(f"  [{dataset}] {method}: {chosen[method]} (KDE {best['score']:.3f})")
    # Step size x number of steps, for the record (the main table keeps K = 25 for equal costs).
    for method in ("DGflow-KL-latent", "DGflow-KL"):

        def build(step_size, num_steps, method=method):
            return synthetic.method_runner(
                method,
                generator,
                critic,
                dataset,
                gan=gan,
                seed=seed,
                step_size=step_size,
                num_steps=num_steps,
            )

        result = tuning.sweep(
            build,
            latents,
            kde,
            step_sizes=synthetic.STEP_SIZES,
            num_steps=STEP_COUNTS,
            metric="KDE",
            reference=held_out,
        )
        path = os.path.join(args.results, f"synthetic_tuning_{gan}_{dataset}_{method}.png")
        result.plot(path, title=f"{dataset}, {method}: KDE on the tuning seed (x: diverged)")
        report[f"{method} (step size x K)"] = {"rows": result.rows, "plot": os.path.basename(path)}
    return chosen, report


def tune(args, log):
    """Tunes every data set of `args.datasets`; writes the tuning report (other data sets' earlier
    results are kept); returns the report."""
    stem = os.path.join(args.results, f"synthetic_tuning_{args.gan}")
    results = {"seed": args.tuning_seed, "rule": "best KDE", "datasets": {}}
    if os.path.exists(stem + ".json"):
        with open(stem + ".json", encoding="utf-8") as handle:
            results = json.load(handle)
    for dataset in args.datasets:
        started = time.perf_counter()
        chosen, report = tune_dataset(dataset, args.gan, args, log)
        results["datasets"][dataset] = {
            "chosen": chosen,
            "sweeps": report,
            "command": _command(args),
            "seconds": time.perf_counter() - started,
            "num_samples": args.num_samples,
        }
    write_tuning_report(results, stem, args.gan)
    return results


def write_tuning_report(results, stem, gan):
    """Writes the tuning report `results` (every data set in it) to `stem`.json and `stem`.md."""
    markdown = [
        f"# Tuning on seed {results['seed']} ({gan})",
        "",
        "One rule for every method: the best KDE score on the tuning seed's GAN, latents and held-out "
        "data, at K = 25 (equal evaluations). Seeds 0, 1 and 2, which the tables report, take no part. "
        "Bold: the chosen setting; `diverged`: NaN/Inf or samples blown 10x the data's spread away; "
        "`skipped`: a longer run of a step size that had already diverged.",
    ]
    for dataset, entry in results["datasets"].items():
        markdown += [
            "",
            f"## {dataset}",
            "",
            f"Command: `{entry['command']}` ({entry['num_samples']} samples, {entry['seconds']:.0f} s).",
            "",
            "| method | chosen | KDE |",
            "|---|---|---:|",
        ]
        for method, chosen in entry["chosen"].items():
            settings = ", ".join(f"{key}={value}" for key, value in chosen.items())
            markdown.append(f"| {method} | {settings} | {entry['sweeps'][method]['score']:.3f} |")
        markdown.append("")
        for method, sweep in entry["sweeps"].items():
            table = tuning.SweepResult(sweep["rows"], "KDE", higher_is_better=True).to_markdown()
            markdown += [f"### {dataset}: {method}", ""]
            if "plot" in sweep:
                markdown += [f"![{method}]({sweep['plot']})", ""]
            markdown += [table, ""]
    _write(stem + ".json", json.dumps(results, indent=1))
    _write(stem + ".md", "\n".join(markdown) + "\n")


# -- evaluation --------------------------------------------------------------------------------


def evaluate_seed(dataset, gan, seed, args, log):
    """`compare`'s rows for one seed (cached), and its samples if they were computed now."""
    path = os.path.join(args.cache, "synthetic", f"{gan}-{dataset}-seed{seed}-n{args.num_samples}.json")
    if os.path.exists(path) and not args.fresh:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle), None
    generator, critic = load_gan(dataset, gan, seed, args.cache)
    rows, samples = synthetic.compare(
        generator,
        critic,
        dataset,
        gan=gan,
        num_samples=args.num_samples,
        seed=seed,
        mh_chain_length=args.mh_chain_length,
        progress=lambda method: log(f"  [{dataset} seed {seed}] {method}"),
    )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _write(path, json.dumps(rows))
    return rows, samples


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
    keys = [k for k in METRICS if k in summary[0]]
    lines = ["| method | " + " | ".join(NAMES[k] for k in keys) + " |", "|---|" + "---:|" * len(keys)]
    for row in summary:
        cells = [f"{FORMATS[k].format(row[k][0])} ± {FORMATS[k].format(row[k][1])}" for k in keys]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_paired(rows_by_seed, seeds):
    """Per-seed values of the quality metrics, each method next to its seed's base model."""
    keys = [k for k in ("hq", "modes", "kde", "ot") if k in rows_by_seed[0][0]]
    header = "| method | " + " | ".join(f"{NAMES[k]} s{s}" for k in keys for s in seeds) + " |"
    lines = [header, "|---|" + "---:|" * (len(keys) * len(seeds))]
    for index, first in enumerate(rows_by_seed[0]):
        cells = [FORMATS[k].format(rows[index][k]) for k in keys for rows in rows_by_seed]
        lines.append(f"| {first['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def wins(rows_by_seed, method, against, key, higher=True):
    """On how many seeds `method` beats `against` in `key`."""
    count = 0
    for rows in rows_by_seed:
        values = {row["method"]: row[key] for row in rows}
        count += values[method] > values[against] if higher else values[method] < values[against]
    return count


def evaluate(args, log):
    started = time.perf_counter()
    results = {"command": _command(args), "gan": args.gan, "seeds": args.seeds, "datasets": {}}
    results["settings"] = {
        "num_samples": args.num_samples,
        "methods": {dataset: synthetic.SETTINGS[args.gan][dataset] for dataset in args.datasets},
        "kde_bandwidth": synthetic.KDE_BANDWIDTH,
        "training": toy_gans.DEFAULTS[args.gan],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    markdown = []
    for dataset in args.datasets:
        rows_by_seed = []
        for seed in args.seeds:
            rows, samples = evaluate_seed(dataset, args.gan, seed, args, log)
            rows_by_seed.append(rows)
            if samples is not None and seed == args.seeds[0]:
                path = os.path.join(args.results, f"synthetic_{args.gan}_{dataset}.png")
                panels = {
                    "held-out data": synthetic.held_out_data(dataset, args.num_samples, seed),
                    **samples,
                }
                plotting.scatter_grid(panels, path, title=f"{dataset}, {args.gan} seed {seed}: every method")
        summary = summarise(rows_by_seed)
        results["datasets"][dataset] = {"per_seed": rows_by_seed, "summary": summary}
        markdown += [f"## {dataset}", "", format_summary(summary), ""]
        markdown += [f"![{dataset}](synthetic_{args.gan}_{dataset}.png)", ""]
        markdown += [
            f"### {dataset}: per seed (seeds {args.seeds})",
            "",
            format_paired(rows_by_seed, args.seeds),
            "",
        ]
        lines = []
        for method in ("DGflow-KL-latent", "DGflow-KL"):
            for rival in ("base", "DOT-latent", "DOT", "DDLS"):
                if "hq" in rows_by_seed[0][0]:
                    lines.append(
                        f"- {method} vs {rival}: higher HQ on {wins(rows_by_seed, method, rival, 'hq')}, "
                        f"higher KDE on {wins(rows_by_seed, method, rival, 'kde')}, lower OT on "
                        f"{wins(rows_by_seed, method, rival, 'ot', higher=False)} of {len(args.seeds)} seeds"
                    )
                else:
                    lines.append(
                        f"- {method} vs {rival}: higher KDE on {wins(rows_by_seed, method, rival, 'kde')}, "
                        f"lower OT on {wins(rows_by_seed, method, rival, 'ot', higher=False)} of "
                        f"{len(args.seeds)} seeds"
                    )
        markdown += [f"### {dataset}: paired comparisons", "", *lines, ""]
    results["seconds"] = time.perf_counter() - started
    header = (
        f"# Table 1 on 2-D {args.gan.upper()} models\n\n"
        f"Command: `{results['command']}`; mean ± std over seeds {args.seeds} (one GAN trained per seed); "
        f"{args.num_samples} samples per method; {results['settings']['machine']}; "
        f"{results['seconds']:.0f} s for the rows computed in this run. Hyperparameters: chosen on seed "
        f"{synthetic.TUNING_SEED} by the best KDE score (`synthetic_tuning_{args.gan}.md`); K = 25 for "
        "every gradient method. HQ %: samples within 4 std of the nearest mode; modes: modes with a "
        f"high-quality sample; KDE: mean log-likelihood of held-out data under a Gaussian KDE (bandwidth "
        f"{synthetic.KDE_BANDWIDTH}) of the samples; OT: exact W1 to held-out data; G/D evals: "
        "generator/critic forward passes per kept sample.\n"
    )
    stem = os.path.join(args.results, f"synthetic_{args.gan}")
    _write(stem + ".json", json.dumps(results, indent=1))
    _write(stem + ".md", header + "\n" + "\n".join(markdown))
    print("\n".join(markdown))
    return results


# -- DDLS diagnostics --------------------------------------------------------------------------


def diagnose_ddls(args, log):
    """Why DDLS barely moves a WGAN-GP's samples: the law it samples, drawn exactly."""
    from dgflow_tf import critics
    from dgflow_tf.baselines import DDLS

    seed, num = args.seeds[0], args.num_samples
    report, markdown = (
        {},
        [
            "# DDLS on the 2-D models: the law it samples",
            "",
            "DDLS samples `p0(z) exp(d(g(z)))`. With a 2-D latent that law can be drawn exactly: "
            "200,000 prior latents resampled with weights `exp(d(g(z)))` (sampling importance "
            "resampling). If DDLS run long matches it, DDLS does what it is defined to do, and any "
            "gap to DGflow is the law's, not the sampler's. DGflow's flow with entropy weight "
            "gamma tends to `exp(d / gamma)` instead: a 1/gamma = 100 times sharper law. "
            f"Seed {seed}, {num} samples; DDLS at the tuned step.",
            "",
            "| data set | critic values (std over samples) | base | DDLS K=25 | DDLS K=1000 "
            "| exact p0 exp(d) | exact p0 exp(d / 0.01) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ],
    )
    for dataset in args.datasets:
        generator, critic = load_gan(dataset, args.gan, seed, args.cache)
        wrapped = critics.WassersteinCritic(critic) if args.gan == "wgan-gp" else critic
        held_out = synthetic.held_out_data(dataset, num, seed)
        latents = synthetic.latents_for(num, seed)
        proposals = np.random.default_rng(seed + 500).standard_normal((200_000, 2)).astype("float32")
        samples = generator.predict(proposals, batch_size=8192, verbose=0)
        values = np.asarray(critic.predict(samples, batch_size=8192, verbose=0), np.float64).reshape(-1)
        rng = np.random.default_rng(seed + 600)

        def resample(log_weights, samples=samples, rng=rng):
            weights = np.exp(log_weights - log_weights.max())
            return samples[rng.choice(len(samples), num, p=weights / weights.sum())]

        step = synthetic.SETTINGS[args.gan][dataset]["DDLS"]["step_size"]
        rows = {
            "base": generator.predict(latents, verbose=0),
            "DDLS K=25": DDLS(generator, wrapped, step_size=step, num_steps=25, seed=seed)
            .refine(latents)
            .samples,
            "DDLS K=1000": DDLS(generator, wrapped, step_size=step, num_steps=1000, seed=seed)
            .refine(latents)
            .samples,
            "exact p0 exp(d)": resample(values),
            "exact p0 exp(d / 0.01)": resample(values / 0.01),
        }
        scores = {name: synthetic.evaluate(points, held_out, dataset) for name, points in rows.items()}
        report[dataset] = {"critic_std": float(values.std()), "scores": scores}
        key = "hq" if "hq" in scores["base"] else "kde"
        cells = [f"{NAMES[key]} {scores[name][key]:.3f}" for name in rows]
        markdown.append(f"| {dataset} | {values.std():.3f} | " + " | ".join(cells) + " |")
        log(f"  [{dataset}] DDLS diagnostics: {markdown[-1]}")
    stem = os.path.join(args.results, f"synthetic_ddls_{args.gan}")
    _write(stem + ".json", json.dumps(report, indent=1))
    _write(stem + ".md", "\n".join(markdown) + "\n")
    return report


def _command(args):
    return "python benchmarks/synthetic.py " + " ".join(args.argv)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gan", choices=toy_gans.LOSSES, default="wgan-gp", help="which 2-D GANs")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="evaluation seeds")
    parser.add_argument("--datasets", nargs="+", default=datasets.names(), choices=datasets.names())
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--mh-chain-length", type=int, default=synthetic.MH_CHAIN_LENGTH)
    parser.add_argument("--tuning-seed", type=int, default=synthetic.TUNING_SEED, help="never one of --seeds")
    parser.add_argument("--tune", action="store_true", help="run the tuning sweeps on seed 100 first")
    parser.add_argument("--diagnose-ddls", action="store_true", help="the DDLS diagnostics")
    parser.add_argument("--fresh", action="store_true", help="recompute cached seeds")
    parser.add_argument("--cache", default=os.path.join(HERE, ".cache"), help="trained GANs, finished seeds")
    parser.add_argument("--results", default=os.path.join(HERE, "results"), help="output directory")
    args = parser.parse_args(argv)
    if args.tuning_seed in args.seeds:
        parser.error(
            f"--tuning-seed {args.tuning_seed} is also an evaluation seed: hyperparameters must be "
            "chosen on a seed that is not reported"
        )
    args.argv = sys.argv[1:] if argv is None else list(argv)
    os.makedirs(args.results, exist_ok=True)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    report = {}
    if args.tune:
        results = report["tuning"] = tune(args, log)
        for dataset, entry in results["datasets"].items():
            for method, chosen in entry["chosen"].items():
                current = {k: synthetic.SETTINGS[args.gan][dataset][method].get(k) for k in chosen}
                if current != chosen:
                    log(f"note: {dataset} {method} tuned to {chosen}; synthetic.SETTINGS has {current}")
    if args.seeds:
        report["evaluation"] = evaluate(args, log)
    if args.diagnose_ddls:
        report["ddls"] = diagnose_ddls(args, log)
    return report


if __name__ == "__main__":
    main()
