"""Each baseline's defining property, against closed forms and known distributions."""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from dgflow_tf import RefinementModel, noise
from dgflow_tf.baselines import DDLS, DOT, DRS, MHGAN, drs_logit


def identity(z):
    return z


def zero_critic(x):
    return tf.zeros(tf.shape(x)[:1], x.dtype)


def linear_critic(weights):
    weights = tf.constant(weights, tf.float32)
    return lambda x: tf.reduce_sum(x * weights, axis=-1)


# -- DRS -----------------------------------------------------------------------------------------


def test_drs_acceptance_probability_is_its_formula():
    drs = DRS(identity, zero_critic, latent_shape=(1,), epsilon=1e-6)
    drs.max_logit, drs.gamma = 2.0, 0.3
    logits = [-1.0, 0.5, 1.9, 2.0]
    for logit, p in zip(logits, drs.acceptance_probability(logits), strict=True):
        f = logit - 2.0 - math.log(1.0 - math.exp(logit - 2.0 - 1e-6)) - 0.3
        assert p == pytest.approx(1.0 / (1.0 + math.exp(-f)), rel=1e-9)
    with pytest.raises(ValueError, match="max_logit"):
        drs_logit([3.0], max_logit=2.0)


def test_drs_fit_sets_max_logit_and_gamma_quantile():
    burn_in = np.linspace(-2.0, 2.0, 401, dtype="float32")[:, None]
    drs = DRS(identity, linear_critic([1.0]), latent_shape=(1,), gamma_quantile=0.9).fit(burn_in)
    assert drs.max_logit == pytest.approx(2.0)
    f = drs_logit(burn_in[:, 0], 2.0)
    assert drs.gamma == pytest.approx(np.quantile(f, 0.9))
    # The burn-in sample at the quantile is kept with probability 1/2.
    assert np.mean(drs.acceptance_probability(burn_in[:, 0]) >= 0.5) == pytest.approx(0.1, abs=0.01)


def test_drs_keeps_n_samples_favouring_high_logits_and_is_seeded():
    rng = np.random.default_rng(0)
    drs = DRS(identity, linear_critic([1.0, 0.0]), latent_shape=(2,), seed=5)
    drs.fit(rng.normal(size=(2000, 2)).astype("float32"))
    z = rng.normal(size=(500, 2)).astype("float32")
    result = drs.refine(z)
    assert result.samples.shape == (500, 2)
    assert result.generator_evaluations == result.info["proposals"] / 500 >= 1.0
    assert result.samples[:, 0].mean() > z[:, 0].mean() + 0.5  # kept samples lean toward high d
    np.testing.assert_array_equal(result.samples, drs.refine(z).samples)
    assert not np.array_equal(result.samples, drs.refine(z, seed=6).samples)


def test_drs_errors():
    drs = DRS(identity, zero_critic, latent_shape=(2,))
    with pytest.raises(ValueError, match="call `fit"):
        drs.refine(np.zeros((3, 2), "float32"))
    with pytest.raises(ValueError, match="gamma_quantile"):
        DRS(identity, zero_critic, gamma_quantile=1.5)
    with pytest.raises(ValueError, match="generator"):
        DRS(None, zero_critic)
    with pytest.raises(ValueError, match=r"^`latents` must have shape \[batch, 2\]"):
        drs.fit(np.zeros((3, 5), "float32"))
    with pytest.raises(TypeError) as caught:
        MHGAN(5, zero_critic)
    assert str(caught.value) == (
        "`generator` must be a callable mapping latents to samples. Received: generator=5 of type int"
    )
    with pytest.raises(
        ValueError, match=r"^`batch_size` must be a positive integer\. Received: batch_size=0$"
    ):
        DOT(identity, zero_critic, latent_shape=(2,), batch_size=0)
    assert drs.generator.name == "generator"  # the wrapped function, as in a RefinementModel


def test_every_drs_knob_error_names_it_as_spelled():
    for name, value in (
        ("gamma_quantile", 1.5),
        ("epsilon", 0.0),
        ("max_proposals_per_sample", 0),
        ("batch_size", 0),
    ):
        with pytest.raises(ValueError, match=rf"^`{name}` must be .* Received: {name}="):
            DRS(identity, zero_critic, latent_shape=(2,), **{name: value})


def test_prior_latents_are_standard_normal_in_the_asked_dtype_and_shape():
    drs = DRS(identity, zero_critic, latent_shape=(2,), seed=0)
    positions, seed = np.arange(4000), noise.sanitize_seed(0)
    single = drs.prior_latents(seed, positions)
    assert single.dtype == np.float32 and single.shape == (4000, 2)
    # Each call shape and dtype is compiled separately: a float64 or a several-per-position draw
    # after a float32 one must not reuse it.
    wide = drs.prior_latents(seed, positions, dtype=tf.float64)
    several = drs.prior_latents(seed, positions[:10], num_per_position=3)
    assert wide.dtype == np.float64 and wide.shape == (4000, 2) and several.shape == (10, 3, 2)
    for draws in (single, wide):
        assert stats.kstest(draws.reshape(-1), "norm").pvalue > 1e-3


# -- MH-GAN --------------------------------------------------------------------------------------

TARGET_MEAN, PROPOSAL_STD = 0.5, 1.5


def exact_log_ratio(x):
    """log N(x; 0.5, 1) - log N(x; 0, 1.5^2): the true d(x) for generator g(z) = 1.5 z."""
    x = x[:, 0]
    return -0.5 * tf.square(x - TARGET_MEAN) + 0.5 * tf.square(x / PROPOSAL_STD) + math.log(PROPOSAL_STD)


def test_mhgan_with_exact_ratio_samples_the_target():
    generator = lambda z: PROPOSAL_STD * z  # noqa: E731
    mh = MHGAN(generator, exact_log_ratio, latent_shape=(1,), chain_length=30, seed=0)
    z = np.random.default_rng(1).normal(size=(4000, 1)).astype("float32")
    result = mh.refine(z)
    target_cdf = stats.norm(TARGET_MEAN, 1.0).cdf
    assert stats.kstest(result.samples[:, 0], target_cdf).pvalue > 0.01
    # The proposals themselves are clearly not from the target: the test can fail.
    assert stats.kstest(PROPOSAL_STD * z[:, 0], target_cdf).pvalue < 1e-6
    assert result.generator_evaluations == 31 and result.critic_evaluations == 30
    assert 0.3 < result.info["acceptance_rate"] < 1.0


def test_mhgan_calibration_recovers_identity_for_exact_logits():
    generator = lambda z: PROPOSAL_STD * z  # noqa: E731
    rng = np.random.default_rng(2)
    real = rng.normal(TARGET_MEAN, 1.0, size=(20_000, 1)).astype("float32")
    mh = MHGAN(generator, exact_log_ratio, latent_shape=(1,), chain_length=5, seed=0)
    slope, intercept = mh.calibrate(real, rng.normal(size=(20_000, 1)).astype("float32")).calibration
    assert slope == pytest.approx(1.0, abs=0.1)
    assert intercept == pytest.approx(0.0, abs=0.1)


def test_mhgan_chains_started_at_real_data_never_return_it():
    mh = MHGAN(identity, zero_critic, latent_shape=(2,), chain_length=3, seed=0)
    real = np.full((6, 2), 9.0, "float32")
    result = mh.refine(np.zeros((6, 2), "float32"), initial_samples=real)
    assert not np.any(result.samples == 9.0)
    with pytest.raises(ValueError, match="initial_samples"):
        mh.refine(np.zeros((6, 2), "float32"), initial_samples=real[:2])


def test_mhgan_takes_real_samples_in_data_space_when_latents_have_another_shape():
    # Latents of 3 numbers, samples of shape [2, 1]: the real samples (calibrate) and the chains'
    # starts (initial_samples) are data, so the latent shape must not be asked of them. The
    # calibration must be the one an MH-GAN without a latent shape (no shape checks) fits.
    def generator(z, training=False):
        return tf.reshape(PROPOSAL_STD * z[:, :2], [-1, 2, 1])

    def critic(x):
        return exact_log_ratio(x[:, :, 0])  # the ratio of the first coordinate

    rng = np.random.default_rng(5)
    real = rng.normal(TARGET_MEAN, 1.0, size=(2000, 2, 1)).astype("float32")
    z = rng.normal(size=(2000, 3)).astype("float32")
    mh = MHGAN(generator, critic, latent_shape=(3,), chain_length=4, seed=0).calibrate(real, z)
    unchecked = MHGAN(generator, critic, chain_length=4, seed=0).calibrate(real, z)
    assert mh.calibration == pytest.approx(unchecked.calibration, rel=1e-12)
    result = mh.refine(z[:6], initial_samples=real[:6])
    assert result.samples.shape == (6, 2, 1)
    with pytest.raises(ValueError, match=r"^`latents` must have shape \[batch, 3\]"):
        mh.calibrate(real, real)
    with pytest.raises(ValueError, match=r"^`z` must have shape \[batch, 3\]"):
        mh.refine(real[:6])
    for empty, name in (((real[:0], z), "real_samples"), ((real, z[:0]), "latents")):
        with pytest.raises(ValueError, match=rf"^`{name}` holds no samples; the calibration needs some"):
            mh.calibrate(*empty)


# -- DDLS ----------------------------------------------------------------------------------------


def test_ddls_with_zero_critic_samples_the_prior():
    step = 0.05
    ddls = DDLS(identity, zero_critic, step_size=step, num_steps=400, latent_shape=(1,), seed=0)
    samples = ddls.refine(np.full((4000, 1), 3.0, "float32")).samples[:, 0]
    # Discretised Ornstein-Uhlenbeck: z <- (1 - step/2) z + sqrt(step) xi has stationary
    # variance 1 / (1 - step/4); 400 steps shrink the start (3.0) by e^-10.
    stationary = stats.norm(0.0, math.sqrt(1.0 / (1.0 - step / 4.0))).cdf
    assert stats.kstest(samples, stationary).pvalue > 0.01


def test_ddls_with_a_fixed_step_mala_samples_the_prior_exactly(monkeypatch):
    # With the acceptance step, the per-sample log prior enters each sample's own Metropolis ratio:
    # a zero critic must give N(0, 1) from a start at 3, where unadjusted Langevin gives variance
    # 1 / (1 - step/4). Step-size adaptation is turned off, so the chain is exact MALA (the
    # diminishing adaptation is tested in test_solvers.py).
    from dgflow_tf import solvers

    monkeypatch.setattr(solvers, "ADAPTATION_RATE", 0.0)
    ddls = DDLS(identity, zero_critic, step_size=0.2, num_steps=300, latent_shape=(1,), seed=0, solver="mala")
    samples = ddls.refine(np.full((4000, 1), 3.0, "float32")).samples[:, 0]
    assert stats.kstest(samples, "norm").pvalue > 0.01


def test_ddls_step_is_dgflow_kl_plus_prior_pull():
    z = np.random.default_rng(3).normal(size=(64, 3)).astype("float32")
    critic = linear_critic([0.5, -1.0, 2.0])
    ddls = DDLS(identity, critic, step_size=0.02, num_steps=1, latent_shape=(3,), seed=4)
    dgflow = RefinementModel(
        identity, critic, step_size=0.01, entropy_weight=1.0, num_steps=1, latent_shape=(3,), seed=4
    )
    # Same seed, same noise: the only difference is -(step_size / 2) * z.
    np.testing.assert_allclose(
        ddls.refine(z).samples - dgflow.refine(z).samples, -0.01 * z, rtol=1e-5, atol=1e-6
    )
    assert ddls.evaluations_per_sample() == {"generator": 2, "critic": 1}
    config = ddls.get_config()
    assert config["step_size"] == 0.02 and "entropy_weight" not in config
    assert DDLS.from_config(config).langevin_step_size == 0.02
    # The settings it passes on to RefinementModel.
    assert ddls.latent_shape == (3,) and ddls.sample_latents(2, seed=0).shape == (2, 3)
    assert DDLS(identity, critic, latent_shape=(3,), jit_compile=False).get_config()["jit_compile"] is False
    with pytest.raises(
        ValueError, match=r"^`step_size` must be a finite positive number\. Received: step_size=-1"
    ):
        DDLS(identity, critic, step_size=-1, latent_shape=(3,))


# -- DOT -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("space", ["latent", "data"])
def test_dot_with_zero_critic_leaves_samples_in_place(space):
    z = np.random.default_rng(5).normal(size=(50, 2)).astype("float32")
    dot = DOT(identity, zero_critic, space=space, latent_shape=(2,), seed=0)
    result = dot.refine(z)
    np.testing.assert_array_equal(result.samples, z)
    assert result.info["k_eff"] == 0.0


def test_dot_k_eff_of_a_linear_critic():
    z = np.random.default_rng(6).normal(size=(100, 1)).astype("float32")
    dot = DOT(identity, linear_critic([3.0]), latent_shape=(1,), seed=0)
    assert dot.estimate_k_eff(z) == pytest.approx(3.0, rel=1e-5)


@pytest.mark.parametrize("w", [[0.5, -2.0], [2e-9, -2.0]])
def test_dot_first_adam_step_is_a_signed_step(w):
    # At z = z_y the smoothed cost has zero gradient, so the first gradient is -w / k_eff; with
    # beta_1 = 0 Adam's first step is lr * g / (|g| + eps) = -lr * sign(g) up to eps. A gradient
    # below eps (1e-9 against 1e-8) moves by lr |g| / (|g| + eps), about lr / 11, in g's direction.
    w = np.array(w, "float32")
    z = np.random.default_rng(7).normal(size=(10, 2)).astype("float32")
    dot = DOT(identity, linear_critic(w), num_steps=1, k_eff=2.0, latent_shape=(2,))
    g = -w / 2.0
    expected = z - 0.01 * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(dot.refine(z).samples, expected, rtol=1e-6)
    assert dot.refine(z).generator_evaluations == 2


def test_dot_adam_steps_match_a_numpy_adam_with_momentum():
    # beta_1 = 0.5 exercises Adam's bias corrections (with DOT's default beta_1 = 0 the first
    # moment's correction is 1). Reference: Adam written out in NumPy on DOT's objective in data
    # space, sqrt(|x - y|^2 + delta^2) - w.x / k_eff, whose gradient is written out by hand.
    w = np.array([0.5, -2.0])
    y = np.random.default_rng(8).normal(size=(6, 2))
    dot = DOT(
        None,
        linear_critic(w.astype("float32")),
        space="data",
        num_steps=4,
        k_eff=2.0,
        beta_1=0.5,
        learning_rate=0.05,
    )
    x, m, v = y.copy(), np.zeros_like(y), np.zeros_like(y)
    for t in range(1, 5):
        diff = x - y
        gradient = diff / np.sqrt((diff**2).sum(axis=1, keepdims=True) + dot.delta**2) - w / 2.0
        m = 0.5 * m + 0.5 * gradient
        v = 0.9 * v + 0.1 * gradient**2
        x = x - 0.05 * (m / (1 - 0.5**t)) / (np.sqrt(v / (1 - 0.9**t)) + 1e-8)
    np.testing.assert_allclose(dot.refine(y.astype("float32")).samples, x, rtol=1e-5, atol=1e-6)


def test_dot_in_data_space_transports_the_generators_samples():
    # With a generator, data-space DOT starts from g(z) and moves samples, not latents: the same as
    # DOT without a generator given g(z) (the generator counted once, for g(z)).
    z = np.random.default_rng(9).normal(size=(8, 2)).astype("float32")

    def generator(latents):
        return 2.0 * latents + 1.0

    settings = {"space": "data", "num_steps": 5, "k_eff": 2.0, "learning_rate": 0.05, "latent_shape": (2,)}
    critic = linear_critic(np.array([0.5, -2.0], "float32"))
    with_generator = DOT(generator, critic, **settings).refine(z)
    on_samples = DOT(None, critic, **settings).refine(generator(z))
    np.testing.assert_allclose(with_generator.samples, on_samples.samples, rtol=1e-6)
    assert not np.allclose(with_generator.samples, generator(z))
    assert with_generator.generator_evaluations == 1


def test_dot_errors():
    with pytest.raises(ValueError, match="Unknown space"):
        DOT(identity, zero_critic, space="pixel")
    with pytest.raises(ValueError, match="num_steps"):
        DOT(identity, zero_critic, num_steps=-1)
    with pytest.raises(ValueError, match="beta_2"):
        DOT(identity, zero_critic, beta_2=1.0)
    with pytest.raises(ValueError, match="`z` contains NaN"):
        DOT(identity, zero_critic, latent_shape=(2,)).refine(np.full((3, 2), np.nan, "float32"))
    # Each bad knob is named as the user spelled it.
    for name, value in (("num_steps", -1), ("learning_rate", 0.0), ("epsilon", 0.0), ("k_eff", -1.0)):
        with pytest.raises(ValueError, match=rf"^`{name}` must be .* Received: {name}="):
            DOT(identity, zero_critic, **{name: value})


def test_dot_reports_the_pairs_it_evaluated_and_the_samples_it_refined():
    z = np.random.default_rng(13).normal(size=(9, 2)).astype("float32")
    estimated = DOT(identity, linear_critic([1.0, 2.0]), latent_shape=(2,), num_pairs=7, num_steps=2).refine(
        z
    )
    # k_eff from 7 pairs: both states of each pair go through the critic once.
    assert estimated.info["pair_evaluations"] == 14 and estimated.info["num_samples"] == 9
    given = DOT(identity, linear_critic([1.0, 2.0]), latent_shape=(2,), k_eff=2.0, num_steps=2).refine(z)
    assert given.info["pair_evaluations"] == 0 and given.info["k_eff"] == 2.0


def test_dot_k_eff_pairs_are_uniform_over_the_distinct_pairs():
    # Three states whose pairwise ratios |d(a) - d(b)| / |a - b| differ, one pair per estimate: the
    # estimate names the pair drawn. Over 600 seeds each of the 3 unordered pairs must come up a third
    # of the time (chi-square against uniform); a second index drawn from a wrong range favours some.
    points = np.array([[0.0], [1.0], [3.0]], "float32")
    critic = lambda x: tf.reduce_sum(x**2, axis=-1)  # noqa: E731
    ratios = {
        abs(a**2 - b**2) / abs(a - b): (i, j)
        for (i, a), (j, b) in itertools.combinations(enumerate([0, 1, 3]), 2)
    }
    dot = DOT(None, critic, space="data", num_pairs=1, latent_shape=(1,))
    drawn = [ratios[round(dot.estimate_k_eff(points, seed=seed), 4)] for seed in range(600)]
    counts = [drawn.count(pair) for pair in ((0, 1), (0, 2), (1, 2))]
    assert stats.chisquare(counts).pvalue > 1e-3, counts


# -- Independent references (the optimum, the law sampled) ----------------------------------------


def quadratic_critic(center):
    center = tf.constant(center, tf.float64)
    return lambda x: -0.5 * tf.reduce_sum(tf.square(x - center), axis=-1)


def test_dot_converges_to_each_samples_transport_optimum_from_scipy():
    # Data space, d(x) = -|x - c|^2 / 2, fixed k_eff: each sample's problem
    #   min_x sqrt(|x - y|^2 + delta^2) - d(x) / k_eff
    # is solved per sample by scipy, and DOT run to convergence must land on the same point. Its
    # solution is x = c + k_eff (y - c) / |y - c| when |y - c| > k_eff (the cost's unit gradient
    # balances the critic's), so the cost shapes the answer: a wrong cost moves it.
    from scipy import optimize

    center, k_eff, delta = np.array([1.0, -0.5]), 0.5, 0.001
    y = center + np.random.default_rng(11).normal(size=(12, 2)) * 1.5
    dot = DOT(
        None,
        quadratic_critic(center),
        space="data",
        num_steps=6000,
        learning_rate=2e-3,
        k_eff=k_eff,
        latent_shape=(2,),
        beta_1=0.9,
        beta_2=0.999,
    )
    refined = dot.refine(y).samples

    def objective(x, target):
        return math.sqrt(np.sum((x - target) ** 2) + delta**2) + 0.5 * np.sum((x - center) ** 2) / k_eff

    moved = 0
    for target, found in zip(y, refined, strict=True):
        options = {"xatol": 1e-10, "fatol": 1e-14, "maxiter": 10_000}
        best = optimize.minimize(objective, target, args=(target,), method="Nelder-Mead", options=options).x
        np.testing.assert_allclose(found, best, atol=5e-3)
        distance = np.linalg.norm(target - center)
        if distance > k_eff + 0.1:
            moved += 1
            np.testing.assert_allclose(best, center + k_eff * (target - center) / distance, atol=5e-3)
    assert moved >= 8


def test_dot_k_eff_is_the_largest_ratio_over_pairs_not_the_mean():
    # A nonlinear 3-D critic: the ratio |d(a) - d(b)| / |a - b| differs from pair to pair. With 5
    # points there are 10 pairs; 400 random pairs draw each of them (probability 1 - 10 e^-40), so the
    # estimate is the maximum over all pairs, computed here directly.
    points = np.random.default_rng(12).normal(size=(5, 3))
    critic = lambda x: tf.reduce_sum(tf.sin(2.0 * x) + 0.3 * x**2, axis=-1)  # noqa: E731
    dot = DOT(None, critic, space="data", num_pairs=400, latent_shape=(3,), seed=1)
    values = np.sum(np.sin(2.0 * points) + 0.3 * points**2, axis=-1)
    ratios = [
        abs(values[i] - values[j]) / np.linalg.norm(points[i] - points[j])
        for i in range(5)
        for j in range(i + 1, 5)
    ]
    assert dot.estimate_k_eff(points.astype("float32")) == pytest.approx(max(ratios), rel=1e-5)
    assert max(ratios) > 1.5 * np.mean(ratios)  # max and mean are far apart here


def test_mhgan_calibrates_a_miscalibrated_critic_and_then_samples_the_target():
    # Proposal g(z) = 1.5 z, target N(0.5, 1): the critic is an affine distortion of the true log
    # ratio, d = 3 d* + 2. Calibration must undo it (slope 1/3); uncalibrated, the chains would sample
    # p(x) exp(3 d*) instead, far from the target.
    generator = lambda z: PROPOSAL_STD * z  # noqa: E731
    distorted = lambda x: 3.0 * exact_log_ratio(x) + 2.0  # noqa: E731
    rng = np.random.default_rng(13)
    real = rng.normal(TARGET_MEAN, 1.0, size=(20_000, 1)).astype("float32")
    mh = MHGAN(generator, distorted, latent_shape=(1,), chain_length=40, seed=3)
    mh.calibrate(real, rng.normal(size=(20_000, 1)).astype("float32"))
    assert mh.calibration[0] == pytest.approx(1.0 / 3.0, abs=0.05)
    z = rng.normal(size=(3000, 1)).astype("float32")
    target_cdf = stats.norm(TARGET_MEAN, 1.0).cdf
    assert stats.kstest(mh.refine(z).samples[:, 0], target_cdf).pvalue > 0.01
    uncalibrated = MHGAN(generator, distorted, latent_shape=(1,), chain_length=40, seed=3)
    assert stats.kstest(uncalibrated.refine(z).samples[:, 0], target_cdf).pvalue < 1e-6


def test_drs_with_the_exact_ratio_and_no_shift_keeps_samples_of_the_target():
    # Proposal Uniform(0, 1) (g(z) = Phi(z)), target Beta(2, 1) with density 2x: d(x) = log(2x) is
    # bounded by log 2, so with gamma = 0 DRS is exact rejection sampling (accept with x / 1).
    generator = lambda z: 0.5 * (1.0 + tf.math.erf(z / math.sqrt(2.0)))  # noqa: E731
    critic = lambda x: tf.math.log(2.0 * x[:, 0])  # noqa: E731
    # (Over 30 seeds of this test the KS p-values were uniform: p = 0.51 against U(0, 1).)
    rng = np.random.default_rng(100)
    drs = DRS(generator, critic, gamma=0.0, epsilon=1e-9, latent_shape=(1,), seed=0)
    drs.fit(rng.normal(size=(20_000, 1)).astype("float32"))
    assert drs.gamma == 0.0 and drs.max_logit == pytest.approx(math.log(2.0), abs=1e-3)
    result = drs.refine(rng.normal(size=(3000, 1)).astype("float32"))
    assert stats.kstest(result.samples[:, 0], stats.beta(2, 1).cdf).pvalue > 0.01
    assert result.info["acceptance_rate"] == pytest.approx(0.5, abs=0.03)  # E[x] under the proposal
    # The proposals themselves are uniform, not Beta(2, 1): the test can fail.
    uniform = generator(rng.normal(size=(3000, 1)).astype("float32")).numpy()[:, 0]
    assert stats.kstest(uniform, stats.beta(2, 1).cdf).pvalue < 1e-6


def test_every_baseline_gives_the_same_samples_for_any_chunk_size():
    # Randomness is keyed by (seed, position) and samples are independent, so how many go into one
    # compiled call (batch_size) cannot change them. (DDLS is a RefinementModel: predict's batch_size.)
    z = np.random.default_rng(6).normal(size=(10, 2)).astype("float32")
    critic = linear_critic([1.0, -0.5])
    builders = {
        "MH-GAN": lambda b: MHGAN(identity, critic, latent_shape=(2,), chain_length=4, seed=1, batch_size=b),
        "DOT": lambda b: DOT(identity, critic, num_steps=3, latent_shape=(2,), seed=1, batch_size=b),
    }
    for name, build in builders.items():
        np.testing.assert_array_equal(build(3).refine(z).samples, build(1024).refine(z).samples, err_msg=name)
    drs = [DRS(identity, critic, latent_shape=(2,), seed=1, batch_size=b).fit(z) for b in (3, 1024)]
    np.testing.assert_array_equal(drs[0].refine(z).samples, drs[1].refine(z).samples)
