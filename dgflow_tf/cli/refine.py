"""`dgflow-tf refine`, `stream` and `export`: refine saved models' samples, or export the refiner."""

import argparse
import os
import time
import warnings

from dgflow_tf import config
from dgflow_tf.cli import files, options


def _save_grid(base, refined, path):
    from dgflow_tf import plotting

    if len(refined) == 0:
        return None  # nothing to draw
    if refined.ndim == 2 and refined.shape[1] == 2:
        return plotting.scatter_grid({"base": base, "refined": refined}, path, title="DGflow refinement")
    if refined.ndim == 4 and refined.shape[-1] in (1, 3):
        count = min(64, len(refined))
        return plotting.image_grid({"base": base[:count], "refined": refined[:count]}, path)
    return None


STRATEGIES = ("default", "mirrored", "multi-worker")


def make_strategy(name, collective_timeout=None):
    """The `tf.distribute` strategy named by `--strategy`; build it before any other TensorFlow work.

    A multi-worker strategy's collectives time out after `collective_timeout` seconds, so a worker
    that stops answering (pre-empted, hung) ends the run with `WorkerLostError` instead of a wait
    without end.
    """
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError(
                "--strategy multi-worker reads the cluster from the TF_CONFIG environment variable: set it "
                "on every worker (docs: Streaming and tf.distribute), or use --strategy mirrored"
            )
        communication = tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=communication)
    return tf.distribute.get_strategy()


def run_refine(args, out):
    import json

    import tensorflow.io.gfile as tf_io

    from dgflow_tf import storage

    model = options.build_model(args)
    inputs, latents = options.sampling_inputs(args, model)
    files.check_output_directory(args.output_dir)
    if args.calibrate is not None:
        real = files.load_array(args.calibrate, "--calibrate")
        size = min(len(real), args.calibrate_samples)
        print(f"Calibrating the step size on {size} samples of {args.calibrate}...", file=out)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = model.calibrate(real, num_samples=args.calibrate_samples, verbose=0 if args.quiet else 1)
        print(table.to_markdown(), file=out)
        for warning in caught:
            print(f"Note: {warning.message}", file=out)
    print(
        f"Refining {len(latents)} samples: {model.divergence.name}, "
        f"step size {options.describe_step_size(model, inputs)}, "
        f"entropy weight {model.entropy_weight}, {model.num_steps} steps, {model.space} space, "
        f"prior {model.latent_prior!r}, seed {model.seed}.",
        file=out,
    )
    start = time.perf_counter()
    refined = model.predict(inputs, batch_size=args.batch_size, verbose=0 if args.quiet else 1)
    seconds = time.perf_counter() - start
    base = latents if model.generator is None else model.generate(inputs, batch_size=args.batch_size)
    arrays = {"latents": latents, "base": base, "refined": refined}
    tf_io.makedirs(args.output_dir)
    for name, array in arrays.items():
        files.save_array(storage.join(args.output_dir, f"{name}.npy"), array)
    grid = None
    if storage.is_local(args.output_dir):  # matplotlib writes local files
        grid = _save_grid(arrays["base"], refined, os.path.join(args.output_dir, "refined.png"))
    settings = {key: value for key, value in vars(args).items() if key != "handler"}
    record = {"settings": settings, "seconds": seconds, "samples": int(len(refined))}
    storage.write_atomically(storage.join(args.output_dir, "run.json"), json.dumps(record, indent=2).encode())
    print(
        f"Wrote {', '.join(f'{name}.npy' for name in arrays)}, run.json"
        f"{', refined.png' if grid else ''} to {args.output_dir} ({seconds:.1f} s).",
        file=out,
    )
    return 0


def run_stream(args, out):

    from dgflow_tf import streaming

    # A multi-worker strategy must exist before TensorFlow runs anything else.
    strategy = make_strategy(args.strategy, args.collective_timeout)
    model = options.build_model(args)
    # Memory-mapped: only the shard being refined is read into memory.
    latents, conditions = files.given_latents(args, memory_map=True), None
    options.check_labels_flag(args, model)
    if latents is None and model.latent_shape is None:
        raise ValueError(options.NO_LATENT_SHAPE)
    if args.labels is not None:
        conditions = files.load_array(args.labels, "--labels", memory_map=True)
        if latents is None:
            latents = model.sample_latents(len(conditions), seed=args.latent_seed)
    num_samples = (
        None
        if latents is not None
        else (args.default_num_samples if args.num_samples is None else args.num_samples)
    )
    total = len(latents) if latents is not None else num_samples
    files.check_output_directory(args.output_dir)
    print(
        f"Refining {total} samples into shards of {args.shard_size} in {args.output_dir}: "
        f"{model.divergence.name}, step size {options.describe_step_size(model, latents, conditions)}, "
        f"entropy weight {model.entropy_weight}, {model.num_steps} steps, seed {model.seed}. "
        "An interrupted run resumes where it stopped.",
        file=out,
    )
    start = time.perf_counter()
    with strategy.scope():
        manifest = streaming.refine_to_shards(
            model,
            args.output_dir,
            num_samples,
            latents=latents,
            conditions=conditions,
            latent_seed=args.latent_seed,
            shard_size=args.shard_size,
            batch_size=args.batch_size,
            verbose=0 if args.quiet else 1,
        )
    if manifest is None:  # a worker that cannot see the chief's directory
        print(f"This worker's part of the run is done; the chief wrote {args.output_dir}.", file=out)
        return 0
    flagged = sum(len(shard["nonfinite"]["positions"]) for shard in manifest["shards"])
    print(
        f"{len(manifest['shards'])} shards, {manifest['num_samples']} samples in {args.output_dir} "
        f"({time.perf_counter() - start:.1f} s this run; {flagged} samples flagged non-finite). "
        "Load them with dgflow_tf.streaming.load_shards.",
        file=out,
    )
    return 0


def run_export(args, out):
    model = options.build_model(args)
    spec = None
    if model.conditional:
        import tensorflow as tf

        if args.labels is None:
            raise ValueError("the generator is conditional: pass --labels with example labels")
        labels = files.load_array(args.labels, "--labels")
        spec = tf.TensorSpec([None, *labels.shape[1:]], tf.as_dtype(labels.dtype))
    model.export(args.output_dir, verbose=False, **({"condition_spec": spec} if spec is not None else {}))
    arguments = "z, labels, seed" if model.conditional else "z, seed"
    print(
        f"Wrote a SavedModel to {args.output_dir}. Serve it without dgflow_tf:\n"
        f"  loaded = tf.saved_model.load({args.output_dir!r})\n"
        f"  samples = loaded.serve({arguments})  # z: [n, {', '.join(map(str, model.latent_shape))}] "
        f"{model.compute_dtype}, seed: int64 scalar",
        file=out,
    )
    return 0


def register(commands):
    """Adds the `refine`, `stream` and `export` commands to the subparsers `commands`."""
    refine = commands.add_parser(
        "refine",
        help="refine a saved generator's samples with a saved critic; writes .npy files and a PNG",
        description=(
            "Draw latents from the prior (or load --latents), refine them with DGflow using the "
            "critic, and write latents.npy, base.npy (unrefined samples), refined.npy, run.json "
            "and refined.png (an image grid, or a scatter plot for 2-D samples) to --output-dir."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    options.add_model_options(refine)
    options.add_sampling_options(
        refine, num_samples=64, output_dir="dgflow_refined", output_help="where the outputs go"
    )
    refine.add_argument(
        "--calibrate",
        default=None,
        metavar="REAL.npy",
        help="real samples (.npy, the generator's output shape): choose the step size that refines a "
        "tuning batch best against them by optimal-transport distance, never worse than no refinement",
    )
    refine.add_argument(
        "--calibrate-samples",
        type=options.positive_int,
        default=config.CALIBRATION_SAMPLES,
        metavar="N",
        help="the tuning batch's size for --calibrate (one refinement of N samples per step size tried; "
        "lower it for a large model)",
    )
    refine.set_defaults(handler=run_refine)

    stream = commands.add_parser(
        "stream",
        help="refine any number of samples into checksummed .npy shards; rerun to resume after a kill",
        description=(
            "Refine --num-samples samples drawn from the prior (or --latents) shard by shard into "
            "--output-dir: shard-NNNNN.npy files, each written atomically, and manifest.json with the "
            "seeds, settings and each shard's SHA-256. Memory holds one shard at a time. Running the "
            "same command again verifies the finished shards and refines only the missing ones; the "
            "result is identical to an uninterrupted run."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    options.add_model_options(stream)
    options.add_sampling_options(
        stream, num_samples=10000, output_dir="dgflow_shards", output_help="where the shards and manifest go"
    )
    stream.add_argument(
        "--shard-size", type=options.positive_int, default=1000, help="samples per shard file"
    )
    stream.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="default",
        help=(
            "tf.distribute strategy: mirrored spreads each shard over this machine's GPUs "
            "(--batch-size per replica); multi-worker over the workers in TF_CONFIG (run the same "
            "command on every worker; the chief writes)"
        ),
    )
    stream.add_argument(
        "--collective-timeout",
        type=options.positive_float,
        default=600.0,
        help="multi-worker: seconds a collective waits for the other workers before the run stops with "
        "an error naming the lost worker (finished shards are kept; rerun to resume)",
    )
    stream.set_defaults(handler=run_stream)

    export = commands.add_parser(
        "export",
        help="write a SavedModel whose `serve(z, seed)` refines latents inside the graph",
        description=(
            "Build the refinement model from the model options and export it with "
            "RefinementModel.export: a SavedModel that tf.saved_model.load serves without dgflow_tf, "
            "returning exactly what `dgflow-tf refine` returns for the same latents and seed."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    # No --seed: the SavedModel's serve(z, seed) takes the seed with every call.
    options.add_model_options(export, seed_option=False)
    options.add_latent_shape_option(export)
    export.add_argument("--output-dir", default="dgflow_savedmodel", help="SavedModel directory to write")
    export.set_defaults(handler=run_export)
