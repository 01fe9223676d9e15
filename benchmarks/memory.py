"""Peak memory and time against the number of steps: the noise is drawn one step at a time.

Two measurements, every row in a fresh process so that its peak resident set size (`ru_maxrss`) is its own:

- `images`: data-space refinement of 64 images of 128x128x3 with a small convolutional critic, without
  noise (entropy weight 0), with normal noise and with Rademacher signs (`noise_distribution`; weight
  0.01), at K = 25, 100 and 400. Before per-step noise, K = 100 with noise peaked at 3.4 GB against
  0.83 GB without, and took 4.8 times as long.
- `steps`: latent-space refinement at batch 64 of a 2-D MLP model and of a small image model (a dense
  generator 32 -> 32x32x3 and a dense critic), from 200 to 100,000 steps: peak memory must stay flat.

    python benchmarks/memory.py                      # both, about 15 minutes on 2 CPU cores
    python benchmarks/memory.py --only images --repeats 3

Results: benchmarks/results/memory.{json,md}.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def image_critic():
    import keras

    return keras.Sequential(
        [
            keras.Input((128, 128, 3)),
            keras.layers.Conv2D(
                16, 4, strides=4, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(0)
            ),
            keras.layers.Conv2D(
                32, 4, strides=4, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(1)
            ),
            keras.layers.Flatten(),
            keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(2)),
        ]
    )


def _step_models(kind):
    import keras

    init = keras.initializers.GlorotUniform
    if kind == "2d":
        generator = keras.Sequential(
            [
                keras.Input((2,)),
                keras.layers.Dense(64, activation="relu", kernel_initializer=init(0)),
                keras.layers.Dense(2, kernel_initializer=init(1)),
            ]
        )
        critic = keras.Sequential(
            [
                keras.Input((2,)),
                keras.layers.Dense(64, activation="relu", kernel_initializer=init(2)),
                keras.layers.Dense(1, kernel_initializer=init(3)),
            ]
        )
        return generator, critic, (2,)
    generator = keras.Sequential(
        [
            keras.Input((32,)),
            keras.layers.Dense(32 * 32 * 3, activation="tanh", kernel_initializer=init(0)),
            keras.layers.Reshape((32, 32, 3)),
        ]
    )
    critic = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(1, kernel_initializer=init(1))]
    )
    return generator, critic, (32,)


def child(args):
    """One measurement in this process, printed as JSON."""
    import numpy as np

    from dgflow_tf import RefinementModel

    if args.kind == "images":
        model = RefinementModel(
            None,
            image_critic(),
            space="data",
            step_size=1e-3,
            entropy_weight=args.entropy_weight,
            num_steps=args.num_steps,
            seed=0,
            noise_distribution=args.noise_distribution,
        )
        inputs = np.random.default_rng(0).uniform(-1, 1, (64, 128, 128, 3)).astype("float32")
    else:
        generator, critic, latent_shape = _step_models(args.kind)
        model = RefinementModel(
            generator, critic, step_size=1e-4, entropy_weight=0.01, num_steps=args.num_steps, seed=0
        )
        inputs = np.random.default_rng(0).normal(size=(64, *latent_shape)).astype("float32")
    model.predict(inputs[:2], batch_size=64, verbose=0)  # trace and warm up outside the timing
    start = time.perf_counter()
    model.predict(inputs, batch_size=64, verbose=0)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))


def measure(kind, num_steps, entropy_weight, noise_distribution="normal"):
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        "--kind",
        kind,
        "--num-steps",
        str(num_steps),
        "--entropy-weight",
        str(entropy_weight),
        "--noise-distribution",
        noise_distribution,
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["images", "steps"], default=None)
    parser.add_argument("--repeats", type=int, default=1, help="image rows: median seconds over repeats")
    parser.add_argument("--image-steps", type=int, nargs="+", default=[25, 100, 400])
    parser.add_argument("--step-counts", type=int, nargs="+", default=[200, 2000, 20_000, 100_000])
    parser.add_argument("--output", default=os.path.join(RESULTS, "memory"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="images", help=argparse.SUPPRESS)
    parser.add_argument("--num-steps", type=int, default=25, help=argparse.SUPPRESS)
    parser.add_argument("--entropy-weight", type=float, default=0.01, help=argparse.SUPPRESS)
    parser.add_argument("--noise-distribution", default="normal", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    started = time.perf_counter()
    report = {
        "command": "python benchmarks/memory.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "images": [],
        "steps": [],
    }
    if args.only in (None, "images"):
        for num_steps in args.image_steps:
            # Interleaved per K: deterministic, normal noise, Rademacher noise.
            for entropy_weight, distribution in ((0.0, "normal"), (0.01, "normal"), (0.01, "rademacher")):
                runs = [
                    measure("images", num_steps, entropy_weight, distribution) for _ in range(args.repeats)
                ]
                row = {
                    "num_steps": num_steps,
                    "entropy_weight": entropy_weight,
                    "noise_distribution": distribution,
                    "seconds": sorted(r["seconds"] for r in runs)[len(runs) // 2],
                    "peak_mb": max(r["peak_mb"] for r in runs),
                }
                report["images"].append(row)
                print(row, flush=True)
    if args.only in (None, "steps"):
        for kind in ("2d", "image"):
            for num_steps in args.step_counts:
                row = {"model": kind, "num_steps": num_steps, **measure(kind, num_steps, 0.01)}
                report["steps"].append(row)
                print(row, flush=True)
    elif os.path.exists(args.output + ".json"):
        # `--only images` keeps the step rows of the last full run, with that run's command.
        with open(args.output + ".json", encoding="utf-8") as handle:
            earlier = json.load(handle)
        report["steps"], report["steps_command"] = (
            earlier["steps"],
            earlier.get("steps_command", earlier["command"]),
        )
    report["seconds"] = time.perf_counter() - started
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output + ".json", "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    lines = [
        "# Memory and time against the number of steps",
        "",
        f"Command: `{report['command']}`; {report['machine']}; {report['seconds']:.0f} s. Peak RSS of a "
        "fresh process (TensorFlow itself takes about 0.8 GB); seconds of one `predict` after a warm-up.",
    ]
    if report["images"]:
        lines += [
            "",
            "## Data-space refinement of 64 images of 128x128x3, small conv critic",
            "",
            "| K | noise | seconds | peak RSS (MB) | time with noise / without |",
            "|---:|---|---:|---:|---:|",
        ]
        by_key = {(r["num_steps"], r["entropy_weight"]): r for r in report["images"]}
        for r in report["images"]:
            ratio = ""
            if r["entropy_weight"] > 0:
                ratio = f"{r['seconds'] / by_key[(r['num_steps'], 0.0)]['seconds']:.2f}"
            noise = "none"
            if r["entropy_weight"]:
                noise = f"gamma = {r['entropy_weight']}, {r.get('noise_distribution', 'normal')}"
            lines.append(
                f"| {r['num_steps']} | {noise} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {ratio} |"
            )
    if report["steps"]:
        lines += [
            "",
            "## Peak memory against the number of steps, batch 64, with noise",
            "",
            *(
                [f"Measured by `{report['steps_command']}` (an `--only images` run keeps them).", ""]
                if "steps_command" in report
                else []
            ),
            "| model | K | seconds | peak RSS (MB) |",
            "|---|---:|---:|---:|",
        ]
        for r in report["steps"]:
            lines.append(f"| {r['model']} | {r['num_steps']} | {r['seconds']:.1f} | {r['peak_mb']:.0f} |")
    with open(args.output + ".md", "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
