"""Does taming the drift (TULA) keep `auto` from hurting the 2-D models it hurts? A negative result.

With every default, DGflow makes three of the shipped 2-D GANs worse on KDE or OT: the Swiss-roll
WGAN-GP (OT), and both NS-GANs (KDE, OT), whose logits are steep. One suspect is the steepest samples:
`auto` bounds the drift's displacement for 90 % of a probe, and the rest may be thrown far. The tamed
unadjusted Langevin algorithm (Brosse et al., 2019, coordinate-wise form) bounds every sample's step:

    z' = z + eta * v / (1 + eta * |v| / c) + sqrt(2 gamma eta) xi,     v = grad_z d(g(z))

the same flow as `eta -> 0`, with at most `c` per coordinate per step. Here it is applied through a
generator wrapper whose backward pass tames the latent gradient, at `auto`'s step, at 0.01 and at
0.002, for c in {0.05, 0.2}; K = 25, KL, 1000 samples, the shipped seed-0 GANs, latents of tuning seed
100 and evaluation seed 0.

    python benchmarks/tamed_drift.py

Results: benchmarks/results/tamed_drift.{json,md}.
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dgflow_tf import RefinementModel, critics  # noqa: E402
from dgflow_tf.experiments import synthetic  # noqa: E402
from dgflow_tf.zoo import toy_gans  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
MODELS = [
    ("25gaussians", "wgan-gp"),
    ("swissroll", "wgan-gp"),
    ("25gaussians", "nsgan"),
    ("swissroll", "nsgan"),
]
STEPS = {"auto": "auto", "0.01": 0.01, "0.002": 0.002}
TAMING = (None, 0.05, 0.2)
SEEDS = (100, 0)
NUM_SAMPLES = 1000


def tamed(generator, step_size, limit):
    """`generator` behind an identity whose gradient is tamed: `v / (1 + step_size * |v| / limit)`."""

    @tf.custom_gradient
    def tame(z):
        return tf.identity(z), lambda v: v / (1.0 + step_size * tf.abs(v) / limit)

    return lambda z, **kwargs: generator(tame(z), **kwargs)


def run(say):
    rows = []
    for dataset, gan in MODELS:
        generator, critic = toy_gans.load_toy_gan(dataset, gan, seed=0)
        critic = critics.WassersteinCritic(critic) if gan == "wgan-gp" else critics.get(critic)
        for seed in SEEDS:
            latents = synthetic.latents_for(NUM_SAMPLES, seed)
            reference = synthetic.held_out_data(dataset, NUM_SAMPLES, seed)
            base = synthetic.evaluate(np.asarray(generator(latents)), reference, dataset)
            rows.append({"dataset": dataset, "gan": gan, "seed": seed, "step": "base", "limit": None, **base})
            for label, step in STEPS.items():
                plain = RefinementModel(generator, critic, seed=seed, latent_shape=(2,), step_size=step)
                for limit in TAMING:
                    # The tamed runs take the plain run's step, `auto` resolved by it (TAMING starts at None).
                    model = (
                        plain
                        if limit is None
                        else RefinementModel(
                            tamed(generator, plain.step_size, limit),
                            critic,
                            seed=seed,
                            latent_shape=(2,),
                            step_size=plain.step_size,
                        )
                    )
                    samples = model.predict(latents, batch_size=500, verbose=0)
                    metrics = synthetic.evaluate(samples, reference, dataset)
                    row = {"dataset": dataset, "gan": gan, "seed": seed, "step": label, "limit": limit}
                    rows.append({**row, **metrics, "step_size": model.step_size})
                    say(rows[-1])
    return rows


def markdown(rows, seconds):
    lines = [
        "## Tamed drift (TULA) against `auto`'s failures on the 2-D GANs",
        "",
        f"Command: `python benchmarks/tamed_drift.py` ({seconds:.0f} s on {platform.machine()}, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}). K = 25, KL, gamma 0.01, "
        f"{NUM_SAMPLES} samples; "
        "shipped seed-0 GANs; seed 100 is the tuning seed's latents, 0 an evaluation seed's. `c`: the "
        "taming limit per coordinate and step (`-`: plain Euler). HQ in %; higher KDE, lower OT are better.",
        "",
        "| data | GAN | seed | step | c | step size | HQ | KDE | OT |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        step_size = "" if row.get("step_size") is None else f"{row['step_size']:.4g}"
        hq = f"{row['hq']:.1f}" if "hq" in row else ""
        limit = "-" if row["limit"] is None else row["limit"]
        lines.append(
            f"| {row['dataset']} | {row['gan']} | {row['seed']} | {row['step']} | {limit} | {step_size} | "
            f"{hq} | {row['kde']:.3f} | {row['ot']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", default=os.path.join(RESULTS, "tamed_drift"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run(lambda row: print(json.dumps(row), file=sys.stderr, flush=True))
    seconds = time.perf_counter() - started
    with open(args.output + ".json", "w", encoding="utf-8") as handle:
        json.dump({"rows": rows, "seconds": seconds}, handle, indent=1)
    with open(args.output + ".md", "w", encoding="utf-8") as handle:
        handle.write(markdown(rows, seconds))


if __name__ == "__main__":
    main()
