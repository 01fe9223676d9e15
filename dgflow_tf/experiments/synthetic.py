"""DGflow against DOT, DDLS, DRS and MH-GAN on the 2-D data sets.

One call refines the same latent batch of a trained 2-D GAN with every
method and measures each result against held-out data:

- `hq` (25 Gaussians): % of samples within 4 std of the nearest mode;
- `modes` (25 Gaussians): modes with at least one high-quality sample;
- `kde`: mean log-likelihood of held-out data under a Gaussian KDE
  (bandwidth `KDE_BANDWIDTH`) fitted to the samples; higher is better;
- `ot`: exact Wasserstein-1 distance to held-out data (`ot.emd2`);
- generator and critic forward evaluations per kept sample, and seconds.

Example:

>>> from dgflow_tf.zoo import toy_gans
>>> generator, discriminator = toy_gans.load_toy_gan("swissroll")
>>> methods = ["base", "DGflow-KL"]
>>> rows, samples = compare(generator, discriminator, "swissroll", num_samples=200, methods=methods)
"""

import time

import numpy as np

from dgflow_tf import datasets
from dgflow_tf.baselines import DDLS, DOT, DRS, MHGAN
from dgflow_tf.metrics import high_quality_fraction, kde_score, modes_covered, ot_distance
from dgflow_tf.refinement import RefinementModel

METHODS = (
    "base",
    "DGflow-KL",
    "DGflow-JS",
    "DGflow-logD",
    "DGflow-KL-latent",
    "DOT",
    "DOT-latent",
    "DDLS",
    "DRS",
    "MH-GAN",
)
#: Kernel standard deviation of the KDE score (data scaled to about [-2, 2]).
KDE_BANDWIDTH = 0.05
#: DGflow rows: data space (the update with g the identity, METHOD.md section 3), the paper's
#: gamma and K. The step is 100x below the paper's image default: these MLP critics' gradients
#: are steep, and eta = 0.1 throws samples off the modes (`benchmarks/synthetic.py --sweep`).
DGFLOW_SETTINGS = {"space": "data", "step_size": 0.001, "entropy_weight": 0.01, "num_steps": 25}
#: The latent-space row (the paper's Algorithm 1) at the same step.
DGFLOW_LATENT_SETTINGS = {"space": "latent", "step_size": 0.001, "entropy_weight": 0.01, "num_steps": 25}
#: DOT at Tanaka's optimiser settings and DGflow's number of steps (equal evaluations).
DOT_SETTINGS = {"num_steps": 25, "learning_rate": 0.01}
#: DDLS at DGflow's number of steps; the Langevin step was the best of a sweep (benchmarks/).
DDLS_SETTINGS = {"num_steps": 25, "step_size": 0.002}
MH_CHAIN_LENGTH = 640
DRS_BURN_IN = 10_000

# Offsets that keep the evaluation's random streams apart from training (seed) and each other.
_HELD_OUT, _CALIBRATION, _LATENTS, _BURN_IN = 10_000, 20_000, 30_000, 40_000


def evaluate(samples, reference, dataset):
    """The metrics of one sample set against held-out `reference` data; a dict."""
    row = {}
    if dataset == "25gaussians":
        modes, std = datasets.TWENTY_FIVE_GAUSSIANS_MODES, datasets.TWENTY_FIVE_GAUSSIANS_STD
        row["hq"] = 100.0 * high_quality_fraction(samples, modes, std)
        row["modes"] = modes_covered(samples, modes, std)
    row["kde"] = kde_score(samples, reference, bandwidth=KDE_BANDWIDTH)
    row["ot"] = ot_distance(samples, reference)
    return row


def held_out_data(dataset, num_samples, seed):
    """The held-out data `compare` measures against for `seed`."""
    return datasets.load(dataset, num_samples, seed=_HELD_OUT + seed)


def _latents(num, seed):
    return np.random.default_rng(seed).standard_normal((num, 2)).astype("float32")


def compare(
    generator,
    discriminator,
    dataset,
    *,
    num_samples=2000,
    seed=0,
    methods=METHODS,
    dgflow_settings=None,
    dgflow_latent_settings=None,
    dot_settings=None,
    ddls_settings=None,
    drs_settings=None,
    mh_chain_length=MH_CHAIN_LENGTH,
    progress=None,
):
    """Refines one latent batch with each method and measures the results.

    Args:
        generator: the GAN's generator (`[batch, 2]` latents to `[batch, 2]`).
        discriminator: its discriminator (logits).
        dataset: `"25gaussians"` or `"swissroll"`, for held-out data and
            metrics.
        num_samples: samples per method and held-out points. Defaults to `2000`.
        seed: int; keys the latents, held-out data and every method's noise.
            Defaults to `0`.
        methods: names from `METHODS`. Defaults to all.
        dgflow_settings, dgflow_latent_settings, dot_settings, ddls_settings:
            overrides of `DGFLOW_SETTINGS`, `DGFLOW_LATENT_SETTINGS`,
            `DOT_SETTINGS`, `DDLS_SETTINGS` (DOT's `space` is set per row).
        drs_settings: keyword arguments of `DRS` (e.g. `gamma_quantile`).
        mh_chain_length: MH-GAN's proposals per chain. Defaults to `640`.
        progress: optional callable `(method_name) -> None` called before
            each method.

    Returns:
        A tuple `(rows, samples)`: a list of dicts (one per method: metrics,
        `generator_evals`, `critic_evals`, `seconds`) and a dict of sample
        arrays by method.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown methods {unknown}. Expected some of: {list(METHODS)}")
    dgflow_settings = {**DGFLOW_SETTINGS, **(dgflow_settings or {})}
    dgflow_latent_settings = {**DGFLOW_LATENT_SETTINGS, **(dgflow_latent_settings or {})}
    dot_settings = {**DOT_SETTINGS, **(dot_settings or {})}
    ddls_settings = {**DDLS_SETTINGS, **(ddls_settings or {})}
    reference = held_out_data(dataset, num_samples, seed)
    latents = _latents(num_samples, _LATENTS + seed)

    def run(method):
        if method == "base":
            return generator.predict(latents, batch_size=1024, verbose=0), 1.0, 0.0
        if method.startswith("DGflow-"):
            settings = dgflow_latent_settings if method.endswith("-latent") else dgflow_settings
            model = RefinementModel(
                generator, discriminator, divergence=method.split("-")[1], seed=seed, **settings
            )
            counts = model.evaluations_per_sample()
            return model.refine(latents).samples, counts["generator"], counts["critic"]
        if method == "DDLS":
            model = DDLS(generator, discriminator, seed=seed, **ddls_settings)
            counts = model.evaluations_per_sample()
            return model.refine(latents).samples, counts["generator"], counts["critic"]
        if method.startswith("DOT"):
            space = "latent" if method.endswith("-latent") else "data"
            result = DOT(generator, discriminator, space=space, seed=seed, **dot_settings).refine(latents)
        elif method == "DRS":
            drs = DRS(generator, discriminator, seed=seed, **(drs_settings or {})).fit(
                _latents(DRS_BURN_IN, _BURN_IN + seed)
            )
            result = drs.refine(latents)
        else:  # MH-GAN, calibrated on held-out data, chains started at real samples as in the paper.
            mh = MHGAN(generator, discriminator, chain_length=mh_chain_length, seed=seed)
            calibration_data = datasets.load(dataset, num_samples, seed=_CALIBRATION + seed)
            mh.calibrate(calibration_data, _latents(num_samples, _CALIBRATION + seed))
            result = mh.refine(latents, initial_samples=calibration_data)
        return result.samples, result.generator_evaluations, result.critic_evaluations

    rows, samples = [], {}
    for method in methods:
        if progress is not None:
            progress(method)
        start = time.perf_counter()
        output, generator_evals, critic_evals = run(method)
        seconds = time.perf_counter() - start
        samples[method] = np.asarray(output)
        rows.append(
            {
                "method": method,
                **evaluate(samples[method], reference, dataset),
                "generator_evals": float(generator_evals),
                "critic_evals": float(critic_evals),
                "seconds": seconds,
            }
        )
    return rows, samples


COLUMNS = (
    ("hq", "HQ %", "{:.1f}"),
    ("modes", "modes", "{:.0f}"),
    ("kde", "KDE", "{:.3f}"),
    ("ot", "OT (W1)", "{:.4f}"),
    ("generator_evals", "G evals", "{:.1f}"),
    ("critic_evals", "D evals", "{:.1f}"),
    ("seconds", "seconds", "{:.2f}"),
)


def format_table(rows):
    """A Markdown table of `compare`'s rows (columns a data set lacks are left out)."""
    columns = [c for c in COLUMNS if c[0] in rows[0]]
    lines = [
        "| method | " + " | ".join(c[1] for c in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for row in rows:
        lines.append(f"| {row['method']} | " + " | ".join(f.format(row[k]) for k, _, f in columns) + " |")
    return "\n".join(lines)
