"""Cost of one DGflow step relative to one forward+backward pass (the floor).

One refinement step must evaluate g and d forward and backpropagate to z:
nothing can be cheaper than `grad_z d(g(z))` itself. This benchmark times,
interleaved in one process so machine noise hits every variant alike:

- floor: one compiled `tf.function` computing `grad_z d(g(z))`, per call;
- refine (graph): `RefinementModel.refine` with K steps, divided by K (so the
  final `g(z_K)`, the noise draw and the Python call are charged to the steps);
- refine (XLA): the same with `jit_compile=True`;
- predict: `RefinementModel.predict` (Keras' loop), divided by K;
- MALA: `refine` with `solver="mala"`, divided by its K + 1 drift evaluations.

Reproduce (2 CPU cores, about 3 minutes):

    python benchmarks/step_cost.py --batch-size 64 --num-steps 25 --repeats 5

Results are written to benchmarks/results/step_cost.json and printed as a table.
"""

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dgflow_tf import RefinementModel  # noqa: E402
from dgflow_tf.zoo.dcgan import dcgan_discriminator, dcgan_generator  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-steps", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--width", type=int, default=64, help="DCGAN width (64 is the paper's size)")
    parser.add_argument("--latent-dim", type=int, default=128)
    parser.add_argument("--no-xla", action="store_true", help="skip the XLA variant")
    parser.add_argument(
        "--output", default=os.path.join(os.path.dirname(__file__), "results", "step_cost.json")
    )
    args = parser.parse_args(argv)

    generator = dcgan_generator(latent_dim=args.latent_dim, width=args.width)
    critic = dcgan_discriminator(width=args.width)
    z = tf.constant(
        np.random.default_rng(0).normal(size=(args.batch_size, args.latent_dim)).astype("float32")
    )

    @tf.function
    def forward_backward(latents):
        with tf.GradientTape() as tape:
            tape.watch(latents)
            logits = critic(generator(latents, training=False), training=False)
        return tape.gradient(logits, latents)

    settings = dict(num_steps=args.num_steps, seed=0, step_size=0.1, entropy_weight=0.01)
    graph_model = RefinementModel(generator, critic, jit_compile=False, **settings)
    mala_model = RefinementModel(generator, critic, jit_compile=False, solver="mala", **settings)
    variants = {
        "floor: one forward+backward": lambda: forward_backward(z).numpy(),
        "refine, graph (per step)": lambda: graph_model.refine(z),
        "predict, graph (per step)": lambda: graph_model.predict(z, batch_size=args.batch_size, verbose=0),
        # K + 1 drift evaluations (the start and each proposal), charged per evaluation.
        "refine, MALA (per evaluation)": lambda: mala_model.refine(z),
    }
    per_step = {
        "floor: one forward+backward": 1,
        "refine, graph (per step)": args.num_steps,
        "predict, graph (per step)": args.num_steps,
        "refine, MALA (per evaluation)": args.num_steps + 1,
    }
    if not args.no_xla:
        xla_model = RefinementModel(generator, critic, jit_compile=True, **settings)
        variants["refine, XLA (per step)"] = lambda: xla_model.refine(z)
        per_step["refine, XLA (per step)"] = args.num_steps

    for run in variants.values():  # warm-up: tracing and XLA compilation
        run()
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) / per_step[name])

    floor = statistics.median(times["floor: one forward+backward"])
    rows = []
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    print(
        f"DCGAN 32x32x3, width {args.width}, batch {args.batch_size}, K = {args.num_steps}, "
        f"{args.repeats} interleaved repeats, device: {device}"
    )
    print(f"{'variant':<30} {'median ms':>10} {'ratio to floor':>15}")
    for name, samples in times.items():
        median = statistics.median(samples)
        rows.append(
            {
                "variant": name,
                "median_seconds": median,
                "ratio_to_floor": median / floor,
                "all_seconds": samples,
            }
        )
        print(f"{name:<30} {1e3 * median:>10.1f} {median / floor:>15.3f}")
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(
            {
                "args": vars(args),
                "machine": platform.platform(),
                "cpu_count": os.cpu_count(),
                "tensorflow": tf.__version__,
                "rows": rows,
            },
            handle,
            indent=2,
        )
    return rows


if __name__ == "__main__":
    main()
