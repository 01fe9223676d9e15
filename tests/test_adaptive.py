"""The adaptive solver against a NumPy re-derivation of its rule, closed forms on quadratic and linear
critics, batching and seeds, and its errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel, adaptive, critics, divergences, noise

KL = divergences.get("KL")


def _quadratic(center, width):
    """`d(x) = -|x - center|^2 / (2 width)`, whose drift is `-(x - center) / width`."""
    return critics.get(lambda x: -tf.reduce_sum(tf.square(x - center), axis=-1) / (2.0 * width))


def _simulate(states, critic=None, **settings):
    settings = {"step_size": 0.05, "entropy_weight": 0.0, "num_steps": 10, **settings}
    states = tf.constant(states, tf.float32)
    positions = tf.range(states.shape[0], dtype=tf.int64)
    critic = critic or _quadratic(0.0, 0.1)
    seed = tf.constant([3, 4])
    return adaptive.simulate_adaptive(lambda z: z, critic, KL, states, positions, seed, **settings)


def test_matches_a_numpy_rederivation_of_the_rule_with_the_libraries_noise():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(6, 3)).astype("float32")
    center, width, eta, gamma, steps = 0.5, 0.2, 0.03, 0.05, 12
    out = _simulate(start, _quadratic(center, width), step_size=eta, entropy_weight=gamma, num_steps=steps)
    xi = noise.step_noise(tf.constant([3, 4]), tf.range(6, dtype=tf.int64), steps, [3], tf.float32).numpy()
    z = start.astype(np.float64)
    sizes = np.full(6, adaptive.INITIAL_FACTOR * eta)
    previous = None
    for k in range(steps):
        v = -(z - center) / width
        if previous is not None:
            reversed_ = np.sum(v * previous, axis=1) < 0
            sizes = np.where(reversed_, sizes * adaptive.SHRINK, sizes * adaptive.GROW)
        z = z + sizes[:, None] * v + np.sqrt(2 * gamma * sizes)[:, None] * xi[:, k]
        previous = v
    np.testing.assert_allclose(out["samples"].numpy(), z, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["step_sizes"].numpy(), sizes, rtol=1e-6)


def test_settles_on_a_mode_where_euler_at_the_same_step_oscillates():
    # Drift -z / w: Euler at eta = 2 w maps z to -z forever. Every reversal halves the adaptive
    # step, so the contraction |1 - eta_k / w| falls below 1 and the sample converges.
    width = 0.1
    euler = RefinementModel(
        keras.Sequential([keras.Input((2,)), keras.layers.Identity()]),
        _quadratic(0.0, width),
        step_size=2 * width,
        entropy_weight=0.0,
        num_steps=30,
    ).predict(np.full((2, 2), 1.0, "float32"), verbose=0)
    np.testing.assert_allclose(np.abs(euler), 1.0, rtol=1e-5)
    out = _simulate(np.full((2, 2), 1.0), _quadratic(0.0, width), step_size=2 * width, num_steps=30)
    assert np.max(np.abs(out["samples"].numpy())) < 1e-3


def test_steps_grow_geometrically_while_the_drift_keeps_its_direction_if_asked():
    # A linear critic: the drift never reverses, so after K steps eta = factor * eta_0 * grow^(K-1)
    # and the sample has moved sum_k eta_k along the gradient.
    critic = critics.get(lambda x: tf.reduce_sum(x, axis=-1))
    out = _simulate(np.zeros((3, 2)), critic, step_size=0.01, num_steps=5, grow=1.1)
    sizes = adaptive.INITIAL_FACTOR * 0.01 * 1.1 ** np.arange(5)
    np.testing.assert_allclose(out["step_sizes"].numpy(), sizes[-1], rtol=1e-6)
    np.testing.assert_allclose(out["samples"].numpy(), sizes.sum(), rtol=1e-5)


def test_refinement_model_is_batch_invariant_and_seeded():
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, kernel_initializer="ones")])
    model = RefinementModel(generator, _quadratic(0.3, 0.5), solver="adaptive", seed=7, num_steps=6)
    latents = np.random.default_rng(2).normal(size=(9, 2)).astype("float32")
    whole = model.predict(latents, batch_size=9, verbose=0)
    np.testing.assert_array_equal(model.predict(latents, batch_size=4, verbose=0), whole)
    other = RefinementModel(generator, _quadratic(0.3, 0.5), solver="adaptive", seed=8, num_steps=6)
    assert not np.allclose(other.predict(latents, verbose=0), whole)
    euler = RefinementModel(generator, _quadratic(0.3, 0.5), seed=7, num_steps=6)
    assert model.evaluations_per_sample() == euler.evaluations_per_sample() == {"generator": 7, "critic": 6}


def test_trajectory_and_rademacher_noise_and_a_bounded_prior():
    settings = dict(entropy_weight=0.1, trajectory_every=2, noise_distribution="rademacher")
    out = _simulate(np.full((4, 2), 0.9), **settings)
    trajectory = out["state_trajectory"].numpy()
    assert trajectory.shape == (6, 4, 2)  # steps 0, 2, ..., 10
    np.testing.assert_allclose(trajectory[-1], out["states"].numpy())
    np.testing.assert_allclose(trajectory[0], 0.9)
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Identity()])
    model = RefinementModel(
        generator, _quadratic(3.0, 0.1), solver="adaptive", latent_prior="uniform", num_steps=10, seed=0
    )
    refined = model.predict(model.sample_latents(16, seed=1), verbose=0)
    assert np.all(np.abs(refined) <= 1.0)
    assert np.max(refined) > 0.99  # pulled to the face of the box nearest the mode at 3


def test_a_nonfinite_sample_is_frozen_and_the_others_refined():
    critic = critics.get(lambda x: -tf.reduce_sum(tf.square(x), axis=-1) / tf.where(x[:, 0] > 5.0, 0.0, 1.0))
    out = _simulate(np.array([[1.0, 1.0], [6.0, 0.0]]), critic, num_steps=4)
    assert out["nonfinite_step"].numpy().tolist() == [-1, 0]
    np.testing.assert_array_equal(out["states"].numpy()[1], [6.0, 0.0])
    assert np.all(np.isfinite(out["samples"].numpy()[0]))


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"step_size": -0.1}, "step_size > 0"),
        ({"shrink": 1.0}, "0 < shrink < 1"),
        ({"grow": 0.0}, "grow > 0"),
        ({"initial_factor": 0.0}, "initial_factor > 0"),
    ],
)
def test_bad_factors_name_the_argument(settings, message):
    with pytest.raises(ValueError, match=message):
        _simulate(np.zeros((1, 2)), **settings)


def test_a_schedule_is_refused_with_the_fix():
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Identity()])
    with pytest.raises(ValueError, match="step_schedule='linear' applies to solver='euler'.*'constant'"):
        RefinementModel(generator, _quadratic(0.0, 1.0), solver="adaptive", step_schedule="linear")


def test_by_default_a_step_never_grows_so_the_total_time_is_bounded():
    # On a linear critic nothing reverses: every default step is INITIAL_FACTOR * eta, and the
    # sample moves INITIAL_FACTOR * eta * K along the unit gradient.
    critic = critics.get(lambda x: tf.reduce_sum(x, axis=-1))
    out = _simulate(np.zeros((2, 2)), critic, step_size=0.01, num_steps=7)
    assert adaptive.GROW == 1.0
    np.testing.assert_allclose(out["samples"].numpy(), adaptive.INITIAL_FACTOR * 0.01 * 7, rtol=1e-5)


def test_a_drift_orthogonal_to_the_last_is_no_reversal():
    # A flat critic has zero drift, so every dot product is exactly 0: no step crossed a ridge, and
    # no step shrinks (at the default GROW = 1 each stays at INITIAL_FACTOR * eta).
    critic = critics.get(lambda x: 0.0 * tf.reduce_sum(x, axis=-1))
    out = _simulate(np.ones((2, 3)), critic, step_size=0.02, num_steps=4)
    np.testing.assert_allclose(out["step_sizes"].numpy(), adaptive.INITIAL_FACTOR * 0.02 * adaptive.GROW**3)


def test_the_step_functions_defaults_are_the_module_constants():
    # adaptive_step called without its factors reads GROW and SHRINK. Drift -z / 0.1 from z = 1 at
    # eta = 0.3: z goes 1 -> -2 (step 0, no comparison) -> 1 and 0.25 (two reversals: SHRINK twice)
    # -> 0.0625 (the drift keeps its sign: GROW once).
    step = adaptive.adaptive_step(
        lambda z: (-z / 0.1, z, tf.reduce_sum(z, axis=-1)), entropy_weight=0.0, noise=None
    )
    z, sizes = tf.constant([[1.0]]), tf.constant([0.3], tf.float64)
    previous = tf.zeros_like(z)
    for k in range(4):
        z, _, _, (previous, sizes) = step(z, tf.constant(k), (previous, sizes))
    np.testing.assert_allclose(sizes.numpy(), 0.3 * adaptive.SHRINK**2 * adaptive.GROW)
    np.testing.assert_allclose(z.numpy(), [[0.0625]])


def test_explicit_factors_reach_the_step():
    # Drift -z / 0.1 from 1 at eta 0.05 and the given initial factor 3 (first step 0.15, not
    # INITIAL_FACTOR * 0.05): z goes to -0.5, then the drift reverses and the step takes the given
    # shrink, 0.25 (not SHRINK).
    out = _simulate(
        np.ones((1, 1)), _quadratic(0.0, 0.1), step_size=0.05, num_steps=2, shrink=0.25, initial_factor=3.0
    )
    np.testing.assert_allclose(out["step_sizes"].numpy(), [3.0 * 0.05 * 0.25])
    np.testing.assert_allclose(out["states"].numpy(), [[-0.5 + 0.0375 * 5.0]])
