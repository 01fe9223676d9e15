"""The engine against independent references: NumPy, closed forms, known laws."""

import numpy as np
import pytest
import tensorflow as tf
from numpy_reference import TanhMLPs

from dgflow_tf import RefinementModel
from dgflow_tf.zoo.gaussian import GaussianPair, gaussian_kl

DIVERGENCES = ["KL", "JS", "logD", "chi2"]


@pytest.fixture(scope="module")
def nets():
    return TanhMLPs(latent_dim=3, data_dim=2, hidden=5, seed=0)


@pytest.fixture(scope="module")
def latents():
    return np.random.default_rng(1).normal(size=(16, 3))


@pytest.mark.parametrize("divergence", DIVERGENCES)
@pytest.mark.parametrize("num_steps", [1, 7])
def test_latent_steps_match_numpy(nets, latents, divergence, num_steps):
    generator, critic = nets.keras_models("float64")
    model = RefinementModel(
        generator,
        critic,
        divergence=divergence,
        step_size=0.05,
        entropy_weight=0.0,
        num_steps=num_steps,
        dtype="float64",
    )
    result = model.refine(latents)
    expected_samples, expected_latents = nets.refine_latent(latents, divergence, 0.05, num_steps)
    np.testing.assert_allclose(result.states, expected_latents, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.samples, expected_samples, rtol=1e-10, atol=1e-12)
    # The refinement really moved the latents.
    assert np.abs(result.states - latents).max() > 1e-3


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_data_space_steps_match_numpy(nets, divergence):
    _, critic = nets.keras_models("float64")
    x = np.random.default_rng(2).normal(size=(16, 2))
    model = RefinementModel(
        None,
        critic,
        divergence=divergence,
        step_size=0.05,
        entropy_weight=0.0,
        num_steps=5,
        space="data",
        dtype="float64",
    )
    np.testing.assert_allclose(
        model.predict(x, batch_size=5, verbose=0),
        nets.refine_data(x, divergence, 0.05, 5),
        rtol=1e-10,
        atol=1e-12,
    )


def test_data_space_with_generator_refines_generated_samples(nets, latents):
    generator, critic = nets.keras_models("float64")
    model = RefinementModel(
        generator, critic, step_size=0.05, entropy_weight=0.0, num_steps=4, space="data", dtype="float64"
    )
    expected = nets.refine_data(nets.generator(latents), "KL", 0.05, 4)
    np.testing.assert_allclose(model.refine(latents).samples, expected, rtol=1e-10, atol=1e-12)


def test_custom_divergence_function_matches_numpy(nets, latents):
    # f(r) = r log r written by hand must reproduce the KL update.
    generator, critic = nets.keras_models("float64")
    model = RefinementModel(
        generator,
        critic,
        divergence=lambda r: r * tf.math.log(r),
        step_size=0.05,
        entropy_weight=0.0,
        num_steps=3,
        dtype="float64",
    )
    expected, _ = nets.refine_latent(latents, "KL", 0.05, 3)
    np.testing.assert_allclose(model.refine(latents).samples, expected, rtol=1e-9)


def _zero_gradient_critic(x):
    return tf.reduce_sum(x, axis=-1) * 0.0


@pytest.mark.parametrize("step_size, entropy_weight, num_steps", [(0.1, 0.01, 25), (0.05, 0.5, 4)])
def test_noise_variance_is_two_gamma_eta_k(step_size, entropy_weight, num_steps):
    x = np.zeros((4000, 6))
    model = RefinementModel(
        None,
        _zero_gradient_critic,
        step_size=step_size,
        entropy_weight=entropy_weight,
        num_steps=num_steps,
        space="data",
        seed=7,
        dtype="float64",
    )
    increments = (model.predict(x, batch_size=1000, verbose=0) - x).ravel()
    expected = 2.0 * entropy_weight * step_size * num_steps
    n = increments.size
    # Sample variance of n normal draws has relative standard error sqrt(2 / n).
    assert abs(increments.var() / expected - 1.0) < 5.0 * np.sqrt(2.0 / n)
    assert abs(increments.mean()) < 5.0 * np.sqrt(expected / n)


def test_noise_is_independent_across_steps_and_samples():
    model = RefinementModel(
        None,
        _zero_gradient_critic,
        step_size=0.5,
        entropy_weight=1.0,
        num_steps=2,
        space="data",
        seed=3,
        dtype="float64",
    )
    result = model.refine(np.zeros((5000, 2)), trajectory_every=1)
    steps = np.diff(result.state_trajectory, axis=0)  # [2, batch, 2], each N(0, 1)
    first, second = steps[0].ravel(), steps[1].ravel()
    assert abs(np.corrcoef(first, second)[0, 1]) < 5.0 / np.sqrt(first.size)
    assert abs(np.corrcoef(steps[0, :, 0], steps[0, :, 1])[0, 1]) < 5.0 / np.sqrt(5000)


def test_zero_entropy_weight_is_deterministic_without_seed(nets, latents):
    generator, critic = nets.keras_models("float64")
    model = RefinementModel(generator, critic, entropy_weight=0.0, num_steps=3, dtype="float64")
    np.testing.assert_array_equal(model.refine(latents).samples, model.refine(latents).samples)


@pytest.fixture(scope="module")
def gaussian_pair():
    return GaussianPair(
        data_mean=[1.0, -0.5],
        data_std=[0.5, 0.7],
        model_mean=[0.0, 0.0],
        model_std=[1.0, 1.0],
        dtype="float64",
    )


def test_gaussian_deterministic_flow_matches_closed_form(gaussian_pair):
    # With the exact ratio the data-space KL flow is affine in x: check every sample.
    x = gaussian_pair.generator(tf.constant(gaussian_pair.sample_latents(500, seed=0))).numpy()
    step_size, num_steps = 0.01, 25
    model = RefinementModel(
        None,
        gaussian_pair.log_ratio,
        step_size=step_size,
        entropy_weight=0.0,
        num_steps=num_steps,
        space="data",
        dtype="float64",
    )
    refined = model.predict(x, verbose=0)
    a = 1.0 / gaussian_pair.model_std**2 - 1.0 / gaussian_pair.data_std**2
    c = (
        gaussian_pair.data_mean / gaussian_pair.data_std**2
        - gaussian_pair.model_mean / gaussian_pair.model_std**2
    )
    fixed_point = -c / a
    expected = (1.0 + step_size * a) ** num_steps * (x - fixed_point) + fixed_point
    np.testing.assert_allclose(refined, expected, rtol=1e-9, atol=1e-12)


def test_refined_moments_of_a_shifted_scaled_model_match_the_geometric_series():
    # The flow is x' = r x + eta c + sqrt(2 gamma eta) xi with r = 1 + eta a: after K steps the mean is
    # r^K (mu - x*) + x* and the variance r^(2K) s^2 + 2 gamma eta (1 - r^(2K)) / (1 - r^2).
    pair = GaussianPair(
        data_mean=[1.0, -0.5], data_std=[0.5, 0.7], model_mean=[0.3, 2.0], model_std=[1.5, 0.8]
    )
    eta, gamma, k = 0.02, 0.05, 30
    a = 1.0 / np.array([1.5, 0.8]) ** 2 - 1.0 / np.array([0.5, 0.7]) ** 2
    c = np.array([1.0, -0.5]) / np.array([0.5, 0.7]) ** 2 - np.array([0.3, 2.0]) / np.array([1.5, 0.8]) ** 2
    r, fixed_point = 1.0 + eta * a, -c / a
    mean = r**k * (np.array([0.3, 2.0]) - fixed_point) + fixed_point
    variance = r ** (2 * k) * np.array([1.5, 0.8]) ** 2 + 2 * gamma * eta * (1 - r ** (2 * k)) / (1 - r**2)
    got_mean, got_std = pair.refined_moments(eta, gamma, k)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(got_std, np.sqrt(variance), rtol=1e-12)


def test_gaussian_stochastic_flow_moments_match_closed_form(gaussian_pair):
    n = 20000
    latents = gaussian_pair.sample_latents(n, seed=1)
    step_size, gamma, num_steps = 0.01, 0.05, 25
    model = RefinementModel(
        gaussian_pair.generator,
        gaussian_pair.log_ratio,
        step_size=step_size,
        entropy_weight=gamma,
        num_steps=num_steps,
        seed=11,
        dtype="float64",
    )
    refined = model.predict(latents, batch_size=4096, verbose=0)
    mean, std = gaussian_pair.refined_moments(step_size, gamma, num_steps)
    # Latent and data space coincide here because model_std = 1.
    # Five standard errors of the sample mean and of the sample standard deviation.
    assert np.all(np.abs(refined.mean(axis=0) - mean) < 5.0 * std / np.sqrt(n))
    assert np.all(np.abs(refined.std(axis=0) / std - 1.0) < 5.0 * np.sqrt(0.5 / n))


def test_refinement_moves_gaussian_model_toward_data(gaussian_pair):
    # The frozen ratio is valid near the model: the short flow brings both mean and spread closer.
    latents = gaussian_pair.sample_latents(5000, seed=2)
    before = gaussian_pair.generator(tf.constant(latents)).numpy()
    model = RefinementModel(
        gaussian_pair.generator,
        gaussian_pair.log_ratio,
        step_size=0.01,
        entropy_weight=0.01,
        num_steps=25,
        seed=0,
        dtype="float64",
    )
    after = model.predict(latents, verbose=0)
    data_mean, data_std = gaussian_pair.data_mean, gaussian_pair.data_std
    assert np.all(np.abs(after.mean(0) - data_mean) < np.abs(before.mean(0) - data_mean) - 0.1)
    assert np.all(np.abs(after.std(0) - data_std) < np.abs(before.std(0) - data_std))
    kl_before = gaussian_kl(before.mean(0), before.std(0), data_mean, data_std)
    kl_after = gaussian_kl(after.mean(0), after.std(0), data_mean, data_std)
    assert kl_after < 0.2 * kl_before


@pytest.mark.parametrize(
    "jit_compile, policy, tolerance",
    [
        # float32 in graph mode or under XLA: 7 steps of ~1e-7 relative rounding each.
        (False, "float32", 1e-5),
        (True, "float32", 1e-5),
        # bfloat16 nets (8-bit significands, ~4e-3 relative per op) with float32 latents and updates:
        # the drift is off by a few parts in a thousand, and 7 steps of 0.05 move z by ~0.2, so the
        # states agree with float64 to ~1e-2.
        (False, "mixed_bfloat16", 2e-2),
    ],
)
def test_compiled_and_reduced_precision_refinement_match_the_float64_reference(
    nets, latents, jit_compile, policy, tolerance
):
    import keras

    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy)
    try:
        generator, critic = nets.keras_models("float32" if policy == "float32" else None)
    finally:
        keras.config.set_dtype_policy(previous)
    model = RefinementModel(
        generator,
        critic,
        step_size=0.05,
        entropy_weight=0.0,
        num_steps=7,
        jit_compile=jit_compile,
        dtype="float32",
    )
    result = model.refine(latents.astype("float32"))
    _, expected = nets.refine_latent(latents, "KL", 0.05, 7)
    np.testing.assert_allclose(result.states, expected, rtol=0, atol=tolerance)
    assert np.abs(result.states - latents).max() > 10 * tolerance  # the steps moved z beyond the tolerance
