"""Each baseline's defining property, against closed forms and known distributions."""

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from dgflow_tf import RefinementModel
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


# -- DDLS ----------------------------------------------------------------------------------------


def test_ddls_with_zero_critic_samples_the_prior():
    step = 0.05
    ddls = DDLS(identity, zero_critic, step_size=step, num_steps=400, latent_shape=(1,), seed=0)
    samples = ddls.refine(np.full((4000, 1), 3.0, "float32")).samples[:, 0]
    # Discretised Ornstein-Uhlenbeck: z <- (1 - step/2) z + sqrt(step) xi has stationary
    # variance 1 / (1 - step/4); 400 steps shrink the start (3.0) by e^-10.
    stationary = stats.norm(0.0, math.sqrt(1.0 / (1.0 - step / 4.0))).cdf
    assert stats.kstest(samples, stationary).pvalue > 0.01


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


def test_dot_first_adam_step_is_a_signed_step():
    # At z = z_y the smoothed cost has zero gradient, so the first gradient is -w / k_eff; with
    # beta_1 = 0 Adam's first step is lr * g / (|g| + eps) = -lr * sign(g) up to eps.
    w = np.array([0.5, -2.0], "float32")
    z = np.random.default_rng(7).normal(size=(10, 2)).astype("float32")
    dot = DOT(identity, linear_critic(w), num_steps=1, k_eff=2.0, latent_shape=(2,))
    g = -w / 2.0
    expected = z - 0.01 * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(dot.refine(z).samples, expected, rtol=1e-6)
    assert dot.refine(z).generator_evaluations == 2


def test_dot_errors():
    with pytest.raises(ValueError, match="Unknown space"):
        DOT(identity, zero_critic, space="pixel")
    with pytest.raises(ValueError, match="num_steps"):
        DOT(identity, zero_critic, num_steps=-1)
    with pytest.raises(ValueError, match="beta_2"):
        DOT(identity, zero_critic, beta_2=1.0)
    with pytest.raises(ValueError, match="`z` contains NaN"):
        DOT(identity, zero_critic, latent_shape=(2,)).refine(np.full((3, 2), np.nan, "float32"))
