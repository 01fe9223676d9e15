"""The `dgflow-tf` command line.

    dgflow-tf refine          refine a saved generator's samples with a saved critic (.npy + PNG)
    dgflow-tf stream          refine any number of samples into checksummed .npy shards; resumable
    dgflow-tf evaluate        metrics of saved samples against reference data
    dgflow-tf sweep           choose the step size and number of steps on a tuning batch
    dgflow-tf export          write a SavedModel that refines latents inside its graph
    dgflow-tf demo            DGflow vs DOT, DDLS, DRS, MH-GAN on 2-D GANs (25 Gaussians, Swiss roll)
    dgflow-tf gaussian-demo   refine a 2-D Gaussian model whose refined law is known in closed form

Run `dgflow-tf COMMAND --help` for each command's options and defaults.
"""

import argparse
import os
import sys
import time


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _gaussian_demo(args, out):
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


def _demo(args, out):
    import numpy as np

    from dgflow_tf.experiments import synthetic
    from dgflow_tf.plotting import scatter_grid
    from dgflow_tf.zoo import toy_gans

    os.makedirs(args.output_dir, exist_ok=True)
    methods = args.methods or list(synthetic.METHODS)
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


def _add_demo(commands):
    from dgflow_tf import datasets
    from dgflow_tf.experiments.synthetic import METHODS

    demo = commands.add_parser(
        "demo",
        help="DGflow against DOT, DDLS, DRS and MH-GAN on 2-D GANs; tables and scatter plots",
        description=(
            "Load the shipped 2-D WGAN-GP and non-saturating GANs (or train them with --train), refine "
            "one latent batch with DGflow (KL, JS, logD; data and latent space) and with each baseline, "
            "and print one table per GAN and data set "
            "(high-quality %, modes, KDE score, exact OT distance to held-out data, evaluations "
            "per kept sample, seconds). Writes a scatter plot per table as PNG."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument(
        "--gans",
        nargs="+",
        default=list(GAN_TITLES),
        choices=list(GAN_TITLES),
        help="which 2-D GANs: WGAN-GP (the paper's Table 1 models) and the non-saturating GAN",
    )
    demo.add_argument(
        "--datasets", nargs="+", default=datasets.names(), choices=datasets.names(), help="data sets to run"
    )
    demo.add_argument("--methods", nargs="+", choices=METHODS, default=None, help="methods (default: all)")
    demo.add_argument("--num-samples", type=_positive_int, default=2000, help="samples per method")
    demo.add_argument("--seed", type=_non_negative_int, default=0, help="seed of latents, data and noise")
    demo.add_argument("--gan-seed", type=_non_negative_int, default=0, help="training seed of the GANs")
    demo.add_argument("--mh-chain-length", type=_positive_int, default=640, help="MH-GAN proposals per chain")
    demo.add_argument("--output-dir", default="dgflow_demo", help="where the PNG plots and samples go")
    demo.add_argument(
        "--weights-dir",
        default=None,
        help="directory of GAN weights (default: the ones shipped in the package)",
    )
    demo.add_argument("--train", action="store_true", help="train the GANs if their weights are missing")
    demo.add_argument("--quiet", action="store_true", help="no per-method progress lines on stderr")
    demo.set_defaults(handler=_demo)


# -- refine / evaluate / export -------------------------------------------------

CRITIC_KINDS = ("logit", "probability", "wasserstein")


def _load_models(args):
    """`(generator, critic)` from the shared model options; the generator is `None` without one."""
    from dgflow_tf import critics, loading

    generator = None
    if args.generator is not None:
        generator = loading.load_callable(
            args.generator,
            "generator",
            batch_size=args.hub_batch_size,
            safe_mode=not args.unsafe_deserialization,
        )
    critic_path = args.critic or args.generator
    if critic_path is None:
        raise ValueError("pass --critic (or --generator of a GAN module with a discriminator)")
    discriminator = loading.load_callable(
        critic_path,
        "discriminator",
        batch_size=args.hub_batch_size,
        safe_mode=not args.unsafe_deserialization,
    )
    critic = {
        "logit": critics.LogitCritic,
        "probability": critics.ProbabilityCritic,
        "wasserstein": lambda d: critics.WassersteinCritic(d, scale=args.critic_scale),
    }[args.critic_kind](discriminator)
    return generator, critic


def _refinement_model(args, generator, critic, **overrides):
    """A `RefinementModel` from the shared options, `overrides` (e.g. `step_size`) replacing them."""
    from dgflow_tf.refinement import RefinementModel

    latent_prior = args.latent_prior
    if latent_prior is None:
        # The prior a hub module's layout implies (compare_gan: uniform), else N(0, I).
        latent_prior = getattr(generator, "latent_prior", None) or "normal"
    latent_shape = getattr(generator, "sample_shape", None)
    conditional = bool(getattr(generator, "conditional", False)) or args.labels is not None
    settings = {
        "divergence": args.divergence,
        "step_size": args.step_size,
        "entropy_weight": args.entropy_weight,
        "num_steps": args.num_steps,
        **overrides,
    }
    return RefinementModel(
        generator,
        critic,
        space=args.space,
        seed=args.seed,
        latent_shape=latent_shape if latent_shape else None,
        latent_prior=latent_prior,
        boundary=args.boundary,
        conditional=conditional,
        on_nonfinite=args.on_nonfinite,
        **settings,
    )


def _build_model(args):
    """A `RefinementModel` from the shared model options."""
    return _refinement_model(args, *_load_models(args))


def _save_grid(base, refined, path):
    from dgflow_tf import plotting

    if refined.ndim == 2 and refined.shape[1] == 2:
        return plotting.scatter_grid({"base": base, "refined": refined}, path, title="DGflow refinement")
    if refined.ndim == 4 and refined.shape[-1] in (1, 3):
        count = min(64, len(refined))
        return plotting.image_grid({"base": base[:count], "refined": refined[:count]}, path)
    return None


def _refine(args, out):
    import json

    import numpy as np

    model = _build_model(args)
    os.makedirs(args.output_dir, exist_ok=True)
    if args.latents is not None:
        latents = np.load(args.latents)
    else:
        latents = model.sample_latents(args.num_samples, seed=args.latent_seed)
    inputs = latents
    if model.conditional:
        if args.labels is None:
            raise ValueError("the generator is conditional: pass --labels LABELS.npy")
        inputs = (latents, np.load(args.labels))
    print(
        f"Refining {len(latents)} samples: {model.divergence.name}, step size {model.step_size}, "
        f"entropy weight {model.entropy_weight}, {model.num_steps} steps, {model.space} space, "
        f"prior {model.latent_prior!r}, seed {model.seed}.",
        file=out,
    )
    start = time.perf_counter()
    refined = model.predict(inputs, batch_size=args.batch_size, verbose=0 if args.quiet else 1)
    seconds = time.perf_counter() - start
    base = latents if model.generator is None else model.generate(inputs, batch_size=args.batch_size)
    files = {"latents": latents, "base": base, "refined": refined}
    for name, array in files.items():
        np.save(os.path.join(args.output_dir, f"{name}.npy"), array)
    grid = _save_grid(files["base"], refined, os.path.join(args.output_dir, "refined.png"))
    settings = {key: value for key, value in vars(args).items() if key != "handler"}
    with open(os.path.join(args.output_dir, "run.json"), "w", encoding="utf-8") as file:
        json.dump({"settings": settings, "seconds": seconds, "samples": int(len(refined))}, file, indent=2)
    print(
        f"Wrote {', '.join(f'{name}.npy' for name in files)}, run.json"
        f"{', refined.png' if grid else ''} to {args.output_dir} ({seconds:.1f} s).",
        file=out,
    )
    return 0


def _stream(args, out):
    import numpy as np

    from dgflow_tf import streaming

    model = _build_model(args)
    latents = conditions = None
    if args.latents is not None:
        # Memory-mapped: only the shard being refined is read into memory.
        latents = np.load(args.latents, mmap_mode="r")
    if args.labels is not None:
        conditions = np.load(args.labels, mmap_mode="r")
        if latents is None:
            latents = model.sample_latents(len(conditions), seed=args.latent_seed)
    num_samples = None if latents is not None else args.num_samples
    total = len(latents) if latents is not None else num_samples
    print(
        f"Refining {total} samples into shards of {args.shard_size} in {args.output_dir}: "
        f"{model.divergence.name}, step size {model.step_size}, entropy weight {model.entropy_weight}, "
        f"{model.num_steps} steps, seed {model.seed}. An interrupted run resumes where it stopped.",
        file=out,
    )
    start = time.perf_counter()
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
    flagged = sum(len(shard["nonfinite"]["positions"]) for shard in manifest["shards"])
    print(
        f"{len(manifest['shards'])} shards, {manifest['num_samples']} samples in {args.output_dir} "
        f"({time.perf_counter() - start:.1f} s this run; {flagged} samples flagged non-finite). "
        "Load them with dgflow_tf.streaming.load_shards.",
        file=out,
    )
    return 0


def _evaluate(args, out):
    import json

    import numpy as np

    from dgflow_tf import datasets

    samples = np.load(args.samples)
    results = {"samples": args.samples, "num_samples": int(len(samples))}
    if samples.ndim == 2 and samples.shape[1] == 2:
        from dgflow_tf.experiments import synthetic

        # The demo's metrics: HQ % and modes (25 Gaussians), KDE score, exact OT distance.
        if args.reference in datasets.names():
            reference = synthetic.held_out_data(args.reference, args.num_reference, args.seed)
            results.update(synthetic.evaluate(samples, reference, datasets.canonical_name(args.reference)))
        else:
            results.update(synthetic.evaluate(samples, np.load(args.reference), dataset=None))
    elif samples.ndim == 4 and samples.shape[1:] == (8, 8, 1):
        from dgflow_tf.metrics import images as image_metrics
        from dgflow_tf.zoo import digits_classifier

        reference = datasets.digits() if args.reference == "digits" else np.load(args.reference)
        extractor = digits_classifier.feature_extractor(digits_classifier.load_digits_classifier()[0])
        subset = min(len(samples), len(reference), 1000)
        results.update(
            image_metrics.image_metrics(samples, reference, extractor, subset_size=subset, seed=args.seed)
        )
    else:
        raise ValueError(
            f"evaluate measures 2-D points [n, 2] or 8x8 digits [n, 8, 8, 1] offline; "
            f"got shape {list(samples.shape)}. For other images use dgflow_tf.metrics.images with "
            "your own feature extractor."
        )
    text = json.dumps(results, indent=2)
    print(text, file=out)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as file:
            file.write(text + "\n")
    return 0


def _export(args, out):
    model = _build_model(args)
    spec = None
    if model.conditional:
        import numpy as np
        import tensorflow as tf

        if args.labels is None:
            raise ValueError("the generator is conditional: pass --labels with example labels")
        labels = np.load(args.labels)
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
    from dgflow_tf.zoo import digits_classifier

    if reference.shape[1:] != (8, 8, 1):
        raise ValueError(
            f"--metric fid uses the shipped digits classifier, for 8x8 digits [n, 8, 8, 1]; the "
            f"reference has shape {list(reference.shape)}. Use --metric ot or kde."
        )
    extractor = digits_classifier.feature_extractor(digits_classifier.load_digits_classifier()[0])
    reference_features, _ = image_metrics.extract(extractor, reference)

    def fid(samples):
        features, _ = image_metrics.extract(extractor, np.asarray(samples, np.float32))
        return image_metrics.frechet_distance(features, reference_features)

    return "FID (digits classifier)", fid, False


def _load_reference(args):
    import numpy as np

    from dgflow_tf import datasets

    if args.reference in datasets.names():
        from dgflow_tf.experiments import synthetic

        return synthetic.held_out_data(args.reference, args.num_reference, args.latent_seed)
    if args.reference == "digits":
        return datasets.digits()
    return np.load(args.reference)


def _sweep(args, out):
    import json

    import numpy as np

    from dgflow_tf import tuning

    generator, critic = _load_models(args)
    base_model = _refinement_model(args, generator, critic)
    reference = _load_reference(args)
    name, score, higher_is_better = _sweep_score(args, reference)
    latents = np.load(args.latents) if args.latents is not None else None
    if latents is None:
        latents = base_model.sample_latents(args.num_samples, seed=args.latent_seed)
    inputs = latents
    if base_model.conditional:
        if args.labels is None:
            raise ValueError("the generator is conditional: pass --labels LABELS.npy")
        inputs = (latents, np.load(args.labels))
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
        lambda **settings: _refinement_model(args, generator, critic, **settings),
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


def _add_model_options(parser, need_generator=True):
    from dgflow_tf.priors import BOUNDARIES

    models = parser.add_argument_group("models")
    models.add_argument(
        "--generator",
        required=need_generator,
        default=None,
        help="generator: a .keras file, a SavedModel or hub module directory, or a TF-Hub URL",
    )
    models.add_argument(
        "--critic",
        default=None,
        help="critic (discriminator) in the same formats; default: the --generator module's discriminator",
    )
    models.add_argument(
        "--critic-kind",
        choices=CRITIC_KINDS,
        default="logit",
        help="what the critic outputs: GAN logits, sigmoid probabilities, or WGAN scores",
    )
    models.add_argument("--critic-scale", type=_positive_float, default=1.0, help="scale of a WGAN critic")
    models.add_argument(
        "--hub-batch-size",
        type=_positive_int,
        default=None,
        help="compare_gan modules: which bs<N> MetaGraph",
    )
    models.add_argument(
        "--labels", default=None, help=".npy of labels, one per sample, for conditional models"
    )
    models.add_argument(
        "--unsafe-deserialization",
        action="store_true",
        help="let .keras files run the Python code they contain (e.g. Lambda layers): only for trusted files",
    )
    flow = parser.add_argument_group("refinement (defaults: the paper's)")
    flow.add_argument("--divergence", choices=["KL", "JS", "logD", "chi2"], default="KL", help="f-divergence")
    flow.add_argument("--step-size", type=_positive_float, default=0.1, help="step size eta")
    flow.add_argument("--entropy-weight", type=_non_negative_float, default=0.01, help="entropy weight gamma")
    flow.add_argument("--num-steps", type=_non_negative_int, default=25, help="refinement steps K")
    flow.add_argument("--space", choices=["latent", "data"], default="latent", help="where to refine")
    flow.add_argument(
        "--latent-prior",
        choices=["normal", "uniform", "truncated_normal"],
        default=None,
        help="latent prior (default: uniform for compare_gan modules, normal otherwise)",
    )
    flow.add_argument(
        "--boundary",
        choices=BOUNDARIES,
        default="reflect",
        help="how bounded priors keep latents in their box",
    )
    flow.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the refinement noise")
    flow.add_argument(
        "--on-nonfinite",
        choices=["raise", "freeze"],
        default="raise",
        help="a sample that turns NaN/Inf: stop with an error listing it, or freeze it at its last "
        "finite state, warn and go on (streams record it in the manifest)",
    )


def _add_sampling_options(parser, num_samples, output_dir, output_help):
    """Which samples to refine, in what batches, and where the results go."""
    parser.add_argument(
        "--num-samples", type=_positive_int, default=num_samples, help="samples to draw and refine"
    )
    parser.add_argument("--latents", default=None, help=".npy of latents to refine instead of drawing them")
    parser.add_argument("--latent-seed", type=_non_negative_int, default=0, help="seed of the drawn latents")
    parser.add_argument("--batch-size", type=_positive_int, default=64, help="samples per batch")
    parser.add_argument("--output-dir", default=output_dir, help=output_help)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_model_commands(commands):
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
    _add_model_options(refine)
    _add_sampling_options(
        refine, num_samples=64, output_dir="dgflow_refined", output_help="where the outputs go"
    )
    refine.set_defaults(handler=_refine)

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
    _add_model_options(stream)
    _add_sampling_options(
        stream, num_samples=10000, output_dir="dgflow_shards", output_help="where the shards and manifest go"
    )
    stream.add_argument("--shard-size", type=_positive_int, default=1000, help="samples per shard file")
    stream.set_defaults(handler=_stream)

    evaluate = commands.add_parser(
        "evaluate",
        help="metrics of saved samples: HQ %, modes, KDE and OT for 2-D points, FID/KID/score for 8x8 digits",
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
        "--reference", default="digits", help="data set name (digits, 25gaussians, swissroll) or .npy"
    )
    evaluate.add_argument(
        "--num-reference", type=_positive_int, default=2000, help="2-D reference points drawn"
    )
    evaluate.add_argument(
        "--seed", type=_non_negative_int, default=0, help="seed of reference draws and KID subsets"
    )
    evaluate.add_argument("--output", default=None, help="also write the JSON here")
    evaluate.set_defaults(handler=_evaluate)

    sweep = commands.add_parser(
        "sweep",
        help="refine one batch at several step sizes and step counts; a table, a plot and the best",
        description=(
            "Choose --step-size and --num-steps for your model: refine one batch of latents at every "
            "step size and number of steps, score each result against reference data with --metric, "
            "stop a step size's longer runs once it diverges (NaN, or samples blown far from the "
            "reference), and write sweep.md, sweep.json and sweep.png to --output-dir. The model "
            "options are those of `refine`; their --step-size and --num-steps are replaced by the grid."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_model_options(sweep)
    _add_sampling_options(
        sweep, num_samples=500, output_dir="dgflow_sweep", output_help="where the table and plot go"
    )
    sweep.add_argument(
        "--reference",
        required=True,
        help="held-out data: a .npy, 'digits', or a 2-D data set name (25gaussians, swissroll)",
    )
    sweep.add_argument("--num-reference", type=_positive_int, default=2000, help="2-D reference points drawn")
    sweep.add_argument(
        "--metric",
        choices=["ot", "kde", "fid"],
        default="ot",
        help="exact OT distance (lower is better), KDE score (higher), or FID in the digits "
        "classifier's features (8x8 digits; lower)",
    )
    sweep.add_argument(
        "--kde-bandwidth", type=_positive_float, default=0.05, help="bandwidth of --metric kde"
    )
    sweep.add_argument(
        "--step-sizes",
        type=_positive_float,
        nargs="+",
        default=[0.001, 0.003, 0.01, 0.03, 0.1],
        help="step sizes to try",
    )
    sweep.add_argument(
        "--num-steps-grid",
        type=_positive_int,
        nargs="+",
        default=[10, 25, 50],
        help="numbers of steps to try",
    )
    sweep.set_defaults(handler=_sweep)

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
    _add_model_options(export)
    export.add_argument("--output-dir", default="dgflow_savedmodel", help="SavedModel directory to write")
    export.set_defaults(handler=_export)


def build_parser():
    """The argument parser of `dgflow-tf` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="dgflow-tf",
        description="Refine generative models' samples with Discriminator Gradient flow (DGflow).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_model_commands(commands)
    _add_demo(commands)
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
    demo.add_argument("--num-samples", type=_positive_int, default=5000, help="samples to refine")
    demo.add_argument("--num-steps", type=_non_negative_int, default=25, help="refinement steps K")
    demo.add_argument("--step-size", type=_positive_float, default=0.01, help="step size eta")
    demo.add_argument("--entropy-weight", type=_non_negative_float, default=0.01, help="entropy weight gamma")
    demo.add_argument("--batch-size", type=_positive_int, default=500, help="samples per batch")
    demo.add_argument("--seed", type=_non_negative_int, default=0, help="random seed")
    demo.set_defaults(handler=_gaussian_demo)
    return parser


def main(argv=None, out=None):
    """Entry point of `dgflow-tf`; returns the process exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args, out or sys.stdout)
    except (FileNotFoundError, ValueError, TypeError, KeyError, FloatingPointError) as error:
        # Bad input: the message names the argument and the fix; a traceback adds nothing.
        print(f"dgflow-tf {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
