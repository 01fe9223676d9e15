"""A candidate `auto` rule against the shipped one, on the evaluation seeds, before any change.

`auto_rule_sweep.py --held-out unseen` found that with the five MLP GANs of `unseen_models.py` added,
the sweep's own criterion (most models improved, then most near their best, then the best mean rank)
would choose D = 0.25 with a time cap of 0.1 instead of the shipped D = 0.5, cap 1. That choice was
made on the tuning seed. This benchmark measures both rules on the evaluation seeds of every model
that is cheap to refine here:

- the 2-D GANs and the digits GANs of `quality_per_eval.py` (its models, seeds, latents and metrics);
- the MNIST GANs of `benchmarks/mnist.py`, the shipped seed-0 models (1,000 samples per seed, FID
  against the test set, as in `results/mnist.md`);
- the five MLP GANs of `unseen_models.py`.

Each model's tuned value (Euler, K = 25, the step tuned on seed 100) is read back from the published
results (`quality_per_eval.json`, `mnist.json`, `unseen_models.json`), and the base is measured again
here: it must reproduce the published base for the shares to mean anything, and the table says where
it does not.

    python benchmarks/auto_rule_candidate.py [--displacement 0.25 --cap 0.1]

Results: benchmarks/results/auto_rule_candidate.{json,md}.
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import quality_per_eval as benchmark  # noqa: E402  (beside this file, as for auto_rule_sweep)
import unseen_models  # noqa: E402

from dgflow_tf import RefinementModel, critics  # noqa: E402
from dgflow_tf import step_size as step_size_lib  # noqa: E402

RESULTS = os.path.join(benchmark.HERE, "results")
CACHE = os.path.join(benchmark.HERE, ".cache")
SHIPPED = (step_size_lib.DISPLACEMENT, step_size_lib.TIME_CAP)
MNIST_SEEDS, MNIST_SAMPLES = (0, 1, 2), 1000
HIGHER_IS_BETTER = unseen_models.HIGHER_IS_BETTER


def with_rule(rule, build):
    """`build()` with the auto rule's `(displacement, cap)` set to `rule`, then the shipped rule back."""
    try:
        step_size_lib.DISPLACEMENT, step_size_lib.TIME_CAP = rule
        return build()
    finally:
        step_size_lib.DISPLACEMENT, step_size_lib.TIME_CAP = SHIPPED


def three_ways(refine, rule):
    """The `base`, `shipped` and `candidate` results of `refine(step_size)` (`None`: the base)."""
    return {
        "base": refine(None),
        "shipped": refine("auto"),
        "candidate": with_rule(rule, lambda: refine("auto")),
    }


def read_published(name):
    with open(os.path.join(RESULTS, name), encoding="utf-8") as handle:
        return json.load(handle)["rows"]


def published(rows, labels, picks):
    """`{"published <label>": row}`: for each `(method, label)`, the one row that `picks(row, method)`."""
    found = {}
    for method, label in labels:
        match = [row for row in rows if picks(row, method)]
        if len(match) != 1:
            raise ValueError(f"Expected one published {method!r} row, found {len(match)}.")
        found["published " + label] = match[0]
    return found


def zoo_rows(rule, say):
    """Base, shipped and candidate on `quality_per_eval.MODELS`; tuned from `quality_per_eval.json`."""
    rows = read_published("quality_per_eval.json")
    labels = (("base", "base"), ("Euler tuned", "Euler tuned"), ("Euler auto", "auto"))
    for dataset, gan, seeds in benchmark.MODELS:
        for seed in seeds:
            generator, critic = benchmark.load(dataset, gan, seed, CACHE)

            def refine(step, g=generator, c=critic, ds=dataset, s=seed):
                return benchmark.measure(g, c, ds, s, num_steps=0 if step is None else 25)

            def picks(row, method, key=(dataset, gan, seed)):
                budget = 0 if method == "base" else 25
                return (row["dataset"], row["gan"], row["seed"], row["method"], row["budget"]) == (
                    *key,
                    method,
                    budget,
                )

            yield f"{dataset}/{gan}", seed, {**three_ways(refine, rule), **published(rows, labels, picks)}
            say(f"{dataset}/{gan} seed {seed} done")


def mnist_rows(rule, say):
    """Base, shipped and candidate on the shipped MNIST GANs; tuned DGflow-KL from `mnist.json`."""
    from dgflow_tf.experiments import mnist as mnist_experiment
    from dgflow_tf.metrics.mnist import mnist_fid
    from dgflow_tf.zoo import mnist_models as zoo

    rows = read_published("mnist.json")
    labels = (("base", "base"), ("DGflow-KL", "Euler tuned"), ("DGflow-KL (defaults)", "auto"))
    for gan in ("dcgan", "sn-gan", "wgan-gp"):
        model = zoo.load_shipped_mnist_model(gan)
        critic = critics.WassersteinCritic(model.discriminator) if gan == "wgan-gp" else model.discriminator
        for seed in MNIST_SEEDS:
            latents = mnist_experiment.latents_for(model, MNIST_SAMPLES, seed)

            def refine(step, latents=latents, model=model, critic=critic, seed=seed):
                if step is None:
                    samples, used = model.generate(latents), None
                else:
                    refiner = RefinementModel(
                        model.generator, critic, seed=seed, num_steps=25, step_size=step
                    )
                    samples = refiner.predict(latents, batch_size=500, verbose=0)
                    used = refiner.step_size
                return {"fid": mnist_fid(samples), "step_size": used}

            def picks(row, method, key=(gan, seed)):
                return (row["family"], row["seed"], row["method"], row["model_seed"]) == (*key, method, 0)

            yield f"mnist/{gan}", seed, {**three_ways(refine, rule), **published(rows, labels, picks)}
            say(f"mnist/{gan} seed {seed} done")


def unseen_rows(rule, say):
    """Base, shipped and candidate on the five MLP GANs; tuned from `unseen_models.json`."""
    rows = read_published("unseen_models.json")
    labels = (("base", "base"), ("tuned", "Euler tuned"), ("auto", "auto"))
    for name in unseen_models.MODELS:
        generator, discriminator, latent_dim = unseen_models.load(name, CACHE, say)
        for seed in unseen_models.EVALUATION_SEEDS:

            def refine(step, g=generator, d=discriminator, seed=seed, name=name, latent_dim=latent_dim):
                return unseen_models.measure(name, g, d, latent_dim, seed, step)

            def picks(row, method, key=(name, seed)):
                return (row["model"], row["seed"], row["method"]) == (*key, method)

            yield name, seed, {**three_ways(refine, rule), **published(rows, labels, picks)}
            say(f"{name} seed {seed} done")


def headline(name):
    return (
        ("fid",)
        if name.startswith(("digits", "mnist"))
        else ("hq", "ot")
        if "25gaussians" in name
        else ("ot",)
    )


def summarise(rows):
    """Per model and headline metric: the means, the seeds each rule improves and each rule's share."""
    table = []
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name]
        for metric in headline(name):
            sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
            means = {
                m: float(np.mean([r[m][metric] for r in mine])) for m in ("base", "shipped", "candidate")
            }
            means["tuned"] = float(np.mean([r["published Euler tuned"][metric] for r in mine]))
            entry = {"model": name, "metric": metric, "seeds": len(mine), **means}
            for mine_key, published_key in (("base", "base"), ("shipped", "auto")):
                published_mean = float(np.mean([r["published " + published_key][metric] for r in mine]))
                entry[f"{mine_key} reproduced"] = bool(
                    np.isclose(published_mean, means[mine_key], rtol=1e-3, atol=1e-6)
                )
            for rule in ("shipped", "candidate"):
                entry[f"{rule} improved"] = sum(
                    sign * (r[rule][metric] - r["base"][metric]) > 0 for r in mine
                )
                entry[f"{rule} share"] = unseen_models.gain_share(
                    means["base"], means[rule], means["tuned"], metric
                )
                entry[f"{rule} step"] = float(np.mean([r[rule]["step_size"] for r in mine]))
            table.append(entry)
    return table


def markdown(table, rule, seconds, command):
    def pct(value):
        return "-" if value is None else f"{100 * value:.0f} %"

    lines = [
        "## A candidate auto rule against the shipped one, on the evaluation seeds",
        "",
        f"Command: `{command}` ({seconds:.0f} s on {platform.machine()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d')}). K = 25, every other default. Shipped: D = {SHIPPED[0]}, cap = "
        f"{SHIPPED[1]}; candidate: D = {rule[0]}, cap = {rule[1]}. `tuned`: the published Euler step tuned "
        "on seed 100; `share`: of its gain in the mean (`-`: the tuned step gains nothing); `improved`: "
        "seeds better than the base. A base or shipped mean marked `*` differs from the published one "
        "by more than 0.1 %, so its shares are not comparable.",
        "",
        "| model | metric | base | shipped | candidate | tuned | shipped improved | candidate improved "
        "| shipped share | candidate share | shipped step | candidate step |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in table:
        digits = {"hq": 1, "ot": 4, "fid": 2}[e["metric"]]
        star = {key: "" if e[f"{key} reproduced"] else "*" for key in ("base", "shipped")}
        lines.append(
            f"| {e['model']} | {e['metric'].upper()} | {e['base']:.{digits}f}{star['base']} | "
            f"{e['shipped']:.{digits}f}{star['shipped']} | "
            f"{e['candidate']:.{digits}f} | {e['tuned']:.{digits}f} | "
            f"{e['shipped improved']} of {e['seeds']} | {e['candidate improved']} of {e['seeds']} | "
            f"{pct(e['shipped share'])} | {pct(e['candidate share'])} | "
            f"{e['shipped step']:.3g} | {e['candidate step']:.3g} |"
        )
    counts = {
        rule: (
            sum(e[f"{rule} improved"] == e["seeds"] for e in table),
            sum(e[f"{rule} share"] is not None and e[f"{rule} share"] >= 0.8 for e in table),
        )
        for rule in ("shipped", "candidate")
    }
    lines += [
        "",
        f"Rows (model and metric) improved on every seed: shipped {counts['shipped'][0]}, candidate "
        f"{counts['candidate'][0]} of {len(table)}; at least 80 % of the tuned gain: shipped "
        f"{counts['shipped'][1]}, candidate {counts['candidate'][1]}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--displacement", type=float, default=0.25, help="the candidate's D (default: 0.25)")
    parser.add_argument(
        "--cap", type=float, default=0.1, help="the candidate's cap on eta * K (default: 0.1)"
    )
    parser.add_argument(
        "--output",
        default=os.path.join(RESULTS, "auto_rule_candidate"),
        help="path of the results without .json/.md (default: benchmarks/results/auto_rule_candidate)",
    )
    args = parser.parse_args(argv)
    if not (args.displacement > 0 and args.cap > 0):
        parser.error(f"--displacement and --cap must be positive; got {args.displacement} and {args.cap}")
    rule = (args.displacement, args.cap)
    say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()
    rows = []
    for source in (zoo_rows, unseen_rows, mnist_rows):
        rows += [{"model": name, "seed": seed, **results} for name, seed, results in source(rule, say)]
    seconds = time.perf_counter() - started
    table = summarise(rows)
    command = "python benchmarks/auto_rule_candidate.py" + (
        "" if rule == (0.25, 0.1) else f" --displacement {rule[0]} --cap {rule[1]}"
    )
    with open(args.output + ".json", "w", encoding="utf-8") as handle:
        json.dump(
            {"command": command, "seconds": seconds, "rule": rule, "table": table, "rows": rows},
            handle,
            indent=1,
        )
    with open(args.output + ".md", "w", encoding="utf-8") as handle:
        handle.write(markdown(table, rule, seconds, command))


if __name__ == "__main__":
    main()
