"""The engine's functions on their own: the drift and the K-step loop against NumPy, golden bits."""

import hashlib

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
from numpy_reference import TanhMLPs

import dgflow_tf
from dgflow_tf import critics, divergences, engine, noise, schedules
from dgflow_tf.zoo import toy_gans

DIVERGENCES = ["KL", "JS", "logD", "chi2"]


@pytest.fixture(scope="module")
def nets():
    return TanhMLPs(latent_dim=3, data_dim=2, hidden=5, seed=4)


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_drift_matches_numpy(nets, divergence):
    generator, critic = nets.keras_models("float64")
    z = np.random.default_rng(5).normal(size=(9, 3))
    velocity, samples, logits = dgflow_tf.drift(
        generator, dgflow_tf.critics.get(critic), divergences.get(divergence), tf.constant(z)
    )
    np.testing.assert_allclose(velocity.numpy(), nets.latent_drift(z, divergence), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(samples.numpy(), nets.generator(z), rtol=1e-12)
    np.testing.assert_allclose(logits.numpy(), nets.critic(nets.generator(z)), rtol=1e-12)


def _closed_form_step_sizes(schedule, step_size, num_steps):
    """Equal steps, or the linear schedule's: from 2 eta / (1 + f) down to f times that, mean eta."""
    if schedule == "constant":
        return np.full(num_steps, step_size)
    first = 2.0 * step_size / (1.0 + schedules.FINAL_FRACTION)
    return np.linspace(first, schedules.FINAL_FRACTION * first, num_steps)


@pytest.mark.parametrize(
    "schedule, distribution", [("constant", "normal"), ("linear", "normal"), ("constant", "rademacher")]
)
@pytest.mark.parametrize("divergence", ["KL", "JS"])
def test_noisy_loop_matches_numpy_with_the_same_noise(nets, divergence, schedule, distribution):
    # z_{k+1} = z_k + eta_k s grad d + sqrt(2 gamma eta_k) xi_k, xi_k the library's keyed noise of step k:
    # each step's noise is scaled by its own step.
    generator, critic = nets.keras_models("float64")
    z = np.random.default_rng(6).normal(size=(12, 3))
    positions = tf.range(12, dtype=tf.int64) + 40
    seed = noise.sanitize_seed(3)
    outputs = dgflow_tf.simulate(
        generator,
        dgflow_tf.critics.get(critic),
        divergences.get(divergence),
        tf.constant(z),
        positions,
        seed,
        step_size=0.05,
        entropy_weight=0.2,
        num_steps=6,
        trajectory_every=2,
        step_schedule=schedule,
        noise_distribution=distribution,
    )
    xi = noise.step_noise(seed, positions, 6, [3], tf.float64, distribution).numpy()
    assert distribution == "normal" or set(np.unique(xi)) == {-1.0, 1.0}
    sizes = _closed_form_step_sizes(schedule, 0.05, 6)
    samples, states = nets.refine_latent(z, divergence, sizes, 6, entropy_weight=0.2, noise=xi)
    np.testing.assert_allclose(outputs["states"].numpy(), states, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(outputs["samples"].numpy(), samples, rtol=1e-10, atol=1e-12)
    # The trajectory records steps 0, 2, 4, 6.
    _, at_four = nets.refine_latent(z, divergence, sizes[:4], 4, entropy_weight=0.2, noise=xi)
    np.testing.assert_allclose(outputs["state_trajectory"].numpy()[2], at_four, rtol=1e-10, atol=1e-12)
    assert outputs["state_trajectory"].shape[0] == 4
    np.testing.assert_array_equal(outputs["nonfinite_step"].numpy(), -1)
    if schedule != "constant":
        # Equal steps of the same mean land elsewhere: the schedule is applied.
        _, equal = nets.refine_latent(z, divergence, 0.05, 6, entropy_weight=0.2, noise=xi)
        assert np.abs(states - equal).max() > 1e-3


def test_predict_on_batch_is_predict_of_one_batch():
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="tanh")])
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model = dgflow_tf.RefinementModel(generator, critic, step_size=0.05, num_steps=3, seed=4)
    z = np.random.default_rng(7).normal(size=(10, 2)).astype("float32")
    np.testing.assert_array_equal(model.predict_on_batch(z), model.predict(z, batch_size=10, verbose=0))


# Refinement digests recorded on this CPU kind; the refactor of the engine keeps them bit for bit.
GOLDEN = {
    "cpu_kind": "avx avx2 fma",
    "latent": "3ec782842cf20f51",
    "data": "24b6f38d2a2da408",
}


def _golden_runs():
    rng = np.random.default_rng(8)
    z = rng.normal(size=(37, 4)).astype("float32")
    generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh")])
    generator.set_weights([rng.normal(size=(4, 3)).astype("float32"), np.zeros(3, "float32")])
    critic = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    critic.set_weights([rng.normal(size=(3, 1)).astype("float32"), np.zeros(1, "float32")])
    latent = dgflow_tf.RefinementModel(
        generator, critic, divergence="JS", step_size=0.05, num_steps=9, seed=5
    )
    data = dgflow_tf.RefinementModel(None, critic, space="data", step_size=0.02, num_steps=9, seed=6)
    x = rng.normal(size=(37, 3)).astype("float32")
    return {
        "latent": latent.predict(z, batch_size=16, verbose=0),
        "data": data.predict(x, batch_size=16, verbose=0),
    }


@pytest.mark.skipif(toy_gans.cpu_kind() != GOLDEN["cpu_kind"], reason="golden bits are per CPU kind")
def test_golden_bits():
    for name, samples in _golden_runs().items():
        assert hashlib.sha256(samples.tobytes()).hexdigest()[:16] == GOLDEN[name], name


def test_the_configuration_lists_every_choice_the_modules_implement():
    from dgflow_tf import config, priors

    assert tuple(divergences.get(name).name for name in config.DIVERGENCES) == config.DIVERGENCES
    assert all(type(priors.get(name)).__name__ for name in config.PRIORS)
    for boundary in config.BOUNDARIES:
        assert priors.check_boundary(boundary) == boundary
    assert tuple(noise.STEP_NOISE) == config.NOISE_DISTRIBUTIONS
    with pytest.raises(ValueError, match="Unknown divergence"):
        divergences.get("not-a-divergence")


def test_each_graph_is_traced_once_per_input_signature():
    # Batches of different sizes (and a last, shorter chunk) reuse one trace: the batch axis is
    # traced as unknown, so TensorFlow's retracing warnings have nothing to report.
    from dgflow_tf.baselines import DOT, MHGAN

    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="tanh")])
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    z = np.random.default_rng(9).normal(size=(23, 2)).astype("float32")
    model = dgflow_tf.RefinementModel(generator, critic, step_size=0.01, num_steps=3, seed=0)
    model.predict(z, batch_size=10, verbose=0)
    model.predict(z, batch_size=7, verbose=0)
    model.refine(z[:5])
    model.generate(z, batch_size=10)
    compiled = [*model._caches.compiled.functions.values(), *model._caches.generate.values()]
    dot = DOT(generator, critic, num_steps=3, seed=0, batch_size=10)
    dot.refine(z)
    mh = MHGAN(generator, critic, chain_length=4, seed=0, batch_size=10)
    mh.refine(z)
    compiled += [*dot._compiled.values(), *mh._compiled.values()]
    assert len(compiled) >= 6
    assert [f.experimental_get_tracing_count() for f in compiled] == [1] * len(compiled)


def test_the_models_signature_shows_the_configurations_defaults():
    import inspect

    from dgflow_tf import config

    parameters = inspect.signature(dgflow_tf.RefinementModel.__init__).parameters
    shown = {name: parameters[name].default for name in config.DEFAULTS}
    assert shown == config.DEFAULTS


@pytest.mark.parametrize(
    "num_steps, every, expected",
    [(6, 2, [0, 2, 4, 6]), (5, 2, [0, 2, 4, 5]), (4, 1, [0, 1, 2, 3, 4]), (3, 5, [0, 3]), (3, 0, [])],
)
def test_a_trajectory_records_every_kth_step_and_the_last(num_steps, every, expected):
    from dgflow_tf.engine import record_steps

    assert record_steps(num_steps, every) == expected


def test_a_trajectory_ends_at_the_final_state_when_k_is_not_a_multiple(nets):
    # K = 5, every 2: the loop records steps 0, 2, 4; the final state (step 5) is recorded after it.
    generator, critic = nets.keras_models("float64")
    z = np.random.default_rng(8).normal(size=(6, 3))
    outputs = dgflow_tf.simulate(
        generator,
        dgflow_tf.critics.get(critic),
        divergences.get("KL"),
        tf.constant(z),
        tf.range(6, dtype=tf.int64),
        noise.sanitize_seed(1),
        step_size=0.05,
        entropy_weight=0.1,
        num_steps=5,
        trajectory_every=2,
    )
    trajectory = outputs["state_trajectory"].numpy()
    assert trajectory.shape[0] == 4
    np.testing.assert_array_equal(trajectory[0], z)
    np.testing.assert_array_equal(trajectory[-1], outputs["states"].numpy())
    np.testing.assert_array_equal(outputs["sample_trajectory"].numpy()[-1], outputs["samples"].numpy())


def test_a_critic_cut_off_from_the_states_names_the_usual_causes():
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model = dgflow_tf.RefinementModel(
        generator, lambda x: tf.stop_gradient(x[:, 0]), step_size=0.1, num_steps=1
    )
    with pytest.raises(
        ValueError, match=r"built from TensorFlow ops, do not call \.numpy\(\) or tf\.stop_gradient"
    ):
        model.predict(np.zeros((2, 2), "float32"), verbose=0)


@pytest.mark.parametrize("distribution", ["normal", "rademacher"])
def test_euler_on_a_quadratic_critic_has_the_closed_form_moments(distribution):
    # Data space, d(x) = -x^2 / 2, KL: x' = a x + b xi with a = 1 - eta, b = sqrt(2 gamma eta). From
    # x_0 = 1, after K steps: mean a^K, variance b^2 (1 - a^2K) / (1 - a^2) for both noises (only the
    # noise's variance enters), but the excess kurtosis of the sum is kappa * sum(a^4j) b^4 / var^2,
    # kappa = 0 for normal and -2 for signs: the refinement draws the noise it is set to.
    eta, gamma, num_steps, batch = 0.1, 0.5, 30, 20_000
    critic = dgflow_tf.critics.get(lambda x: -0.5 * tf.reduce_sum(tf.square(x), axis=-1))
    outputs = dgflow_tf.simulate(
        lambda x: x,
        critic,
        divergences.get("KL"),
        tf.ones([batch, 1], tf.float64),
        tf.range(batch, dtype=tf.int64),
        noise.sanitize_seed(12),
        step_size=eta,
        entropy_weight=gamma,
        num_steps=num_steps,
        noise_distribution=distribution,
    )
    x = outputs["states"].numpy().ravel()
    a, b2 = 1.0 - eta, 2.0 * gamma * eta
    powers = a ** (2 * np.arange(num_steps))
    variance = b2 * powers.sum()
    kurtosis = {"normal": 0.0, "rademacher": -2.0}[distribution] * b2**2 * (powers**2).sum() / variance**2
    assert abs(x.mean() - a**num_steps) < 4 * np.sqrt(variance / batch)
    assert abs(x.var() / variance - 1.0) < 4 * np.sqrt(2.0 / batch)
    # The two kurtoses are -0.21 apart; the estimate's standard error is sqrt(24 / batch) = 0.035.
    assert abs(scipy.stats.kurtosis(x) - kurtosis) < 4 * np.sqrt(24.0 / batch)


def _contracting(states, **settings):
    # Data space, d(x) = -|x|^2 / 2 with KL and no noise: x_k = (1 - eta)^k x_0 (eta = 0.25 here).
    critic = dgflow_tf.critics.get(lambda x: -0.5 * tf.reduce_sum(tf.square(x), axis=-1))
    states = tf.constant(states, tf.float64)
    return dgflow_tf.simulate(
        lambda x: x,
        critic,
        divergences.get("KL"),
        states,
        tf.range(states.shape[0], dtype=tf.int64),
        noise.sanitize_seed(0),
        step_size=0.25,
        entropy_weight=0.0,
        num_steps=3,
        **settings,
    )


def test_a_nonfinite_sample_is_frozen_alone():
    start = np.array([[1.0, 2.0], [np.nan, 0.0], [-4.0, 0.5]])
    outputs = _contracting(start)
    finite = [0, 2]
    np.testing.assert_allclose(outputs["states"].numpy()[finite], 0.75**3 * start[finite], rtol=1e-12)
    np.testing.assert_array_equal(outputs["nonfinite_step"].numpy(), [-1, 0, -1])


def test_the_constraint_applies_after_every_step():
    # Clipped to [-1, 1] after each step: from 4 the contraction gives 3, clipped to 1, then 0.75,
    # 0.5625; from 0.5 it never reaches the box's face: 0.5 * 0.75^3.
    outputs = _contracting(np.array([[4.0], [0.5]]), constrain=lambda x: tf.clip_by_value(x, -1.0, 1.0))
    np.testing.assert_allclose(outputs["states"].numpy().ravel(), [0.5625, 0.5 * 0.75**3], rtol=1e-12)


def test_per_sample_sum_and_the_log_prior_term_of_the_drift():
    x = np.arange(12, dtype="float32").reshape(3, 2, 2)
    np.testing.assert_array_equal(engine.per_sample_sum(tf.constant(x)).numpy(), x.reshape(3, -1).sum(1))
    # A flat critic and a standard normal log prior: the drift is grad log p(z) = -z, which needs the
    # prior evaluated at the states themselves.
    z = tf.constant([[1.0, -2.0], [0.5, 3.0]])
    flat = critics.get(lambda x: 0.0 * tf.reduce_sum(x, axis=-1))
    velocity = engine.drift(
        lambda s: s, flat, divergences.get("KL"), z, lambda s: -0.5 * tf.reduce_sum(s**2, axis=-1)
    )[0]
    np.testing.assert_allclose(velocity.numpy(), -z.numpy())


def test_a_noiseless_langevin_step_draws_no_noise():
    def no_noise(k):
        raise AssertionError("gamma = 0 must not draw noise")

    step = engine.langevin_step(
        lambda z: (-z, z, tf.zeros([2])), step_size=0.1, entropy_weight=0.0, noise=no_noise
    )
    np.testing.assert_allclose(step(tf.ones([2, 2]), 0)[0].numpy(), 0.9)
