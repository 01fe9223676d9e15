"""experiments.mnist wiring: each row runs its method on the model's own networks, keyed by the seed.

The algorithms themselves are tested against independent references elsewhere (test_baselines_*,
test_engine); these tests pin what the table's rows are made of: which networks, which seeds,
which step count, and what each row records.
"""

import numpy as np
import pytest

from dgflow_tf.baselines import DDLS, DOT, DRS, MHGAN
from dgflow_tf.experiments import mnist as mnist_experiment
from dgflow_tf.refinement import RefinementModel
from dgflow_tf.zoo import mnist_models

SEED = 3  # not 0, so that a seed dropped or negated shows


@pytest.fixture(scope="module")
def dcgan():
    return mnist_models.load_shipped_mnist_model("dcgan")


@pytest.fixture
def short(monkeypatch):
    monkeypatch.setattr(mnist_experiment, "NUM_STEPS", 2)
    monkeypatch.setattr(mnist_experiment, "DRS_BURN_IN", 64)
    # DRS and MH-GAN read the critic through a logit calibration fit on training images; the
    # identity calibration keeps these tests free of the data set.
    monkeypatch.setattr(mnist_experiment, "_calibration", lambda model, num, seed: (1.0, 0.0))


def _samples(method, model, latents, seed, settings):
    samples, *_ = mnist_experiment._run(method, model, latents, seed, settings)
    return np.asarray(samples)


def test_dot_and_ddls_rows_run_those_baselines_on_the_models_networks(dcgan, short):
    latents = dcgan.sample_latents(4, seed=1)
    expected = DOT(dcgan.generator, dcgan.discriminator, num_steps=2, seed=SEED, learning_rate=0.03)
    np.testing.assert_allclose(
        _samples("DOT", dcgan, latents, SEED, {"learning_rate": 0.03}),
        np.asarray(expected.refine(latents).samples),
        atol=1e-6,
    )
    expected = DDLS(dcgan.generator, dcgan.discriminator, num_steps=2, seed=SEED, step_size=0.01)
    np.testing.assert_allclose(
        _samples("DDLS", dcgan, latents, SEED, {"step_size": 0.01}),
        np.asarray(expected.refine(latents).samples),
        atol=1e-6,
    )


def test_dgflow_rows_take_the_seed_the_step_count_and_the_entropy_weight(dcgan, short):
    latents = dcgan.sample_latents(4, seed=1)
    refiner = RefinementModel(
        dcgan.generator,
        dcgan.discriminator,
        divergence="JS",
        step_size=0.05,
        num_steps=2,
        entropy_weight=mnist_experiment.ENTROPY_WEIGHT,
        seed=SEED,
    )
    row = _samples("DGflow-JS", dcgan, latents, SEED, {"step_size": 0.05})
    np.testing.assert_allclose(row, np.asarray(refiner.predict(latents, verbose=0)), atol=1e-6)
    # Another evaluation seed draws other noise for the same latents.
    assert np.abs(row - _samples("DGflow-JS", dcgan, latents, SEED + 1, {"step_size": 0.05})).max() > 1e-3


def test_drs_burns_in_on_its_own_latents_and_mh_gan_runs_k_proposals(dcgan, short, monkeypatch):
    # A small burn-in and many rejections: another burn-in set gives another gamma, and with 40
    # proposals some other decisions.
    monkeypatch.setattr(mnist_experiment, "DRS_BURN_IN", 16)
    latents = dcgan.sample_latents(40, seed=1)

    def critic(samples):
        return dcgan.discriminator(samples, training=False)

    drs = DRS(dcgan.generator, critic, seed=SEED, gamma_quantile=0.8)
    drs.fit(dcgan.sample_latents(16, mnist_experiment._BURN_IN + SEED))
    samples, generator_evals, _ = mnist_experiment._run("DRS", dcgan, latents, SEED, {"gamma_quantile": 0.8})
    expected = drs.refine(latents)
    np.testing.assert_allclose(np.asarray(samples), np.asarray(expected.samples), atol=1e-6)
    assert generator_evals == expected.generator_evaluations
    expected = MHGAN(dcgan.generator, critic, chain_length=2, seed=SEED).refine(latents)
    samples, generator_evals, critic_evals = mnist_experiment._run("MH-GAN", dcgan, latents, SEED, {})
    np.testing.assert_allclose(np.asarray(samples), np.asarray(expected.samples), atol=1e-6)
    assert (generator_evals, critic_evals) == (expected.generator_evaluations, expected.critic_evaluations)


def test_rows_name_their_model_seed_and_budget(dcgan, short):
    rows, samples = mnist_experiment.compare_mnist(
        dcgan, ["base", "DGflow-KL"], SEED, num_samples=20, settings={"DGflow-KL": {"step_size": 0.01}},
        num_subsets=2,
    )  # fmt: skip
    assert [(row["model"], row["seed"], row["method"]) for row in rows] == [
        ("dcgan", SEED, "base"),
        ("dcgan", SEED, "DGflow-KL"),
    ]
    # K = 2 latent steps: the generator and the critic at each, and g(z_K) at the end.
    assert [(row["generator_evals"], row["critic_evals"]) for row in rows] == [(1.0, 0.0), (3.0, 2.0)]
    assert samples["DGflow-KL"].shape == (20, 28, 28, 1) and rows[1]["diverged"] == 0


def test_a_method_that_returns_nan_samples_is_a_diverged_row_not_a_crash(dcgan, monkeypatch):
    # DOT, DRS and MH-GAN have no non-finite check of their own; their NaN samples must not reach
    # the metrics (which refuse them) but be reported like a DGflow divergence.
    def nan_dot(method, model, latents, seed, settings):
        samples = np.asarray(model.generate(latents)).copy()
        samples[[1, 4]] = np.nan
        return samples, 1.0, 25.0

    monkeypatch.setattr(mnist_experiment, "_run", nan_dot)
    rows, samples = mnist_experiment.compare_mnist(
        dcgan, ["DOT"], SEED, num_samples=20, settings={"DOT": {"learning_rate": 0.01}}, num_subsets=2
    )
    assert rows[0]["diverged"] == 2 and np.isnan(rows[0]["fid"]) and "DOT" not in samples


def test_the_calibrate_row_refines_at_the_calibrated_setting_with_the_evaluation_seed(dcgan, monkeypatch):
    # calibrate itself is tested in test_step_size; here the row must use its result and the seed.
    monkeypatch.setattr(mnist_experiment, "calibrated_step_size", lambda model: (0.04, 2))
    latents = dcgan.sample_latents(4, seed=1)
    row = _samples("DGflow-KL (calibrate)", dcgan, latents, SEED, {})
    expected = RefinementModel(dcgan.generator, dcgan.discriminator, seed=SEED, step_size=0.04, num_steps=2)
    np.testing.assert_allclose(row, np.asarray(expected.predict(latents, verbose=0)), atol=1e-6)
    other_seed = RefinementModel(dcgan.generator, dcgan.discriminator, seed=0, step_size=0.04, num_steps=2)
    assert np.abs(row - np.asarray(other_seed.predict(latents, verbose=0))).max() > 1e-3


def test_a_dgflow_divergence_is_a_row_that_counts_the_budget_spent(dcgan, short, monkeypatch):
    from dgflow_tf.errors import NonFiniteRefinementError

    def diverging(method, model, latents, seed, settings):
        raise NonFiniteRefinementError([0, 3, 5], [1, 1, 2], len(latents))

    monkeypatch.setattr(mnist_experiment, "_run", diverging)
    rows, samples = mnist_experiment.compare_mnist(
        dcgan, ["DGflow-KL"], SEED, num_samples=20, settings={"DGflow-KL": {"step_size": 0.1}}, num_subsets=2
    )
    assert rows[0]["diverged"] == 3 and np.isnan(rows[0]["fid"]) and "DGflow-KL" not in samples
    # A diverged run still spent K generator and critic evaluations per sample (NUM_STEPS = 2 here).
    assert (rows[0]["generator_evals"], rows[0]["critic_evals"]) == (2.0, 2.0)


def test_drs_and_mh_gan_draw_latents_of_a_flow_whose_generator_declares_no_shape(dcgan, short, monkeypatch):
    # The MNIST flow's generator is a bijector layer with no input shape; DRS draws fresh latents
    # after its first round and MH-GAN its proposals, so both need the model's latent shape.
    import dataclasses

    monkeypatch.setattr(mnist_experiment, "DRS_BURN_IN", 16)
    flow = mnist_models.load_shipped_mnist_model("flow")
    model = dataclasses.replace(flow, discriminator=dcgan.discriminator)
    latents = model.sample_latents(8, seed=1)
    samples, generator_evals, _ = mnist_experiment._run("DRS", model, latents, SEED, {"gamma_quantile": 0.95})
    assert np.asarray(samples).shape == (8, 28, 28, 1) and generator_evals > 1  # it drew further rounds
    samples, *_ = mnist_experiment._run("MH-GAN", model, latents, SEED, {})
    assert np.asarray(samples).shape == (8, 28, 28, 1)


def test_the_default_rows_are_what_a_user_gets_from_the_constructor_in_each_space(dcgan):
    latents = dcgan.sample_latents(4, seed=1)
    for method, space in (("DGflow-KL (defaults)", "latent"), ("DGflow-KL (data, defaults)", "data")):
        samples, generator_evals, critic_evals = mnist_experiment._run(method, dcgan, latents, SEED, {})
        user = RefinementModel(dcgan.generator, dcgan.discriminator, seed=SEED, space=space)
        np.testing.assert_allclose(
            np.asarray(samples), np.asarray(user.predict(latents, verbose=0)), atol=1e-6
        )
        # Latent space runs the generator at every step; data space once, then only the critic.
        expected = (26, 25) if space == "latent" else (1, 25)
        assert (generator_evals, critic_evals) == expected


def test_a_rows_latents_noise_and_kid_subsets_are_keyed_by_its_seed(dcgan, short):
    from dgflow_tf.metrics.mnist import mnist_metrics

    settings = {"DGflow-KL": {"step_size": 0.05}}

    def compare(seed):
        return mnist_experiment.compare_mnist(dcgan, ["base", "DGflow-KL"], seed, 20, settings, num_subsets=4)

    rows, samples = compare(SEED)
    # The evaluation latents of seed s are the model's draws keyed 30,000 + s, apart from the
    # calibration, burn-in and corrector streams.
    latents = dcgan.sample_latents(20, 30_000 + SEED)
    np.testing.assert_array_equal(mnist_experiment.latents_for(dcgan, 20, SEED), latents)
    np.testing.assert_allclose(samples["base"], np.asarray(dcgan.generate(latents)), atol=1e-6)
    again_rows, again = compare(SEED)
    np.testing.assert_array_equal(again["DGflow-KL"], samples["DGflow-KL"])  # the noise is keyed too
    assert [r["kid"] for r in again_rows] == [r["kid"] for r in rows]
    kid = mnist_metrics(samples["base"], num_subsets=4, seed=SEED)["kid"]
    assert rows[0]["kid"] == pytest.approx(kid, rel=1e-12)
    assert mnist_metrics(samples["base"], num_subsets=4, seed=SEED + 1)["kid"] != pytest.approx(kid, rel=1e-6)


class _IndexModel:
    """A stand-in whose 'images' are their own indices: training image i is the number i."""

    name, seed = "dcgan", 7

    def __init__(self):
        self.sample_calls = []

    def sample(self, num, seed):
        self.sample_calls.append((num, seed))
        return -1.0 - np.arange(num, dtype=np.float64)[:, None]  # negative: never a training index

    @staticmethod
    def discriminator(batch, training):
        return np.asarray(batch, np.float64)


def test_the_logit_calibration_draws_distinct_training_images_from_the_whole_split(monkeypatch):
    monkeypatch.setattr(mnist_experiment, "_training_images", lambda: np.arange(60_000.0)[:, None])
    fits = []
    monkeypatch.setattr(
        mnist_experiment, "fit_logit_calibration", lambda real, fake: fits.append((real, fake))
    )
    model = _IndexModel()
    # Asked for all 60,000, the calibration must see each training image exactly once: a draw from a
    # wider range would index past the split, a narrower one would repeat or miss images.
    mnist_experiment._calibration(model, 60_000, SEED)
    real, fake = fits[-1]
    np.testing.assert_array_equal(np.sort(real), np.arange(60_000.0))
    np.testing.assert_array_equal(fake, -1.0 - np.arange(60_000.0))
    # A smaller draw: distinct images, the model's own samples keyed apart from the latents, and
    # another evaluation seed draws other images.
    mnist_experiment._calibration(model, 500, SEED)
    real, _ = fits[-1]
    assert len(np.unique(real)) == 500
    assert model.sample_calls[-1] == (500, mnist_experiment._CALIBRATION + SEED)
    mnist_experiment._calibration(model, 500, SEED + 1)
    assert len(np.intersect1d(real, fits[-1][0])) < 50


def test_drs_and_mh_gan_fit_their_calibration_on_2000_images_keyed_by_the_seed(dcgan, short, monkeypatch):
    # The images page states 2,000 training images against 2,000 samples; a smaller or missing count
    # would fit the logit map to a handful of points.
    calls = []

    def calibration(model, num, seed):
        calls.append((model.name, num, seed))
        return 1.0, 0.0

    monkeypatch.setattr(mnist_experiment, "_calibration", calibration)
    latents = dcgan.sample_latents(4, seed=1)
    for method, settings in (("DRS", {"gamma_quantile": 0.5}), ("MH-GAN", {})):
        mnist_experiment._run(method, dcgan, latents, SEED, settings)
    assert calls == [("dcgan", 2000, SEED), ("dcgan", 2000, SEED)]


class _FakeRefiner:
    """Records what `calibrated_step_size` hands to `RefinementModel` and its `calibrate`."""

    made = []

    def __init__(self, generator, critic):
        self.generator, self.critic = generator, critic
        _FakeRefiner.made.append(self)

    def calibrate(self, real, metric):
        self.real, self.metric = real, metric
        self.step_size, self.num_steps = self.generator["step"], 7


class _Images:
    """60,000 'training images' that cycle through a few real-looking ones, without 188 MB of them."""

    def __init__(self, images):
        self.images = images

    def __getitem__(self, rows):
        return self.images[np.asarray(rows) % len(self.images)]


def test_calibrated_step_size_calibrates_each_model_once_on_fid_in_classifier_features(dcgan, monkeypatch):
    from dgflow_tf import critics

    monkeypatch.setattr(mnist_experiment, "RefinementModel", _FakeRefiner)
    monkeypatch.setattr(_FakeRefiner, "made", [])
    monkeypatch.setattr(mnist_experiment, "_calibrated_steps", {})
    monkeypatch.setattr(mnist_experiment, "CALIBRATION_IMAGES", 200)
    images = np.asarray(dcgan.sample(300, seed=5))
    monkeypatch.setattr(mnist_experiment, "_training_images", lambda: _Images(images))

    first, second, wgan = _Model("dcgan", 1, 0.01), _Model("dcgan", 2, 0.02), _Model("wgan-gp", 1, 0.03)
    # Each model (name and seed) gets its own calibration, once.
    assert mnist_experiment.calibrated_step_size(first) == (0.01, 7)
    assert mnist_experiment.calibrated_step_size(second) == (0.02, 7)
    assert mnist_experiment.calibrated_step_size(wgan) == (0.03, 7)
    assert mnist_experiment.calibrated_step_size(first) == (0.01, 7)
    assert len(_FakeRefiner.made) == 3
    # A GAN's logit critic is used as it is; a WGAN-GP's scores are read as d directly.
    assert _FakeRefiner.made[0].critic is first.discriminator
    assert isinstance(_FakeRefiner.made[2].critic, critics.WassersteinCritic)
    # The metric is FID in the classifier's feature space against the calibration images: zero for
    # those images themselves, clearly more for images of another kind.
    refiner = _FakeRefiner.made[0]
    assert refiner.real.shape == (200, 28, 28, 1)
    assert abs(refiner.metric(refiner.real)) < 1e-3
    assert refiner.metric(-np.ones((200, 28, 28, 1), np.float32)) > 100.0


class _Model:
    def __init__(self, name, seed, step):
        self.name, self.seed = name, seed
        self.generator = {"step": step}
        self.discriminator = lambda samples, training=False: samples
