"""Does the cheap noise cost quality? Euler with normal noise against Rademacher signs, each tuned.

`noise_distribution="rademacher"` replaces each step's standard normals by
random signs of the same mean and variance, 4 times cheaper to draw
(`noise_cost.py`). Euler-Maruyama stays of weak order one with such noise, so
at a small step the refined law is the same; whether it is at the step sizes
refinement uses is what this benchmark measures, on the models of
`quality_per_eval.py` where noise matters most:

- the 25-Gaussian WGAN-GPs (latent space, 2-D latents: the fewest noise
  numbers per sample, so the least averaging), seeds 0, 1 and 2, each its own
  GAN: HQ, KDE and OT;
- the digits DCGANs and SN-DCGANs, seeds 0, 1 and 2, in latent space and in
  data space (64 pixels, noise on every pixel): FID against the 1,797 digits.

Every row is K = 25 Euler steps. The rule is `quality_per_eval.py`'s,
applied to each noise apart: the step size is chosen from its `STEP_GRID` by
the best KDE (digits: FID) on tuning seed 100 (its own latents, noise and
GAN), then fixed for the evaluation seeds; the `auto` rows use the library's
default step. Same latents for both noises; the noise is keyed by the same
seed. A last row runs the signs at the normal noise's tuned step, paired on
the same latents, GAN and noise seed: the noises compared at one step, apart
from which grid point each tuning picks.

    python benchmarks/noise_quality.py      # about 10 minutes on 2 CPU cores

Writes `results/noise_quality.{json,md}`.
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality_per_eval as qpe  # noqa: E402

DISTRIBUTIONS = ("normal", "rademacher")
NUM_STEPS = 25
#: (data set, GAN kind, space, evaluation seeds).
MODELS = [
    ("25gaussians", "wgan-gp", "latent", (0, 1, 2)),
    ("digits", "dcgan", "latent", (0, 1, 2)),
    ("digits", "sn-dcgan", "latent", (0, 1, 2)),
    ("digits", "dcgan", "data", (0, 1, 2)),
]


def measure(generator, critic, dataset, space, seed, **settings):
    if dataset == "digits":
        return qpe.measure_digits(generator, critic, seed, space=space, **settings)
    return qpe.measure(generator, critic, dataset, seed, space=space, **settings)


def run(cache, say):
    tuning, rows, chosen = [], [], {}
    for dataset, gan, space, seeds in MODELS:
        name = f"{dataset}/{gan}/{space}"
        generator, critic = qpe.load(dataset, gan, qpe.TUNING_SEED, cache)
        for distribution in DISTRIBUTIONS:
            scores = {}
            for eta in qpe.STEP_GRID:
                result = measure(
                    generator,
                    critic,
                    dataset,
                    space,
                    qpe.TUNING_SEED,
                    step_size=eta,
                    num_steps=NUM_STEPS,
                    noise_distribution=distribution,
                )
                scores[eta] = qpe.score(result)
                tuning.append({"model": name, "noise": distribution, **result, "step_size": eta})
                say(f"tune {name} {distribution} eta={eta}: score {scores[eta]:.4f}")
            chosen[f"{name}/{distribution}"] = max(scores, key=scores.get)
        for seed in seeds:
            generator, critic = qpe.load(dataset, gan, seed, cache)
            base = measure(generator, critic, dataset, space, seed, num_steps=0)
            rows.append({"model": name, "seed": seed, "method": "base", **base})
            runs = [(d, "tuned", chosen[f"{name}/{d}"]) for d in DISTRIBUTIONS]
            runs += [(d, "auto", "auto") for d in DISTRIBUTIONS]
            # Paired: the signs at the normal noise's tuned step, so that a near tie in the tuning does not
            # pass for an effect of the noise.
            runs.append(("rademacher", "at normal's step", chosen[f"{name}/normal"]))
            for distribution, method, step in runs:
                result = measure(
                    generator,
                    critic,
                    dataset,
                    space,
                    seed,
                    step_size=step,
                    num_steps=NUM_STEPS,
                    noise_distribution=distribution,
                )
                rows.append({"model": name, "seed": seed, "method": f"{distribution} {method}", **result})
                say(f"{name} seed {seed} {distribution} {method}: {result}")
    return chosen, tuning, rows


def markdown(chosen, rows, seconds, command):
    lines = [
        "# Normal noise against Rademacher signs, K = 25 Euler steps",
        "",
        f"Command: `{command}`; {platform.machine()}, {os.cpu_count()} CPUs; {seconds:.0f} s. Each noise's "
        f"step chosen from {list(qpe.STEP_GRID)} on tuning seed {qpe.TUNING_SEED} by KDE (digits: FID); "
        "mean ± std over the evaluation seeds, each its own GAN. The sweep is in `noise_quality.json`.",
        "",
        "| model | method | step | " + "metric | " * 3,
        "|---|---|---|---|---|---|",
    ]
    for dataset, gan, space, _ in MODELS:
        name = f"{dataset}/{gan}/{space}"
        metrics = ["hq", "kde", "ot"] if dataset == "25gaussians" else ["fid"]
        methods = ["base"] + [f"{d} {m}" for d in DISTRIBUTIONS for m in ("tuned", "auto")]
        methods.append("rademacher at normal's step")
        for method in methods:
            selected = [r for r in rows if r["model"] == name and r["method"] == method]
            cells = []
            for metric in metrics:
                values = np.array([r[metric] for r in selected], dtype=float)
                cells.append(f"{metric} {values.mean():.3f} ± {values.std():.3f}")
            if method.endswith("tuned") or method.endswith("step"):
                noise = "normal" if method.endswith("step") else method.split()[0]
                step = f"{chosen[f'{name}/{noise}']:g}"
            else:
                step = "-" if method == "base" else "auto"
            cells += [""] * (3 - len(cells))
            lines.append(f"| {name} | {method} | {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=os.path.join(qpe.HERE, ".cache"), help="trained GANs")
    parser.add_argument("--output", default=os.path.join(qpe.HERE, "results"), help="where results go")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def say(message):
        print(f"[{time.perf_counter() - started:7.1f}s] {message}", flush=True)

    chosen, tuning, rows = run(args.cache, say)
    seconds = time.perf_counter() - started
    command = "python benchmarks/noise_quality.py " + " ".join(argv if argv is not None else sys.argv[1:])
    record = {
        "command": command.strip(),
        "seconds": seconds,
        "chosen": chosen,
        "tuning": tuning,
        "rows": rows,
    }
    with open(os.path.join(args.output, "noise_quality.json"), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1, default=float)
    text = markdown(chosen, rows, seconds, command.strip())
    with open(os.path.join(args.output, "noise_quality.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
