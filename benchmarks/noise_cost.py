"""What one step's noise costs, against the fastest possible draw and against a step without noise.

For the memory benchmark's case (64 images of 128x128x3, the small conv critic of `memory.py`), three
compiled functions are timed, interleaved, median of `--repeats` calls each:

- `keyed noise`: `noise.step_noise_at`, the library's per-step noise keyed by (seed, position, step);
- `keyed signs`: `noise.step_signs_at`, the same keying with Rademacher signs
  (`noise_distribution="rademacher"`);
- `one draw`: `tf.random.stateless_normal` of the same numbers in one call, the fastest stateless draw
  TensorFlow has on this machine and so a floor for any keyed noise;
- `box-muller`: Box-Muller written as vectorised TensorFlow ops on one 32-bit Philox word per number
  (a candidate cheaper exact normal draw; not the library's stream);
- `words only`: those Philox words alone, one per number, with nothing made of them: a floor for any
  exact normal draw on TensorFlow's generator, which needs about a word per number;
- `deterministic step`: one data-space step without noise (the critic's value and gradient).

    python benchmarks/noise_cost.py

Results: benchmarks/results/noise_cost.{json,md}.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import scipy.stats  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory import RESULTS, image_critic  # noqa: E402

from dgflow_tf import noise  # noqa: E402

SHAPE = (64, 128, 128, 3)
NUMBERS = math.prod(SHAPE)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--output", default=os.path.join(RESULTS, "noise_cost"))
    args = parser.parse_args(argv)

    seed = noise.sanitize_seed(0)
    positions = tf.range(SHAPE[0], dtype=tf.int64)
    critic = image_critic()
    images = tf.random.stateless_uniform(SHAPE, seed=[1, 2], minval=-1.0, maxval=1.0)

    @tf.function
    def keyed_noise(step):
        return noise.step_noise_at(seed, positions, step, SHAPE[1:], tf.float32)

    @tf.function
    def keyed_signs(step):
        return noise.step_signs_at(seed, positions, step, SHAPE[1:], tf.float32)

    @tf.function
    def one_draw(step):
        return tf.random.stateless_normal(SHAPE, seed=tf.random.experimental.stateless_fold_in(seed, step))

    @tf.function
    def box_muller(step):
        step_seed = tf.random.experimental.stateless_fold_in(seed, step)
        pairs = tf.random.stateless_uniform(
            [2, NUMBERS // 2], step_seed, minval=None, maxval=None, dtype=tf.uint32
        )
        # Uniforms in (0, 1] from the top 24 bits, so the logarithm is finite.
        uniform = (tf.cast(tf.bitwise.right_shift(pairs, 8), tf.float32) + 1.0) * 2.0**-24
        radius, angle = tf.sqrt(-2.0 * tf.math.log(uniform[0])), 2.0 * math.pi * uniform[1]
        return tf.reshape(tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], axis=0), SHAPE)

    @tf.function
    def words_only(step):
        step_seed = tf.random.experimental.stateless_fold_in(seed, step)
        return tf.random.stateless_uniform([NUMBERS], step_seed, minval=None, maxval=None, dtype=tf.uint32)

    @tf.function
    def deterministic_step(step):
        with tf.GradientTape() as tape:
            tape.watch(images)
            total = tf.reduce_sum(critic(images))
        return images + 1e-3 * tape.gradient(total, images)

    variants = {
        "keyed noise": keyed_noise,
        "keyed signs": keyed_signs,
        "one draw": one_draw,
        "box-muller": box_muller,
        "words only": words_only,
        "deterministic step": deterministic_step,
    }
    times = {name: [] for name in variants}
    for function in variants.values():
        function(tf.constant(0, tf.int64)).numpy()  # trace outside the timing
    for repeat in range(args.repeats):
        for name, function in variants.items():
            start = time.perf_counter()
            function(tf.constant(repeat, tf.int64)).numpy()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    # The candidate must be a standard normal: a Kolmogorov-Smirnov test of 100,000 of its numbers.
    drawn = box_muller(tf.constant(0, tf.int64)).numpy().ravel()[:100_000]
    box_muller_ks = scipy.stats.kstest(drawn, "norm")
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "shape": SHAPE,
        "repeats": args.repeats,
        "median_seconds": medians,
        "box_muller_ks": {"statistic": float(box_muller_ks.statistic), "pvalue": float(box_muller_ks.pvalue)},
    }
    with open(args.output + ".json", "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    step = medians["deterministic step"]
    lines = [
        "# The cost of one step's noise (64 x 128x128x3)",
        "",
        f"`python benchmarks/noise_cost.py`; {report['machine']}; medians of {args.repeats} "
        "interleaved calls.",
        "",
        "| variant | ms | / deterministic step | / one draw |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds in medians.items():
        lines.append(
            f"| {name} | {1e3 * seconds:.1f} | {seconds / step:.2f} | {seconds / medians['one draw']:.2f} |"
        )
    lines += [
        "",
        f"Box-Muller's numbers against N(0, 1): Kolmogorov-Smirnov statistic "
        f"{box_muller_ks.statistic:.4f}, p = {box_muller_ks.pvalue:.2f} (100,000 numbers).",
    ]
    with open(args.output + ".md", "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
