"""Peak memory and time of refining N samples at 32x32x3: streamed shards against one `predict` call.

    python benchmarks/streaming.py --sizes 10000 100000

Every (method, N) runs in a fresh process so that its peak resident set size (`ru_maxrss`) is
its own. The model is a dense generator (128 -> 32x32x3, tanh) and a dense critic: cheap enough
that N = 100,000 takes minutes on two CPU cores, so the figures isolate what the library holds in
memory rather than a network's activations. `stream` is `streaming.refine_to_shards` (shards of
`--shard-size`); `predict` is `RefinementModel.predict`, which returns all N samples at once.

A second table times what streaming does with each shard's bytes through `tf.io.gfile`
(`dgflow_tf.storage`: an atomic write with fsync and SHA-256, then a read back) against the same
with plain Python files (`open`, `os.fsync`, `os.replace`, `hashlib`), interleaved, on local disk.
Results: benchmarks/results/streaming.{json,md}.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
LATENT_DIM = 128
IMAGE_SHAPE = (32, 32, 3)


def _model(num_steps):
    import keras

    from dgflow_tf import RefinementModel

    keras.utils.set_random_seed(0)
    generator = keras.Sequential(
        [
            keras.Input((LATENT_DIM,)),
            keras.layers.Dense(32 * 32 * 3, activation="tanh"),
            keras.layers.Reshape(IMAGE_SHAPE),
        ]
    )
    critic = keras.Sequential([keras.Input(IMAGE_SHAPE), keras.layers.Flatten(), keras.layers.Dense(1)])
    return RefinementModel(generator, critic, step_size=0.01, num_steps=num_steps, seed=0)


def child(args):
    """Runs one measurement in this process and prints it as JSON."""
    import numpy as np

    from dgflow_tf import streaming

    model = _model(args.num_steps)
    start = time.perf_counter()
    if args.method == "stream":
        directory = tempfile.mkdtemp(prefix="dgflow_stream_bench_")
        try:
            streaming.refine_to_shards(
                model,
                directory,
                args.num_samples,
                shard_size=args.shard_size,
                batch_size=args.batch_size,
                verbose=0,
            )
            seconds = time.perf_counter() - start
            disk = sum(os.path.getsize(os.path.join(directory, name)) for name in os.listdir(directory))
        finally:
            shutil.rmtree(directory)
    else:
        latents = model.sample_latents(args.num_samples, seed=0)
        samples = model.predict(latents, batch_size=args.batch_size, verbose=0)
        seconds = time.perf_counter() - start
        disk = 0
        assert np.isfinite(samples).all()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    print(json.dumps({"seconds": seconds, "peak_rss_bytes": peak, "disk_bytes": disk}))


def io_overhead(shard_size, repeats):
    """Median seconds to write (atomically, fsynced, hashed) and read back one shard, gfile vs plain."""
    import hashlib
    import io
    import statistics

    import numpy as np

    from dgflow_tf import storage

    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(0).standard_normal((shard_size, *IMAGE_SHAPE)).astype("float32"))
    data = buffer.getvalue()
    directory = tempfile.mkdtemp(prefix="dgflow_io_bench_")

    def plain(path):
        partial = path + ".partial"
        with open(partial, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
        digest = hashlib.sha256(data).hexdigest()
        with open(path, "rb") as file:
            loaded = np.load(io.BytesIO(file.read()), allow_pickle=False)
        return digest, loaded

    def gfile(path):
        digest = storage.write_atomically(path, data)
        loaded = np.load(io.BytesIO(storage.read_bytes(path)), allow_pickle=False)
        return digest, loaded

    times = {"plain": [], "gfile": []}
    try:
        for repeat in range(repeats):
            for name, function in (("plain", plain), ("gfile", gfile)):
                start = time.perf_counter()
                function(os.path.join(directory, f"{name}-{repeat}.npy"))
                times[name].append(time.perf_counter() - start)
    finally:
        shutil.rmtree(directory)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["gfile"] / medians["plain"]
    return {"shard_bytes": len(data), "repeats": repeats, **medians, "ratio": ratio}


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--methods", nargs="+", choices=["stream", "predict"], default=["stream", "predict"])
    parser.add_argument("--num-steps", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--shard-size", type=int, default=5000)
    parser.add_argument("--child", choices=["stream", "predict"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--num-samples", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--output", default=os.path.join(RESULTS, "streaming"))
    parser.add_argument("--io-repeats", type=int, default=7, help="repeats of the gfile/plain I/O timing")
    args = parser.parse_args()
    if args.child:
        args.method = args.child
        return child(args)

    rows = []
    for num_samples in args.sizes:
        for method in args.methods:
            command = [
                sys.executable,
                os.path.abspath(__file__),
                "--child",
                method,
                "--num-samples",
                str(num_samples),
                "--num-steps",
                str(args.num_steps),
                "--batch-size",
                str(args.batch_size),
                "--shard-size",
                str(args.shard_size),
            ]
            done = subprocess.run(
                command, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
            )
            if done.returncode != 0:
                row = {"method": method, "num_samples": num_samples, "error": done.stderr[-500:]}
            else:
                row = {
                    "method": method,
                    "num_samples": num_samples,
                    **json.loads(done.stdout.strip().splitlines()[-1]),
                }
            rows.append(row)
            print(json.dumps(row), flush=True)

    io_row = io_overhead(args.shard_size, args.io_repeats)
    print(json.dumps(io_row), flush=True)
    settings = {key: getattr(args, key) for key in ("num_steps", "batch_size", "shard_size")}
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output + ".json", "w", encoding="utf-8") as file:
        json.dump(
            {"settings": settings, "rows": rows, "io": io_row, "cpu_count": os.cpu_count()}, file, indent=2
        )
    lines = [
        "# Streaming: peak memory and time against N (32x32x3)",
        "",
        f"`python benchmarks/streaming.py --sizes {' '.join(map(str, args.sizes))}`; dense generator "
        f"(128 -> 32x32x3) and critic, K = {args.num_steps}, batch {args.batch_size}, shards of "
        f"{args.shard_size}, {os.cpu_count()} CPU cores, one fresh process per row.",
        "",
        "| method | N | seconds | microseconds per sample | peak RSS (MB) | on disk (MB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['method']} | {row['num_samples']} | failed | | | |")
            continue
        lines.append(
            f"| {row['method']} | {row['num_samples']:,} | {row['seconds']:.1f} | "
            f"{1e6 * row['seconds'] / row['num_samples']:.0f} | {row['peak_rss_bytes'] / 2**20:.0f} | "
            f"{row['disk_bytes'] / 2**20:.0f} |"
        )
    lines += [
        "",
        f"One shard ({io_row['shard_bytes'] / 2**20:.0f} MB) written atomically with fsync and SHA-256, then "
        f"read back, on local disk; medians of {io_row['repeats']} interleaved repeats:",
        "",
        "| I/O | seconds per shard |",
        "|---|---:|",
        f"| plain Python files | {io_row['plain']:.3f} |",
        f"| `tf.io.gfile` (`dgflow_tf.storage`, what streaming uses) | {io_row['gfile']:.3f} |",
        f"| ratio gfile / plain | {io_row['ratio']:.2f} |",
    ]
    with open(args.output + ".md", "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
