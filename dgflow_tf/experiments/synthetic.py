"""DGflow against DOT, DDLS, DRS and MH-GAN on the 2-D data sets (the paper's Table 1).

One call refines the same latent batch of a trained 2-D GAN with every
method and measures each result against held-out data:

- `hq` (25 Gaussians): % of samples within 4 std of the nearest mode;
- `modes` (25 Gaussians): modes with at least one high-quality sample;
- `kde`: mean log-likelihood of held-out data under a Gaussian KDE
  (bandwidth `KDE_BANDWIDTH`) fitted to the samples; higher is better;
- `ot`: exact Wasserstein-1 distance to held-out data (`ot.emd2`);
- generator and critic forward evaluations per kept sample, and seconds.

Every method has the same interface, `method_runner(...).refine(latents)`,
which returns a `MethodResult` with its costs. Two kinds of GAN are
supported (`toy_gans.LOSSES`): `"wgan-gp"`, whose critic is used directly as
`d` (`critics.WassersteinCritic`, the convention of DOT and of the paper),
and `"nsgan"`, whose discriminator's logit is `d`. For a WGAN-GP, DRS works
on the critic's values after the same logistic calibration MH-GAN uses
(held-out real against generated values), since a Wasserstein critic's
values are not logits.

Every method's hyperparameters are in `SETTINGS`, per GAN kind and data
set. Those of `"wgan-gp"` were chosen on the tuning seed 100 (a GAN trained with seed
100, its own latents and held-out data) by one rule for every method, the
best KDE score, with the grids of `TUNING_GRIDS`
(`python benchmarks/synthetic.py --tune`); the sweep is in
`benchmarks/results/synthetic_tuning_wgan-gp.md`.

Examples:
    >>> from dgflow_tf.zoo import toy_gans
    >>> generator, critic = toy_gans.load_toy_gan("swissroll", "wgan-gp")
    >>> rows, samples = compare(
    ...     generator, critic, "swissroll", gan="wgan-gp", num_samples=200,
    ...     methods=["base", "DGflow-KL-latent"],
    ... )
"""

import time
from typing import NamedTuple

import numpy as np

from dgflow_tf import critics, datasets
from dgflow_tf.baselines import DDLS, DOT, DRS, MHGAN, fit_logit_calibration
from dgflow_tf.metrics import high_quality_fraction, kde_score, modes_covered, ot_distance
from dgflow_tf.refinement import RefinementModel
from dgflow_tf.zoo.toy_gans import LOSSES as GAN_KINDS

METHODS = (
    "base",
    "DGflow-KL",
    "DGflow-JS",
    "DGflow-logD",
    "DGflow-KL-latent",
    "DGflow-JS-latent",
    "DGflow-logD-latent",
    "DOT",
    "DOT-latent",
    "DDLS",
    "DRS",
    "MH-GAN",
)
#: Kernel standard deviation of the KDE score (data scaled to about [-2, 2]).
KDE_BANDWIDTH = 0.05
MH_CHAIN_LENGTH = 640
DRS_BURN_IN = 10_000
#: The seed whose GAN, latents and held-out data choose every hyperparameter.
TUNING_SEED = 100
#: Grids of the tuning sweep: every gradient method gets the same step sizes (DOT's learning
#: rate; DDLS's Langevin step), all at K = 25; DOT also its `k_eff` (None: estimated).
STEP_SIZES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)
TUNING_GRIDS = {
    "DGflow": {"step_size": STEP_SIZES},
    "DOT": {"learning_rate": STEP_SIZES, "k_eff": (None, 0.25, 0.5, 1.0, 2.0)},
    "DDLS": {"step_size": STEP_SIZES},
    "DRS": {"gamma_quantile": (0.5, 0.8, 0.9, 0.95, 0.99)},
}


def _dgflow(space, step_size):
    return {"space": space, "step_size": step_size, "entropy_weight": 0.01, "num_steps": 25}


def _settings(dgflow_data, dgflow_latent, dot_data, dot_latent, ddls, drs):
    """Every method's hyperparameters; K = 25 for every gradient method (equal evaluations)."""
    return {
        **{f"DGflow-{f}": _dgflow("data", step) for f, step in dgflow_data.items()},
        **{f"DGflow-{f}-latent": _dgflow("latent", step) for f, step in dgflow_latent.items()},
        "DOT": {"space": "data", "num_steps": 25, **dot_data},
        "DOT-latent": {"space": "latent", "num_steps": 25, **dot_latent},
        "DDLS": {"num_steps": 25, "step_size": ddls},
        "DRS": {"gamma_quantile": drs},
        "MH-GAN": {"chain_length": MH_CHAIN_LENGTH},
    }


_FIRST_RELEASE = _settings(
    dgflow_data=dict.fromkeys(("KL", "JS", "logD"), 0.001),
    dgflow_latent=dict.fromkeys(("KL", "JS", "logD"), 0.001),
    dot_data={"learning_rate": 0.01, "k_eff": None},
    dot_latent={"learning_rate": 0.01, "k_eff": None},
    ddls=0.002,
    drs=0.95,
)
#: Hyperparameters of every method, per GAN kind and data set; gamma = 0.01 (the paper's).
#: "nsgan": the step sizes of the first release (`benchmarks/results/synthetic.md` shows their
#: sweep). "wgan-gp": chosen on `TUNING_SEED` by the best KDE score
#: (`benchmarks/results/synthetic_tuning_wgan-gp.md`; a test checks these equal its choices).
SETTINGS = {
    "nsgan": {"25gaussians": _FIRST_RELEASE, "swissroll": _FIRST_RELEASE},
    "wgan-gp": {
        "25gaussians": _settings(
            dgflow_data={"KL": 0.01, "JS": 0.0001, "logD": 0.01},
            dgflow_latent={"KL": 0.01, "JS": 0.1, "logD": 0.01},
            dot_data={"learning_rate": 0.01, "k_eff": 0.25},
            dot_latent={"learning_rate": 0.03, "k_eff": 0.25},
            ddls=0.003,
            drs=0.8,
        ),
        "swissroll": _settings(
            dgflow_data={"KL": 0.01, "JS": 0.03, "logD": 0.03},
            dgflow_latent={"KL": 0.003, "JS": 0.003, "logD": 0.003},
            dot_data={"learning_rate": 0.03, "k_eff": 0.5},
            dot_latent={"learning_rate": 0.01, "k_eff": None},
            ddls=0.0001,
            drs=0.5,
        ),
    },
}
#: The first release's names for the non-saturating GAN's settings (used by the notebooks).
DGFLOW_SETTINGS = _FIRST_RELEASE["DGflow-KL"]
DGFLOW_LATENT_SETTINGS = _FIRST_RELEASE["DGflow-KL-latent"]

# Offsets that keep the evaluation's random streams apart from training (seed) and each other.
_HELD_OUT, _CALIBRATION, _LATENTS, _BURN_IN = 10_000, 20_000, 30_000, 40_000


class MethodResult(NamedTuple):
    """What every method's `refine(latents)` returns: samples and their cost per kept sample."""

    samples: np.ndarray
    generator_evaluations: float
    critic_evaluations: float


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


def latents_for(num_samples, seed):
    """The latent batch `compare` refines for `seed`: standard normal, `[num_samples, 2]` float32."""
    return np.random.default_rng(_LATENTS + seed).standard_normal((num_samples, 2)).astype("float32")


def _latents(num, seed):
    return np.random.default_rng(seed).standard_normal((num, 2)).astype("float32")


def method_settings(method, gan="nsgan", dataset="25gaussians", overrides=None):
    """`SETTINGS[gan][dataset][method]` updated with `overrides`; `ValueError` for unknown names."""
    if gan not in GAN_KINDS:
        raise ValueError(f"Unknown gan {gan!r}. Expected one of: {list(GAN_KINDS)}")
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}. Expected one of: {list(METHODS)}")
    settings = dict(SETTINGS[gan][datasets.canonical_name(dataset)].get(method, {}))
    unknown = sorted(set(overrides or {}) - set(settings))
    if unknown:
        raise ValueError(f"{method} takes no setting {unknown}. Expected some of: {sorted(settings)}")
    return {**settings, **(overrides or {})}


class _Runner:
    """One method on one GAN: `refine(latents) -> MethodResult`."""

    def __init__(self, method, generator, critic, dataset, gan, seed, settings):
        self.method, self.generator, self.dataset, self.seed = method, generator, dataset, seed
        self.settings = settings
        self.raw_critic = critic
        # DGflow, DOT and DDLS read a WGAN critic's value as d (the paper's convention).
        self.critic = critics.WassersteinCritic(critic) if gan == "wgan-gp" else critic
        self.calibrate_drs = gan == "wgan-gp"

    def refine(self, latents):
        method, settings = self.method, self.settings
        if method == "base":
            return MethodResult(self.generator.predict(latents, batch_size=1024, verbose=0), 1.0, 0.0)
        if method.startswith("DGflow-"):
            model = RefinementModel(
                self.generator, self.critic, divergence=method.split("-")[1], seed=self.seed, **settings
            )
            return self._model_result(model, latents)
        if method == "DDLS":
            return self._model_result(DDLS(self.generator, self.critic, seed=self.seed, **settings), latents)
        if method.startswith("DOT"):
            result = DOT(self.generator, self.critic, seed=self.seed, **settings).refine(latents)
        elif method == "DRS":
            result = self._drs(latents)
        else:  # MH-GAN, calibrated on held-out data, chains started at real samples as in the paper.
            num = len(latents)
            mh = MHGAN(self.generator, self.raw_critic, seed=self.seed, **settings)
            calibration_data = datasets.load(self.dataset, num, seed=_CALIBRATION + self.seed)
            mh.calibrate(calibration_data, _latents(num, _CALIBRATION + self.seed))
            result = mh.refine(latents, initial_samples=calibration_data)
        return MethodResult(result.samples, result.generator_evaluations, result.critic_evaluations)

    def _model_result(self, model, latents):
        counts = model.evaluations_per_sample()
        return MethodResult(model.refine(latents).samples, counts["generator"], counts["critic"])

    def _drs(self, latents):
        critic = self.raw_critic
        if self.calibrate_drs:
            # A WGAN critic's values are not logits: calibrate them as MH-GAN does.
            num = len(latents)
            calibration_data = datasets.load(self.dataset, num, seed=_CALIBRATION + self.seed)
            fake = self.generator.predict(_latents(num, _CALIBRATION + self.seed), batch_size=1024, verbose=0)
            real_values = np.asarray(self.raw_critic(calibration_data)).reshape(-1)
            fake_values = np.asarray(self.raw_critic(fake)).reshape(-1)
            slope, intercept = fit_logit_calibration(real_values, fake_values)
            raw = self.raw_critic

            def critic(samples):
                return slope * raw(samples) + intercept

        drs = DRS(self.generator, critic, seed=self.seed, **self.settings)
        return drs.fit(_latents(DRS_BURN_IN, _BURN_IN + self.seed)).refine(latents)


def method_runner(method, generator, critic, dataset, *, gan="nsgan", seed=0, **overrides):
    """One method of `METHODS`, ready to `refine(latents) -> MethodResult`.

    Args:
        method: a name from `METHODS`.
        generator: the GAN's generator (`[batch, 2]` latents to `[batch, 2]`).
        critic: its discriminator (logits) or WGAN critic (scores).
        dataset: `"25gaussians"` or `"swissroll"` (MH-GAN and a WGAN-GP's
            DRS calibrate on its held-out draws).
        gan: `"nsgan"` or `"wgan-gp"`: how the critic is read, and whose
            `SETTINGS` apply. Defaults to `"nsgan"`.
        seed: int; keys every random choice of the method. Defaults to `0`.
        **overrides: hyperparameters replacing those of `SETTINGS`.

    Returns:
        An object with `refine(latents)` returning a `MethodResult`.

    Raises:
        ValueError: for an unknown method, GAN kind or setting.
    """
    settings = method_settings(method, gan, dataset, overrides)
    return _Runner(method, generator, critic, datasets.canonical_name(dataset), gan, seed, settings)


def compare(
    generator,
    discriminator,
    dataset,
    *,
    gan="nsgan",
    num_samples=2000,
    seed=0,
    methods=METHODS,
    settings=None,
    mh_chain_length=None,
    progress=None,
):
    """Refines one latent batch with each method and measures the results.

    Args:
        generator: the GAN's generator (`[batch, 2]` latents to `[batch, 2]`).
        discriminator: its discriminator (logits) or, for `gan="wgan-gp"`,
            its critic.
        dataset: `"25gaussians"` or `"swissroll"`, for held-out data and
            metrics.
        gan: `"nsgan"` or `"wgan-gp"` (see `method_runner`). Defaults to
            `"nsgan"`.
        num_samples: samples per method and held-out points. Defaults to `2000`.
        seed: int; keys the latents, held-out data and every method's noise.
            Defaults to `0`.
        methods: names from `METHODS`. Defaults to all.
        settings: optional `{method: {name: value}}` overriding `SETTINGS`.
        mh_chain_length: MH-GAN's proposals per chain. Defaults to `640`.
        progress: optional callable `(method_name) -> None` called before
            each method.

    Returns:
        A tuple `(rows, samples)`: a list of dicts (one per method: metrics,
        `generator_evals`, `critic_evals`, `seconds`) and a dict of sample
        arrays by method.

    Raises:
        ValueError: for an unknown method, GAN kind or setting.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown methods {unknown}. Expected some of: {list(METHODS)}")
    overrides = {method: dict(values) for method, values in (settings or {}).items()}
    if mh_chain_length is not None:
        overrides.setdefault("MH-GAN", {})["chain_length"] = mh_chain_length
    runners = [
        method_runner(m, generator, discriminator, dataset, gan=gan, seed=seed, **overrides.get(m, {}))
        for m in methods
    ]
    reference = held_out_data(dataset, num_samples, seed)
    latents = latents_for(num_samples, seed)
    rows, samples = [], {}
    for method, runner in zip(methods, runners, strict=True):
        if progress is not None:
            progress(method)
        start = time.perf_counter()
        result = runner.refine(latents)
        seconds = time.perf_counter() - start
        samples[method] = np.asarray(result.samples)
        rows.append(
            {
                "method": method,
                **evaluate(samples[method], reference, dataset),
                "generator_evals": float(result.generator_evaluations),
                "critic_evals": float(result.critic_evaluations),
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
