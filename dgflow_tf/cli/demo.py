"""`dgflow-tf demo` and `gaussian-demo`: DGflow and the baselines on 2-D GANs, and a closed form."""

import argparse
import os
import sys
import time

from dgflow_tf.cli import options


def run_gaussian_demo(args, out):
    import numpy as np

    from dgflow_tf.errors import NonFiniteRefinementError
    from dgflow_tf.refinement import RefinementModel
    from dgflow_tf.zoo.gaussian import GaussianPair, gaussian_kl

    pair = GaussianPair(
        data_mean=[1.0, -0.5], data_std=[0.5, 0.7], model_mean=[0.0, 0.0], model_std=[1.0, 1.0]
    )
    latents = pair.sample_latents(args.num_samples, seed=args.seed)
    print(
        "DGflow demo: a 2-D Gaussian model N(0, I) refined toward data "
        f"N({pair.data_mean.tolist()}, diag({pair.data_std.tolist()})^2) with the exact log "
        f"density ratio as critic; {args.num_samples} samples, {args.num_steps} steps, "
        f"step size {args.step_size}, entropy weight {args.entropy_weight}, seed {args.seed}.",
        file=out,
    )
    header = f"{'method':<10} {'mean':>18} {'std':>18} {'KL(fit || data)':>16} {'seconds':>8}"
    print(header, file=out)
    print("-" * len(header), file=out)

    def row(name, samples, seconds):
        mean, std = samples.mean(axis=0), samples.std(axis=0)
        kl = gaussian_kl(mean, std, pair.data_mean, pair.data_std)
        print(
            f"{name:<10} {np.array2string(mean, precision=3):>18} "
            f"{np.array2string(std, precision=3):>18} {kl:>16.4f} {seconds:>8.2f}",
            file=out,
        )

    row("base", pair.generator(latents).numpy(), 0.0)
    for divergence in ("KL", "JS", "logD", "chi2"):
        model = RefinementModel(
            pair.generator,
            pair.log_ratio,
            divergence=divergence,
            step_size=args.step_size,
            entropy_weight=args.entropy_weight,
            num_steps=args.num_steps,
            seed=args.seed,
        )
        start = time.perf_counter()
        try:
            samples = model.predict(latents, batch_size=args.batch_size, verbose=0)
        except NonFiniteRefinementError as error:
            print(
                f"{'DGflow-' + divergence:<10} diverged: {len(error.sample_indices)} samples became "
                "NaN/Inf (an unbounded exact ratio; lower --step-size)",
                file=out,
            )
            continue
        row(f"DGflow-{divergence}", samples, time.perf_counter() - start)
    print(
        "KL(fit || data) is the KL divergence from a Gaussian fitted to the samples to the data "
        "distribution: lower is closer. The critic here is exact and unbounded, so the "
        "frozen-ratio flow overshoots over long horizons: the demo's step size (0.01) keeps the "
        "total time step_size * num_steps short, as refinement of a nearly-right model assumes.",
        file=out,
    )
    return 0


GAN_TITLES = {"wgan-gp": "WGAN-GP", "nsgan": "non-saturating GAN"}
MNIST_MODELS = ["dcgan", "sn-gan", "wgan-gp"]


def _settings_line(settings):
    """A compact line of each method's step size (or its one knob) for a demo table's caption."""
    parts = []
    for method, values in settings.items():
        knob = {
            k: v for k, v in values.items() if k in ("step_size", "learning_rate", "k_eff", "gamma_quantile")
        }
        if knob:
            parts.append(method + " " + ", ".join(f"{k}={v}" for k, v in knob.items() if v is not None))
    return "; ".join(parts)


def run_demo(args, out):
    import numpy as np

    from dgflow_tf.experiments import synthetic
    from dgflow_tf.plotting import scatter_grid
    from dgflow_tf.zoo import toy_gans

    os.makedirs(args.output_dir, exist_ok=True)
    methods = args.methods
    print(
        f"DGflow demo: {args.num_samples} samples per method, seed {args.seed}. Every gradient method "
        f"runs K = 25 steps (equal evaluations); DGflow's entropy weight is 0.01; MH-GAN runs "
        f"{args.mh_chain_length} proposals per chain and DRS {synthetic.DRS_BURN_IN} burn-in samples. "
        f"Step sizes were chosen on seed {synthetic.TUNING_SEED}, never on the seeds reported "
        "(benchmarks/results/synthetic_tuning_wgan-gp.md).",
        file=out,
    )
    for gan in args.gans:
        for dataset in args.datasets:
            start = time.perf_counter()
            generator, discriminator = toy_gans.load_toy_gan(
                dataset,
                gan,
                seed=args.gan_seed,
                directory=args.weights_dir,
                train_if_missing=args.train,
                verbose=1 if args.train else 0,
            )
            loaded = time.perf_counter() - start

            def progress(method, dataset=dataset, gan=gan):
                print(f"  [{gan} {dataset}] {method} ...", file=sys.stderr, flush=True)

            rows, samples = synthetic.compare(
                generator,
                discriminator,
                dataset,
                gan=gan,
                num_samples=args.num_samples,
                seed=args.seed,
                methods=methods,
                mh_chain_length=args.mh_chain_length,
                progress=None if args.quiet else progress,
            )
            title = f"{GAN_TITLES[gan]} on {dataset}"
            print(f"\n{title} (loaded or trained in {loaded:.1f} s)\n", file=out)
            print(synthetic.format_table(rows), file=out)
            settings = {m: synthetic.method_settings(m, gan, dataset) for m in methods}
            print(f"\nStep sizes: {_settings_line(settings)}", file=out)
            panels = {
                "held-out data": synthetic.held_out_data(dataset, args.num_samples, args.seed),
                **samples,
            }
            stem = os.path.join(args.output_dir, f"{gan}-{dataset}")
            scatter_grid(panels, stem + ".png", title=f"{title}: samples of each method")
            np.save(stem + "-samples.npy", np.stack(list(samples.values())))
            print(f"scatter plot: {stem}.png", file=out)
    print(
        "\nHQ %: samples within 4 std of the nearest mode. modes: modes with a high-quality sample. "
        f"KDE: mean log-likelihood of held-out data under a Gaussian KDE (bandwidth "
        f"{synthetic.KDE_BANDWIDTH}) of the samples, higher is better. OT (W1): exact earth mover's "
        "distance to held-out data, lower is better. G/D evals: generator/critic forward passes per "
        "kept sample (DRS and MH-GAN discard proposals). Rows without '-latent' refine in data space.",
        file=out,
    )
    return 0


MNIST_COLUMNS = (
    ("fid", "FID", "{:.2f}"),
    ("kid", "KID", "{:.3f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("score", "class. score", "{:.2f}"),
    ("generator_evals", "G evals", "{:.0f}"),
    ("seconds", "seconds", "{:.1f}"),
)


def run_mnist_demo(args, out):
    """Base and default DGflow on the shipped MNIST GANs, scored against the test set's shipped features."""
    from dgflow_tf.experiments import mnist
    from dgflow_tf.plotting import image_grid
    from dgflow_tf.zoo import mnist_models

    os.makedirs(args.output_dir, exist_ok=True)
    print(
        f"DGflow demo on MNIST: the shipped seed-0 GANs, {args.num_samples} samples per row, seed "
        f"{args.seed}. 'DGflow-KL (defaults)' is RefinementModel(generator, critic) with every default "
        "(step_size='auto', K = 25, gamma = 0.01); 'DGflow-KL (step ...)' uses the step chosen for that GAN "
        "on tuning seed 100 (benchmarks/results/mnist.md). Metrics are against the 10,000 MNIST test images, "
        "in the feature space of the shipped MNIST classifier (99.55 % test accuracy).",
        file=out,
    )
    header = f"{'model':<8} {'method':<22}" + "".join(f" {title:>12}" for _, title, _ in MNIST_COLUMNS)
    print("\n" + header + "\n" + "-" * len(header), file=out)
    for name in args.mnist_models:
        model = mnist_models.load_shipped_mnist_model(name)
        tuned_step = mnist.TUNED_STEP_SIZES[name]
        rows, samples = mnist.compare_mnist(
            model,
            ["base", "DGflow-KL (defaults)", "DGflow-KL"],
            seed=args.seed,
            num_samples=args.num_samples,
            settings={"DGflow-KL": {"step_size": tuned_step}},
            num_subsets=20,
            progress=None if args.quiet else lambda message: print(f"  [{message}] ...", file=sys.stderr),
        )
        tuned_label = f"DGflow-KL (step {tuned_step})"
        for row in rows:
            label = tuned_label if row["method"] == "DGflow-KL" else row["method"]
            cells = "".join(f" {fmt.format(row[key]):>12}" for key, _, fmt in MNIST_COLUMNS)
            print(f"{name:<8} {label:<22}{cells}", file=out)
        path = os.path.join(args.output_dir, f"mnist-{name}.png")
        image_grid(
            {
                "base": samples["base"][:64],
                "DGflow-KL (defaults)": samples["DGflow-KL (defaults)"][:64],
                tuned_label: samples["DGflow-KL"][:64],
            },
            path,
            title=f"MNIST {name}: the same 64 latents before and after refinement",
        )
        print(f"{'':<8} grid: {path}", file=out)
    print(
        "\nFID and KID: lower is better. Precision: share of samples on the test set's manifold; recall: "
        "share of test images on the samples' manifold (k = 3). Classifier score: exp(E KL(p(y|x) || p(y))), "
        "at most 10. G evals: generator (and critic) evaluations per sample.",
        file=out,
    )
    return 0


def _two_d_defaults():
    """The flags of the 2-D demo only, with their defaults: given with --data mnist they would do nothing."""
    from dgflow_tf import datasets
    from dgflow_tf.experiments.synthetic import METHODS

    return {
        "gans": ["wgan-gp"],
        "datasets": datasets.names(),
        "methods": list(METHODS),
        "gan_seed": 0,
        "mh_chain_length": 640,
        "weights_dir": None,
        "train": False,
    }


def _refuse_flags_of_the_other_demo(args):
    if args.data == "mnist":
        for name, default in _two_d_defaults().items():
            if getattr(args, name) != default:
                flag = "--" + name.replace("_", "-")
                raise ValueError(
                    f"{flag} applies to the 2-D demo, not --data mnist: drop it or drop --data mnist"
                )
    elif args.mnist_models != MNIST_MODELS:
        raise ValueError("--mnist-models applies to --data mnist: add --data mnist or drop --mnist-models")


def _run_demo(args, out):
    _refuse_flags_of_the_other_demo(args)
    if args.num_samples is None:
        args.num_samples = 1000 if args.data == "mnist" else 2000
    return run_mnist_demo(args, out) if args.data == "mnist" else run_demo(args, out)


def register(commands):
    """Adds the `demo` and `gaussian-demo` commands to the subparsers `commands`."""
    from dgflow_tf import datasets
    from dgflow_tf.experiments.synthetic import METHODS

    two_d = _two_d_defaults()  # the defaults --data mnist refuses to see changed
    demo = commands.add_parser(
        "demo",
        help="DGflow against DOT, DDLS, DRS and MH-GAN on 2-D GANs; tables and scatter plots",
        description=(
            "Load the shipped 2-D WGAN-GPs, the paper's Table 1 base models (add --gans nsgan for the "
            "non-saturating GANs; --train trains missing ones), refine "
            "one latent batch with DGflow (KL, JS, logD; data and latent space) and with each baseline, "
            "and print one table per GAN and data set "
            "(high-quality %, modes, KDE score, exact OT distance to held-out data, evaluations "
            "per kept sample, seconds). Writes a scatter plot per table as PNG. With --data mnist: the "
            "shipped MNIST conv GANs before and after default refinement, scored against the test set, "
            "with a PNG grid per model."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument(
        "--data",
        default="2d",
        choices=["2d", "mnist"],
        help="the 2-D GANs (the paper's Table 1) or the MNIST conv GANs (needs no MNIST files)",
    )
    demo.add_argument(
        "--mnist-models",
        nargs="+",
        default=list(MNIST_MODELS),
        choices=MNIST_MODELS,
        help="with --data mnist: which shipped GANs",
    )
    demo.add_argument(
        "--gans",
        nargs="+",
        default=two_d["gans"],
        choices=list(GAN_TITLES),
        help="which 2-D GANs: WGAN-GP (the paper's Table 1 models) and/or the non-saturating GAN (nsgan)",
    )
    demo.add_argument(
        "--datasets", nargs="+", default=two_d["datasets"], choices=datasets.names(), help="data sets to run"
    )
    demo.add_argument(
        "--methods", nargs="+", choices=METHODS, default=two_d["methods"], help="methods to run"
    )
    demo.add_argument(
        "--num-samples", type=options.positive_int, default=None, help="samples per method (2000; MNIST 1000)"
    )
    demo.add_argument(
        "--seed", type=options.non_negative_int, default=0, help="seed of latents, data and noise"
    )
    demo.add_argument(
        "--gan-seed",
        type=options.non_negative_int,
        default=two_d["gan_seed"],
        help="training seed of the GANs",
    )
    demo.add_argument(
        "--mh-chain-length",
        type=options.positive_int,
        default=two_d["mh_chain_length"],
        help="MH-GAN proposals per chain",
    )
    demo.add_argument("--output-dir", default="dgflow_demo", help="where the PNG plots and samples go")
    demo.add_argument(
        "--weights-dir",
        default=None,
        help="directory of GAN weights (default: the ones shipped in the package)",
    )
    demo.add_argument("--train", action="store_true", help="train the GANs if their weights are missing")
    demo.add_argument("--quiet", action="store_true", help="no per-method progress lines on stderr")
    demo.set_defaults(handler=_run_demo)

    # -- refine / evaluate / export -------------------------------------------------

    demo = commands.add_parser(
        "gaussian-demo",
        help="refine a 2-D Gaussian model with a closed-form critic and print before/after figures",
        description=(
            "Refine samples of a 2-D Gaussian model toward a different 2-D Gaussian 'data' "
            "distribution, with the exact log density ratio as critic, using every built-in "
            "divergence; print the samples' mean, standard deviation and KL divergence to the data. "
            "The exact closed-form answer for KL is in dgflow_tf.zoo.gaussian.GaussianPair."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument("--num-samples", type=options.positive_int, default=5000, help="samples to refine")
    demo.add_argument("--num-steps", type=options.non_negative_int, default=25, help="refinement steps K")
    demo.add_argument("--step-size", type=options.positive_float, default=0.01, help="step size eta")
    demo.add_argument(
        "--entropy-weight", type=options.non_negative_float, default=0.01, help="entropy weight gamma"
    )
    demo.add_argument("--batch-size", type=options.positive_int, default=500, help="samples per batch")
    demo.add_argument("--seed", type=options.non_negative_int, default=0, help="random seed")
    demo.set_defaults(handler=run_gaussian_demo)
