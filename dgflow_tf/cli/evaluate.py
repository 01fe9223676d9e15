"""`dgflow-tf evaluate` and `sweep`: measure samples, choose the step size and number of steps."""

import argparse
import os
import sys

from dgflow_tf.cli import files, options


def run_evaluate(args, out):
    import json

    from dgflow_tf import datasets

    samples = files.load_array(args.samples, "samples")
    results = {"samples": args.samples, "num_samples": int(len(samples))}
    if args.reference is None:
        defaults = {(8, 8, 1): "digits", (28, 28, 1): "mnist"}
        if samples.ndim == 2 and samples.shape[1] == 2:
            raise ValueError(
                "--reference is needed for 2-D points: 25gaussians, swissroll or a .npy of real points"
            )
        args.reference = defaults.get(samples.shape[1:])
    if samples.ndim == 2 and samples.shape[1] == 2:
        from dgflow_tf.experiments import synthetic

        # The demo's metrics: HQ % and modes (25 Gaussians), KDE score, exact OT distance.
        if args.reference in datasets.names():
            reference = synthetic.held_out_data(args.reference, args.num_reference, args.seed)
            results.update(synthetic.evaluate(samples, reference, datasets.canonical_name(args.reference)))
        else:
            results.update(
                synthetic.evaluate(samples, files.load_array(args.reference, "--reference"), dataset=None)
            )
    elif samples.ndim == 4 and samples.shape[1:] == (8, 8, 1):
        from dgflow_tf.metrics import images as image_metrics
        from dgflow_tf.zoo import digits_classifier

        reference = (
            datasets.digits()
            if args.reference == "digits"
            else files.load_array(args.reference, "--reference")
        )
        extractor = digits_classifier.feature_extractor(digits_classifier.load_digits_classifier()[0])
        subset = min(len(samples), len(reference), 1000)
        results.update(
            image_metrics.image_metrics(samples, reference, extractor, subset_size=subset, seed=args.seed)
        )
    elif samples.ndim == 4 and samples.shape[1:] == (28, 28, 1):
        from dgflow_tf.metrics.mnist import mnist_metrics

        # "mnist": the shipped statistics of MNIST's 10,000 test images, no data needed.
        reference = None if args.reference == "mnist" else files.load_array(args.reference, "--reference")
        subset = min(len(samples), 1000 if reference is None else min(len(reference), 1000))
        results.update(mnist_metrics(samples, reference, subset_size=subset, seed=args.seed))
    else:
        raise ValueError(
            f"evaluate measures 2-D points [n, 2], 8x8 digits [n, 8, 8, 1] or MNIST images [n, 28, 28, 1] "
            f"offline; got shape {list(samples.shape)}. For other images use dgflow_tf.metrics.images "
            "with your own feature extractor."
        )
    text = json.dumps(results, indent=2)
    print(text, file=out)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as file:
            file.write(text + "\n")
    return 0


def _sweep_score(args, reference):
    """The metric `dgflow-tf sweep` ranks settings by: `(name, score function, higher_is_better)`."""
    import numpy as np

    from dgflow_tf import metrics

    flat_reference = reference.reshape(len(reference), -1)
    if args.metric == "ot":
        return "OT (W1)", lambda x: metrics.ot_distance(x.reshape(len(x), -1), flat_reference), False
    if args.metric == "kde":
        bandwidth = args.kde_bandwidth
        return (
            f"KDE (bandwidth {bandwidth})",
            lambda x: metrics.kde_score(x.reshape(len(x), -1), flat_reference, bandwidth=bandwidth),
            True,
        )
    from dgflow_tf.metrics import images as image_metrics
    from dgflow_tf.zoo import digits_classifier, mnist_classifier

    if reference.shape[1:] == (8, 8, 1):
        name, extractor = (
            "digits",
            digits_classifier.feature_extractor(digits_classifier.load_digits_classifier()[0]),
        )
    elif reference.shape[1:] == (28, 28, 1):
        name, extractor = "MNIST", mnist_classifier.mnist_extractor()
    else:
        raise ValueError(
            f"--metric fid uses a shipped classifier, for 8x8 digits [n, 8, 8, 1] or MNIST [n, 28, 28, 1]; "
            f"the reference has shape {list(reference.shape)}. Use --metric ot or kde."
        )
    reference_features, _ = image_metrics.extract(extractor, reference)

    def fid(samples):
        features, _ = image_metrics.extract(extractor, np.asarray(samples, np.float32))
        return image_metrics.frechet_distance(features, reference_features)

    return f"FID ({name} classifier)", fid, False


def _load_reference(args):
    from dgflow_tf import datasets

    if args.reference in datasets.names():
        from dgflow_tf.experiments import synthetic

        return synthetic.held_out_data(args.reference, args.num_reference, args.latent_seed)
    if args.reference == "digits":
        return datasets.digits()
    if args.reference == "mnist":
        return datasets.mnist("test")
    return files.load_array(args.reference, "--reference")


def run_sweep(args, out):
    import json

    from dgflow_tf import tuning

    generator, critic = options.load_models(args)
    first = {"step_size": args.step_sizes[0], "num_steps": args.num_steps_grid[0]}
    base_model = options.refinement_model(args, generator, critic, **first)
    reference = _load_reference(args)
    name, score, higher_is_better = _sweep_score(args, reference)
    inputs, latents = options.sampling_inputs(args, base_model)
    files.check_output_directory(args.output_dir)
    os.makedirs(args.output_dir, exist_ok=True)
    print(
        f"Sweeping {len(latents)} samples: step sizes {args.step_sizes} x steps {args.num_steps_grid}, "
        f"{base_model.divergence.name}, entropy weight {base_model.entropy_weight}, {base_model.space} "
        f"space, seed {base_model.seed}; ranked by {name}.",
        file=out,
    )

    def progress(row):
        if not args.quiet:
            print(
                f"  step size {row['step_size']:g}, {row['num_steps']} steps: {row['status']} "
                f"{row['score']:.4g} ({row['seconds']:.1f} s)",
                file=sys.stderr,
                flush=True,
            )

    result = tuning.sweep(
        lambda **settings: _Batched(options.refinement_model(args, generator, critic, **settings), args),
        inputs,
        score,
        step_sizes=args.step_sizes,
        num_steps=args.num_steps_grid,
        metric=name,
        higher_is_better=higher_is_better,
        reference=reference,
        progress=progress,
    )
    table = result.to_markdown()
    result.plot(os.path.join(args.output_dir, "sweep.png"))
    with open(os.path.join(args.output_dir, "sweep.md"), "w", encoding="utf-8") as file:
        file.write(table + "\n")
    with open(os.path.join(args.output_dir, "sweep.json"), "w", encoding="utf-8") as file:
        json.dump({"metric": name, "higher_is_better": higher_is_better, "rows": result.rows}, file, indent=1)
    print(table, file=out)
    best = result.best
    print(
        f"\nBest: --step-size {best['step_size']:g} --num-steps {best['num_steps']} ({name} "
        f"{best['score']:.4g}). Wrote sweep.md, sweep.json and sweep.png to {args.output_dir}. Choose on "
        "a tuning batch and report on other latents and held-out data.",
        file=out,
    )
    return 0


class _Batched:
    """What `tuning.sweep` refines with: the model's `predict`, --batch-size samples at a time."""

    def __init__(self, model, args):
        self.model, self.batch_size = model, args.batch_size

    def refine(self, inputs):
        return self.model.predict(inputs, batch_size=self.batch_size, verbose=0)


def register(commands):
    """Adds the `evaluate` and `sweep` commands to the subparsers `commands`."""
    evaluate = commands.add_parser(
        "evaluate",
        help="metrics of saved samples: HQ %%, modes, KDE and OT for 2-D points; FID, KID, score for digits",
        description=(
            "Measure samples saved as .npy against reference data, offline. 2-D points [n, 2]: the "
            "demo's metrics (high-quality % and modes for 25gaussians, KDE score, exact OT "
            "distance) against held-out draws of a data set (25gaussians, swissroll) or a reference "
            ".npy. 8x8 digits [n, 8, 8, 1] in [-1, 1]: FID, KID and classifier score in the shipped "
            "digits classifier's features, against scikit-learn's digits or a reference .npy. "
            "Prints JSON."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    evaluate.add_argument("samples", help=".npy of samples, e.g. refined.npy from `dgflow-tf refine`")
    evaluate.add_argument(
        "--reference",
        default=None,
        help="data set name (25gaussians, swissroll, digits, mnist) or .npy; default: digits for 8x8 images, "
        "mnist (the shipped statistics of its test set, no data needed) for 28x28",
    )
    evaluate.add_argument(
        "--num-reference", type=options.positive_int, default=2000, help="2-D reference points drawn"
    )
    evaluate.add_argument(
        "--seed", type=options.non_negative_int, default=0, help="seed of reference draws and KID subsets"
    )
    evaluate.add_argument("--output", default=None, help="also write the JSON here")
    evaluate.set_defaults(handler=run_evaluate)

    sweep = commands.add_parser(
        "sweep",
        help="refine one batch at several step sizes and step counts; a table, a plot and the best",
        description=(
            "Choose --step-size and --num-steps for your model: refine one batch of latents at every "
            "step size and number of steps, score each result against reference data with --metric, "
            "stop a step size's longer runs once it diverges (NaN, or samples blown far from the "
            "reference), and write sweep.md, sweep.json and sweep.png to --output-dir. The model "
            "options are those of `refine`, but --step-size and --num-steps take several values here "
            "(--step-sizes and --num-steps-grid are the same flags)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    options.add_model_options(sweep, step_options=False)
    options.add_sampling_options(
        sweep, num_samples=500, output_dir="dgflow_sweep", output_help="where the table and plot go"
    )
    sweep.add_argument(
        "--reference",
        required=True,
        help="held-out data: a .npy, 'digits', 'mnist' (its test split, from DGFLOW_TF_MNIST_DIR or Keras), "
        "or a 2-D data set name (25gaussians, swissroll)",
    )
    sweep.add_argument(
        "--num-reference", type=options.positive_int, default=2000, help="2-D reference points drawn"
    )
    sweep.add_argument(
        "--metric",
        choices=["ot", "kde", "fid"],
        default="ot",
        help="exact OT distance (lower is better), KDE score (higher), or FID in the digits "
        "classifier's features (8x8 digits; lower)",
    )
    sweep.add_argument(
        "--kde-bandwidth", type=options.positive_float, default=0.05, help="bandwidth of --metric kde"
    )
    sweep.add_argument(
        "--step-sizes",
        "--step-size",
        type=options.positive_float,
        nargs="+",
        default=[0.001, 0.003, 0.01, 0.03, 0.1],
        help="step sizes to try",
    )
    sweep.add_argument(
        "--num-steps-grid",
        "--num-steps",
        type=options.positive_int,
        nargs="+",
        default=[10, 25, 50],
        help="numbers of steps to try",
    )
    sweep.set_defaults(handler=run_sweep)
