"""The MALA solver: its acceptance ratio against SciPy's densities, its fixed point against a known
Gaussian, the divergences' potentials against numerical derivatives, batching and non-finite proposals."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from dgflow_tf import RefinementModel, critics, divergences, solvers


def test_log_acceptance_matches_scipy_gaussian_densities():
    rng = np.random.default_rng(0)
    z, proposal, v, v_new = (rng.normal(size=(5, 3)) for _ in range(4))
    phi, phi_new = rng.normal(size=5), rng.normal(size=5)
    eta, gamma = rng.uniform(0.01, 0.2, size=5), 0.07
    expected = []
    for i in range(5):
        cov = 2.0 * gamma * eta[i] * np.eye(3)
        forward = stats.multivariate_normal.logpdf(proposal[i], z[i] + eta[i] * v[i], cov)
        backward = stats.multivariate_normal.logpdf(z[i], proposal[i] + eta[i] * v_new[i], cov)
        expected.append((phi_new[i] - phi[i]) / gamma + backward - forward)
    got = solvers.log_acceptance(*(tf.constant(a) for a in (z, proposal, phi, phi_new, v, v_new, eta)), gamma)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("name", ["KL", "JS", "logD", "chi2"])
def test_potential_is_the_antiderivative_of_the_drift_scale(name):
    divergence = divergences.get(name)
    d = tf.constant(np.linspace(-4.0, 4.0, 17), tf.float64)
    h = 1e-5
    numeric = (divergence.potential(d + h) - divergence.potential(d - h)) / (2 * h)
    np.testing.assert_allclose(numeric.numpy(), divergence.drift_scale(d).numpy(), rtol=1e-6)
    # The closed form equals -f'(exp(-d)), by central differences of f itself.
    r = tf.exp(-d)
    f_prime = (divergence.f(r * (1 + h)) - divergence.f(r * (1 - h))) / (2 * h * r)
    np.testing.assert_allclose(divergence.potential(d).numpy(), -f_prime.numpy(), rtol=1e-5, atol=1e-8)


def test_custom_divergence_potential_by_autodiff():
    hellinger = divergences.FDivergence(lambda r: (tf.sqrt(r) - 1.0) ** 2, name="hellinger")
    d = tf.constant([-1.0, 0.0, 2.0], tf.float64)
    # f'(r) = 1 - 1 / sqrt(r), so -f'(exp(-d)) = exp(d / 2) - 1.
    np.testing.assert_allclose(hellinger.potential(d).numpy(), np.exp(d.numpy() / 2) - 1, rtol=1e-12)


def _identity():
    return keras.Sequential([keras.Input((2,)), keras.layers.Identity()])


def test_mala_samples_the_flows_fixed_point_where_euler_is_biased():
    # d(z) = -a |z|^2 / 2 with KL: the flow's fixed point exp(d / gamma) is N(0, gamma / a) per
    # coordinate. Euler at eta * a = 1 has the stationary variance gamma / (a (1 - eta a / 2)),
    # twice that; MALA's acceptance test removes most of the bias (not all in 150 steps: each sample
    # adapts its own step to its acceptance, at a rate that decays after 10 steps; measured 3 % low,
    # 10 % with adaptation at a constant rate).
    a, gamma = 4.0, 0.05
    critic = critics.get(lambda x: -0.5 * a * tf.reduce_sum(tf.square(x), axis=-1))
    start = np.random.default_rng(1).normal(size=(3000, 2)).astype("float32")
    settings = dict(entropy_weight=gamma, num_steps=150, seed=5, step_size=1.0 / a)
    euler = RefinementModel(_identity(), critic, **settings).predict(start, batch_size=3000, verbose=0)
    mala = RefinementModel(_identity(), critic, solver="mala", **settings).predict(
        start, batch_size=3000, verbose=0
    )
    target = np.sqrt(gamma / a)
    assert np.var(euler) == pytest.approx(2 * target**2, rel=0.1)
    assert stats.kstest(mala.reshape(-1) / target, "norm").pvalue > 1e-3
    assert np.var(mala) == pytest.approx(target**2, rel=0.06)


def test_mala_adaptation_diminishes_so_a_long_chain_reaches_its_target():
    # A flat critic and a standard normal prior at gamma = 1 (DDLS's energy): the target is N(0, 1).
    # Chains start at 3. Adapting every step at a constant rate for 300 steps left the spread 13 %
    # short (std 0.874, KS p 9e-6: a sample's step keeps reacting to where it is); with the rate
    # decaying as 1/k after 10 steps it is within sampling error (std 0.967, p 0.43).
    n = 4000
    out = solvers.simulate_mala(
        lambda z: z,
        critics.get(lambda x: 0.0 * tf.reduce_sum(x, axis=-1)),
        divergences.get("KL"),
        tf.fill([n, 1], 3.0),
        tf.range(n, dtype=tf.int64),
        tf.constant([1, 2]),
        step_size=0.1,
        entropy_weight=1.0,
        num_steps=300,
        log_prior=lambda z: -0.5 * tf.reduce_sum(tf.square(z), axis=-1),
    )
    samples = out["samples"].numpy().reshape(-1)
    assert stats.kstest(samples, "norm").pvalue > 0.01
    assert np.std(samples) == pytest.approx(1.0, abs=0.05)


def test_mala_same_seed_same_samples_at_any_batch_size():
    critic = critics.get(lambda x: -tf.reduce_sum(tf.square(x - 1.0), axis=-1))
    latents = np.random.default_rng(2).normal(size=(29, 2)).astype("float32")
    model = RefinementModel(_identity(), critic, solver="mala", num_steps=7, seed=3)
    a = model.predict(latents, batch_size=4, verbose=0)
    b = RefinementModel(_identity(), critic, solver="mala", num_steps=7, seed=3).predict(
        latents, batch_size=29, verbose=0
    )
    c = RefinementModel(_identity(), critic, solver="mala", num_steps=7, seed=4).predict(
        latents, batch_size=29, verbose=0
    )
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-4


def test_mala_rejects_proposals_that_turn_nonfinite():
    # log(1 - |x|^2) is NaN outside the unit disc; a large step proposes there for most samples.
    critic = critics.get(lambda x: tf.math.log(1.0 - tf.reduce_sum(tf.square(x), axis=-1)))
    latents = np.random.default_rng(4).uniform(-0.5, 0.5, size=(64, 2)).astype("float32")
    model = RefinementModel(_identity(), critic, solver="mala", step_size=0.5, num_steps=10, seed=0)
    result = model.refine(latents)
    assert np.all(np.isfinite(result.samples))
    assert np.all(np.sum(result.samples**2, axis=1) < 1.0)


def test_mala_counts_its_start_as_an_evaluation():
    critic = critics.get(lambda x: -tf.reduce_sum(tf.square(x), axis=-1))
    euler = RefinementModel(_identity(), critic, num_steps=10).evaluations_per_sample()
    mala = RefinementModel(_identity(), critic, num_steps=10, solver="mala").evaluations_per_sample()
    assert euler == {"generator": 11, "critic": 10}
    assert mala == {"generator": 11, "critic": 11}


def test_mala_settings_are_validated():
    critic = critics.get(lambda x: -tf.reduce_sum(tf.square(x), axis=-1))
    with pytest.raises(ValueError, match="needs entropy_weight > 0"):
        RefinementModel(_identity(), critic, solver="mala", entropy_weight=0.0)
    with pytest.raises(ValueError, match="Unknown solver 'heun'"):
        RefinementModel(_identity(), critic, solver="heun")


def test_mala_under_a_flat_critic_accepts_every_proposal_and_records_its_trajectory():
    # d = 0: no drift and a symmetric proposal, so every step is accepted and
    # z_{k+1} = z_k + sqrt(2 gamma eta_k) xi_k, with eta_{k+1} = eta_k exp(rate (1 - target)).
    from dgflow_tf import noise

    z = np.random.default_rng(3).normal(size=(5, 2))
    positions, seed = tf.range(5, dtype=tf.int64) + 7, noise.sanitize_seed(11)
    outputs = solvers.simulate_mala(
        lambda x: x,
        critics.get(lambda x: 0.0 * x[:, 0]),
        divergences.get("KL"),
        tf.constant(z),
        positions,
        seed,
        step_size=0.04,
        entropy_weight=0.5,
        num_steps=3,
        trajectory_every=2,
        target_acceptance=0.6,
        adaptation_rate=0.5,
    )
    xi = noise.step_noise(seed, positions, 3, [2], tf.float64).numpy()
    eta, states = 0.04, [z]
    for k in range(3):
        states.append(states[-1] + np.sqrt(2 * 0.5 * eta) * xi[:, k])
        eta *= np.exp(0.5 * (1.0 - 0.6))
    np.testing.assert_allclose(outputs["states"].numpy(), states[3], rtol=1e-12)
    np.testing.assert_allclose(outputs["step_sizes"].numpy(), eta, rtol=1e-12)
    np.testing.assert_array_equal(outputs["acceptance_rate"].numpy(), 1.0)
    # Steps 0, 2 and the last, 3.
    recorded = np.stack([states[i] for i in (0, 2, 3)])
    for name in ("state", "sample"):
        np.testing.assert_allclose(outputs[f"{name}_trajectory"].numpy(), recorded, rtol=1e-12)
    np.testing.assert_array_equal(outputs["critic_trajectory"].numpy(), np.zeros((3, 5)))
