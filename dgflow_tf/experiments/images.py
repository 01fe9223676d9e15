"""DGflow on digits: five reference models, their critics or correctors, classifier FID.

For one seed, `compare_digits` trains (or loads) the five digits models of
`dgflow_tf.zoo.digits_models`, draws the same latents for every method and
measures each method's samples against all 1,797 digits with the offline
digits classifier's features and logits (FID, KID with its standard error,
classifier score). Its rows:

- DCGAN and SN-DCGAN: `base`, `DGflow` with the model's own discriminator
  logit, `DGflow+corrector` (own logit plus a corrector `c`), and `DOT` and
  `DDLS` with the own logit at DGflow's number of steps;
- VAE, flow and MMD-GAN, which have no scalar log ratio: `base`,
  `DGflow+corrector` with `d = d_pre + c` where `d_pre` is the same seed's
  SN-DCGAN discriminator (the paper's recipe, METHOD.md section 4), and
  `DGflow (c only)` with a corrector trained without `d_pre`; the flow also
  gets `DGflow+corrector (data space)`, refining its samples directly.

Correctors are trained on 1,797 fresh model samples (latents seeded apart
from the evaluation latents) against the 1,797 digits.

Examples:
    >>> rows, samples = compare_digits(
    ...     0, models=["vae"], num_samples=200, epochs=1, corrector_settings={"epochs": 2}
    ... )
    >>> [row["method"] for row in rows]
    ['base', 'DGflow+corrector', 'DGflow (c only)']
"""

import time

import numpy as np

from dgflow_tf import datasets
from dgflow_tf.baselines import DDLS, DOT
from dgflow_tf.corrector import train_corrector
from dgflow_tf.errors import NonFiniteRefinementError
from dgflow_tf.metrics import images as image_metrics
from dgflow_tf.refinement import RefinementModel
from dgflow_tf.zoo import digits_classifier, digits_models

#: DGflow in latent space at the paper's gamma and K. The step is 10x below the paper's
#: CIFAR-10 default: on seed 0, eta 0.01 improved every model while 0.03 diverged for the
#: flow and hurt the GANs (see the sweep in benchmarks/results/images.md).
DGFLOW_SETTINGS = {"space": "latent", "step_size": 0.01, "entropy_weight": 0.01, "num_steps": 25}
#: The flow's data-space row: pixels are steeper than latents, so a smaller step.
FLOW_DATA_SETTINGS = {"space": "data", "step_size": 0.003, "entropy_weight": 0.01, "num_steps": 25}
#: DOT (latent space, Tanaka's optimiser) and DDLS at DGflow's number of steps.
DOT_SETTINGS = {"space": "latent", "num_steps": 25, "learning_rate": 0.01}
DDLS_SETTINGS = {"num_steps": 25, "step_size": 0.01}
CORRECTOR_SETTINGS = {"epochs": 200, "patience": 10, "validation_split": 0.2}

# Offsets that keep the evaluation's random streams apart from training (seed) and each other.
_LATENTS, _CORRECTOR_SAMPLES = 30_000, 50_000


def methods_for(model_name):
    """The method rows `compare_digits` produces for a model."""
    if model_name in ("dcgan", "sn-dcgan"):
        return ["base", "DGflow", "DGflow+corrector", "DOT", "DDLS"]
    rows = ["base", "DGflow+corrector", "DGflow (c only)"]
    if model_name == "flow":
        rows.append("DGflow+corrector (data space)")
    return rows


def compare_digits(
    seed,
    *,
    models=digits_models.NAMES,
    num_samples=2000,
    cache_dir=None,
    epochs=None,
    dgflow_settings=None,
    corrector_settings=None,
    methods=None,
    progress=None,
):
    """Trains or loads the digits models of `seed` and measures every method.

    Args:
        seed: int >= 0; the training seed of every model and corrector, and
            the key of the evaluation latents and refinement noise.
        models: names from `digits_models.NAMES`. Defaults to all five.
        num_samples: generated samples per method. Defaults to `2000`.
        cache_dir: directory where trained models are saved and reloaded
            (so an interrupted benchmark resumes), or `None`.
        epochs: override of every model's training epochs (for quick runs);
            not used for models loaded from `cache_dir`.
        dgflow_settings: overrides of `DGFLOW_SETTINGS`.
        corrector_settings: overrides of `CORRECTOR_SETTINGS` (keyword
            arguments of `critics.train_corrector`).
        methods: optional subset of method names to run (e.g. a sweep's
            DGflow rows); `None` runs every row of `methods_for(model)`.
        progress: optional callable `(message) -> None`.

    Returns:
        `(rows, samples)`: a list of dicts (model, method, fid, kid, kid_std,
        score, score_std, diverged, generator_evals, critic_evals, seconds)
        and a dict `{(model, method): images}`. A DGflow row whose
        refinement produced NaN/Inf has NaN metrics, `diverged` set to the
        number of bad samples, and no images.
    """
    models = [digits_models.canonical_name(name) for name in models]
    settings = {**DGFLOW_SETTINGS, **(dgflow_settings or {})}
    corrector_settings = {**CORRECTOR_SETTINGS, **(corrector_settings or {})}
    say = progress or (lambda message: None)
    classifier, _ = digits_classifier.load_digits_classifier()
    extractor = digits_classifier.feature_extractor(classifier)
    real = datasets.digits()
    reference_features, _ = image_metrics.extract(extractor, real)

    def get_model(name):
        say(f"seed {seed}: {name}")
        if epochs is not None:
            model = digits_models.train_digits_model(name, seed, epochs=epochs)
            if cache_dir is not None:
                digits_models.save_digits_model(model, cache_dir)
            return model
        return digits_models.train_or_load(name, seed, cache_dir)

    d_pre = None
    if any(name not in ("dcgan",) for name in models):
        d_pre = get_model("sn-dcgan").discriminator

    rows, samples = [], {}
    for name in models:
        model = get_model(name)
        latents = model.sample_latents(num_samples, _LATENTS + seed)
        corrector_data = model.sample(len(real), _CORRECTOR_SAMPLES + seed)

        def corrected(with_d_pre, model=model, corrector_data=corrector_data):
            base = model.discriminator if model.discriminator is not None else d_pre
            return train_corrector(
                real, corrector_data, d_pre=base if with_d_pre else None, seed=seed, **corrector_settings
            ).critic

        for method in methods_for(name):
            if methods is not None and method not in methods:
                continue
            say(f"seed {seed}: {name} {method}")
            start = time.perf_counter()
            generator_evals, critic_evals, diverged = 1.0, 0.0, 0
            if method == "base":
                output = model.generate(latents)
            elif method in ("DOT", "DDLS"):
                if method == "DOT":
                    result = DOT(model.generator, model.discriminator, seed=seed, **DOT_SETTINGS).refine(
                        latents
                    )
                    output = result.samples
                    generator_evals, critic_evals = result.generator_evaluations, result.critic_evaluations
                else:
                    ddls = DDLS(model.generator, model.discriminator, seed=seed, **DDLS_SETTINGS)
                    output = ddls.predict(latents, batch_size=500, verbose=0)
                    counts = ddls.evaluations_per_sample()
                    generator_evals, critic_evals = counts["generator"], counts["critic"]
            else:
                if method == "DGflow":
                    critic = model.discriminator
                else:
                    critic = corrected(with_d_pre=method != "DGflow (c only)")
                method_settings = FLOW_DATA_SETTINGS if method.endswith("(data space)") else settings
                refiner = RefinementModel(
                    model.generator, critic, seed=seed, latent_shape=model.latent_shape, **method_settings
                )
                counts = refiner.evaluations_per_sample()
                generator_evals, critic_evals = counts["generator"], counts["critic"]
                try:
                    output = refiner.predict(latents, batch_size=500, verbose=0)
                except NonFiniteRefinementError as error:
                    # Too large a step for this critic: report the divergence as a row
                    # (metrics NaN) instead of losing the rest of the comparison.
                    say(f"seed {seed}: {name} {method} diverged: {error}")
                    output, diverged = None, len(error.sample_indices)
            seconds = time.perf_counter() - start
            if output is None:
                metrics = dict.fromkeys(("fid", "kid", "kid_std", "score", "score_std"), float("nan"))
            else:
                samples[(name, method)] = np.asarray(output)
                metrics = image_metrics.image_metrics(output, reference_features, extractor, num_subsets=100)
            rows.append(
                {
                    "model": name,
                    "method": method,
                    **metrics,
                    "diverged": diverged,
                    "generator_evals": float(generator_evals),
                    "critic_evals": float(critic_evals),
                    "seconds": seconds,
                }
            )
    return rows, samples
