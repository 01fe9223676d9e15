"""Options shared by the `dgflow-tf` commands, their argument types, and the models they build.

Defaults and choice lists come from `dgflow_tf.config`, the one source of the
refinement's settings; reading them loads no TensorFlow, so `--help` is fast.
"""

import argparse

from dgflow_tf import config
from dgflow_tf.cli.files import given_latents, load_array

CRITIC_KINDS = ("logit", "probability", "wasserstein")
NO_LATENT_SHAPE = (
    "the generator does not declare its latent shape: pass --latent-shape (e.g. 128 or 4,4,8) "
    "or --latents FILE"
)


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def step_size(text):
    """`auto` or a positive number."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return positive_float(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"must be 'auto' or a positive number, got {text}") from None


def non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def load_models(args):
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
    if args.critic_scale != 1.0 and args.critic_kind != "wasserstein":
        # A logit or probability is already a calibrated log ratio: a scale would be dropped silently.
        raise ValueError(
            f"--critic-scale scales a WGAN critic's scores: it needs --critic-kind wasserstein "
            f"(got --critic-kind {args.critic_kind})"
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


def refinement_model(args, generator, critic, **overrides):
    """A `RefinementModel` from the shared options, `overrides` (e.g. `step_size`) replacing them."""
    from dgflow_tf.refinement import RefinementModel

    latent_prior = args.latent_prior
    if latent_prior is None:
        # The prior of a hub module's family (adapters.hub.family_prior), else N(0, I).
        latent_prior = getattr(generator, "latent_prior", None) or "normal"
    latent_shape = getattr(args, "latent_shape", None) or getattr(generator, "sample_shape", None)
    conditional = bool(getattr(generator, "conditional", False)) or args.labels is not None
    declared = getattr(generator, "inputs", None)
    if isinstance(declared, (list, tuple)) and len(declared) in (1, 2):
        conditional = len(declared) == 2  # a Keras model says whether it takes labels
    settings = {
        "divergence": args.divergence,
        "step_size": getattr(args, "step_size", config.DEFAULTS["step_size"]),
        "entropy_weight": args.entropy_weight,
        "num_steps": getattr(args, "num_steps", config.DEFAULTS["num_steps"]),
        "solver": args.solver,
        "step_schedule": args.step_schedule,
        "noise_distribution": args.noise_distribution,
        **overrides,
    }
    return RefinementModel(
        generator,
        critic,
        space=args.space,
        seed=getattr(args, "seed", 0),
        latent_shape=latent_shape if latent_shape else None,
        latent_prior=latent_prior,
        boundary=args.boundary,
        conditional=conditional,
        on_nonfinite=args.on_nonfinite,
        **settings,
    )


def describe_step_size(model, latents=None, conditions=None):
    """The step size for the run's first line: the number, and `(auto)` when the rule chose it."""
    import numpy as np

    from dgflow_tf import step_size as step_size_lib

    if step_size_lib.is_auto(model.config.step_size):
        probe = slice(0, step_size_lib.PROBE_SIZE)
        if latents is not None and not isinstance(latents, (tuple, list)):
            latents = np.asarray(latents[probe])
        elif isinstance(latents, (tuple, list)):  # a (latents, conditions) pair
            latents, conditions = np.asarray(latents[0][probe]), np.asarray(latents[1][probe])
        if conditions is not None:
            conditions = np.asarray(conditions[probe])
        return f"{model.resolve_step_size(latents, conditions):.4g} (auto)"
    return f"{model.step_size:g}"


def build_model(args):
    """A `RefinementModel` from the shared model options."""
    return refinement_model(args, *load_models(args))


def add_model_options(parser, need_generator=True, step_options=True, seed_option=True):
    """Adds the model and refinement options. `step_options=False` leaves out --step-size and
    --num-steps, for a command with a grid of its own (`sweep`); `seed_option=False` leaves out --seed,
    for a command whose output takes the seed as an input (`export`)."""
    models = parser.add_argument_group("models")
    models.add_argument(
        "--generator",
        required=need_generator,
        default=None,
        help="generator: a .keras file, a SavedModel or hub module directory, or a TF-Hub URL. A "
        "SavedModel or hub module is a program (TensorFlow runs its graph): load only trusted ones",
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
    models.add_argument(
        "--critic-scale",
        type=positive_float,
        default=1.0,
        help="scale of a WGAN critic's scores (with --critic-kind wasserstein)",
    )
    models.add_argument(
        "--hub-batch-size",
        type=positive_int,
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
    flow = parser.add_argument_group("refinement (defaults: the paper's, but an automatic step size)")
    defaults = config.DEFAULTS
    flow.add_argument(
        "--divergence", choices=config.DIVERGENCES, default=defaults["divergence"], help="f-divergence"
    )
    if step_options:
        flow.add_argument(
            "--step-size",
            type=step_size,
            default=defaults["step_size"],
            help="step size eta, or 'auto': set from the critic's gradients on a probe batch, no data needed",
        )
    flow.add_argument(
        "--solver",
        choices=config.SOLVERS,
        default=defaults["solver"],
        help="euler: the paper's Euler-Maruyama steps; mala: Metropolis-adjusted steps with a step size "
        "per sample, same cost per step; adaptive: Euler steps that shrink for each sample that overshoots",
    )
    flow.add_argument(
        "--step-schedule",
        choices=config.STEP_SCHEDULES,
        default=defaults["step_schedule"],
        help="constant: equal steps; linear: Euler's steps shrink to a tenth at the same total time "
        "(fewer steps for the same quality)",
    )
    flow.add_argument(
        "--noise-distribution",
        choices=config.NOISE_DISTRIBUTIONS,
        default=defaults["noise_distribution"],
        help="normal: the paper's noise; rademacher: +-1 signs of the same variance, cheaper to draw",
    )
    flow.add_argument(
        "--entropy-weight",
        type=non_negative_float,
        default=defaults["entropy_weight"],
        help="entropy weight gamma",
    )
    if step_options:
        flow.add_argument(
            "--num-steps", type=non_negative_int, default=defaults["num_steps"], help="refinement steps K"
        )
    flow.add_argument("--space", choices=config.SPACES, default=defaults["space"], help="where to refine")
    flow.add_argument(
        "--latent-prior",
        choices=config.PRIORS,
        default=None,
        help=(
            "latent prior (default: a hub module's family prior, uniform for compare_gan's model_N "
            "exports; normal otherwise)"
        ),
    )
    flow.add_argument(
        "--boundary",
        choices=config.BOUNDARIES,
        default=defaults["boundary"],
        help="how bounded priors keep latents in their box",
    )
    if seed_option:
        flow.add_argument("--seed", type=non_negative_int, default=0, help="seed of the refinement noise")
    flow.add_argument(
        "--on-nonfinite",
        choices=config.ON_NONFINITE_POLICIES,
        default=defaults["on_nonfinite"],
        help="a sample that turns NaN/Inf: stop with an error listing it, or freeze it at its last "
        "finite state, warn and go on (streams record it in the manifest)",
    )


def add_sampling_options(parser, num_samples, output_dir, output_help):
    """Which samples to refine, in what batches, and where the results go."""
    parser.add_argument(
        "--num-samples",
        type=non_negative_int,
        default=None,
        help=f"samples to draw and refine (default: {num_samples}, or the rows of --latents)",
    )
    parser.set_defaults(default_num_samples=num_samples)
    parser.add_argument("--latents", default=None, help=".npy of latents to refine instead of drawing them")
    parser.add_argument("--latent-seed", type=non_negative_int, default=0, help="seed of the drawn latents")
    add_latent_shape_option(parser)
    parser.add_argument("--batch-size", type=positive_int, default=64, help="samples per batch")
    parser.add_argument("--output-dir", default=output_dir, help=output_help)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_latent_shape_option(parser):
    """Adds --latent-shape, for generators that do not declare the shape of their latents."""
    parser.add_argument(
        "--latent-shape",
        type=shape,
        default=None,
        help="per-sample latent shape, e.g. 128 or 4,4,8, for generators that do not declare it "
        "(conditional .keras generators, plain functions)",
    )


def shape(text):
    """An argparse type: `128` or `4,4,8` as a tuple of positive ints."""
    try:
        dims = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be positive integers separated by commas, got {text}"
        ) from None
    if not dims or min(dims) <= 0:
        raise argparse.ArgumentTypeError(f"must be positive integers separated by commas, got {text}")
    return dims


def sampling_inputs(args, model):
    """The inputs `refine`/`sweep` refine and the latents they start from, checked before any output.

    Returns:
        `(inputs, latents)`: `latents` or `(latents, labels)` for a conditional model, and the latents.

    Raises:
        ValueError: for --num-samples that disagrees with --latents, a conditional model without
            --labels (or labels given to an unconditional one), labels of another length, or drawn
            latents of an unknown shape.
    """
    latents = given_latents(args)
    if latents is None:
        if model.latent_shape is None:
            raise ValueError(NO_LATENT_SHAPE)
        count = args.default_num_samples if args.num_samples is None else args.num_samples
        latents = model.sample_latents(count, seed=args.latent_seed)
    check_labels_flag(args, model)
    if not model.conditional:
        return latents, latents
    labels = load_array(args.labels, "--labels")
    if len(labels) != len(latents):
        raise ValueError(f"--labels {args.labels} holds {len(labels)} labels for {len(latents)} latents")
    return (latents, labels), latents


def check_labels_flag(args, model):
    """Raises `ValueError` unless --labels is given exactly when the generator is conditional."""
    if model.conditional != (args.labels is not None):
        raise ValueError(
            "the generator is conditional: pass --labels LABELS.npy with one label per sample"
            if model.conditional
            else "--labels was given but the generator takes one input: drop --labels"
        )
