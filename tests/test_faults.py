"""Injected numerical faults: every bad sample is found, frozen and reported; every good one is kept.

The policy (dgflow_tf.errors): a sample that turns NaN or Inf is frozen at its last finite state;
`on_nonfinite="raise"` then raises with the sample positions, steps and the refined batch, and
`"freeze"` returns the batch with a warning and per-sample flags.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

import dgflow_tf
from dgflow_tf import NonFiniteRefinementError, RefinementModel
from dgflow_tf.errors import NonFiniteRefinementWarning

ETA = 0.1
SLOPE = 5.0  # the critic d(x) = SLOPE * x_0 moves x_0 up by ETA * SLOPE per KL step
THRESHOLD = 2.0


def _generator_that_breaks_above_threshold(z):
    # Finite while z_0 <= THRESHOLD, NaN beyond: a generator that fails for some latents mid-run.
    broken = tf.math.log(THRESHOLD - z[:, :1])
    return tf.where(z[:, :1] > THRESHOLD, broken, z[:, :1]) + 0.0 * broken + z * tf.constant([0.0, 1.0])


def _linear_critic(x):
    return SLOPE * x[:, 0]


def _model(policy, generator=_generator_that_breaks_above_threshold, critic=_linear_critic, **kwargs):
    settings = dict(step_size=ETA, entropy_weight=0.01, num_steps=10, seed=3, latent_shape=(2,))
    settings.update(kwargs)
    return RefinementModel(generator, critic, on_nonfinite=policy, **settings)


# Starting points: sample 1 crosses the threshold at step 1 (z_0 = 1.95 + 0.5 > 2), sample 3 at
# step 3, samples 0 and 2 never do within 10 steps (x_0 grows by 0.5 per step, noise is ~0.04).
Z = np.array([[-4.0, 0.3], [1.95, -0.2], [-6.0, 1.0], [0.6, 0.0]], "float32")
GOOD, BAD = [0, 2], [1, 3]


def _deterministic_reference(z0, num_steps):
    """NumPy: the noiseless path, frozen at the last state whose sample is finite."""
    z = np.array(z0, np.float64)
    for step in range(num_steps):
        if z[0] > THRESHOLD:
            return z, step
        proposal = z + ETA * np.array([SLOPE, 0.0])
        if proposal[0] > THRESHOLD:
            # The step is taken (the state is finite); its sample breaks at the next step,
            # which then falls back to this state.
            return z, step + 1
        z = proposal
    return z, -1


def test_generator_that_returns_nan_mid_run_freezes_only_those_samples():
    model = _model("freeze", entropy_weight=0.0)
    with pytest.warns(
        NonFiniteRefinementWarning, match="2 of 4 samples: sample 1 at step 1, sample 3 at step 3"
    ):
        result = model.refine(Z)
    for index in range(len(Z)):
        expected, step = _deterministic_reference(Z[index], model.num_steps)
        assert result.nonfinite_step[index] == step
        np.testing.assert_allclose(result.states[index], expected, rtol=1e-6, atol=1e-6)
    assert np.isfinite(result.samples).all()


def test_good_samples_are_bit_identical_to_a_run_without_the_bad_ones():
    # Same batch size and positions, bad latents swapped for harmless ones: the good samples'
    # noise and arithmetic are the same, so the frozen neighbours must not change them at all.
    with pytest.warns(NonFiniteRefinementWarning):
        faulty = _model("freeze").refine(Z)
    clean_inputs = Z.copy()
    clean_inputs[BAD] = [-9.0, 0.0]
    clean = _model("freeze").refine(clean_inputs)
    np.testing.assert_array_equal(clean.nonfinite_step, [-1] * 4)
    np.testing.assert_array_equal(faulty.samples[GOOD], clean.samples[GOOD])
    np.testing.assert_array_equal(faulty.states[GOOD], clean.states[GOOD])
    # Frozen samples are left where their sample was last finite, below the threshold.
    assert (faulty.states[BAD, 0] <= THRESHOLD).all()


def test_raise_policy_reports_positions_and_steps_and_keeps_the_batch():
    with pytest.warns(NonFiniteRefinementWarning):
        frozen = _model("freeze").predict(Z, batch_size=3, verbose=0)
    with pytest.raises(NonFiniteRefinementError, match="2 of 4 samples") as caught:
        _model("raise").predict(Z, batch_size=3, verbose=0)
    np.testing.assert_array_equal(caught.value.sample_indices, BAD)
    np.testing.assert_array_equal(caught.value.steps, [1, 3])
    np.testing.assert_array_equal(caught.value.samples, frozen)


def test_inf_logit_is_caught_per_sample():
    def critic_with_inf(x):
        # +Inf for samples past x_0 = 1 (an overflowing logit), linear elsewhere.
        return tf.where(x[:, 0] > 1.0, tf.constant(np.inf, tf.float32), SLOPE * x[:, 0])

    model = _model("freeze", generator=lambda z: z, critic=critic_with_inf, entropy_weight=0.0)
    z = np.array([[0.0, 0.0], [0.8, 0.0], [-9.0, 0.0]], "float32")
    with pytest.warns(NonFiniteRefinementWarning):
        result = model.refine(z)
    # Sample 0 reaches 1.0 after 2 steps and 1.5 after 3: its logit is Inf at step 3.
    # Sample 1 is at 1.3 after one step: Inf at step 1.
    np.testing.assert_array_equal(result.nonfinite_step, [3, 1, -1])
    np.testing.assert_allclose(result.samples[:2, 0], [1.0, 0.8], rtol=1e-6)
    np.testing.assert_allclose(result.samples[2, 0], -9.0 + 10 * ETA * SLOPE, rtol=1e-6)


@pytest.mark.parametrize("policy", ["raise", "freeze"])
def test_exploding_gradient_is_caught_at_its_step_and_frozen_at_the_last_finite_state(policy):
    # d = 40 x^2 in data space: the KL drift multiplies x by (1 + 80 * eta) = 81 each step, so
    # x_k = 81^k, and float32 overflows after a few dozen steps, not at step 0.
    model = RefinementModel(
        None,
        lambda x: 40.0 * tf.reduce_sum(tf.square(x), -1),
        step_size=1.0,
        entropy_weight=0.0,
        num_steps=40,
        space="data",
        on_nonfinite=policy,
    )
    # The first non-finite quantity is the critic value 40 * x_k^2 or the state x_{k+1},
    # whichever overflows float32 first: the critic value, at k = 10 (40 * 81^20 > 3.4e38).
    limit = float(np.finfo(np.float32).max)
    k = next(k for k in range(40) if 40.0 * 81.0 ** (2 * k) > limit or 81.0 ** (k + 1) > limit)
    assert k == 10
    x = np.array([[1.0], [-1.0], [0.0]], "float32")
    if policy == "raise":
        with pytest.raises(NonFiniteRefinementError) as caught:
            model.refine(x)
        np.testing.assert_array_equal(caught.value.steps, [k, k])
        samples = caught.value.samples
    else:
        with pytest.warns(NonFiniteRefinementWarning):
            result = model.refine(x)
        np.testing.assert_array_equal(result.nonfinite_step, [k, k, -1])
        samples = result.samples
    # Frozen at x_9, the last state whose critic value was finite.
    np.testing.assert_allclose(samples[:, 0], [81.0 ** (k - 1), -(81.0 ** (k - 1)), 0.0], rtol=1e-5)


def test_export_under_each_policy(tmp_path):
    z = tf.constant(Z)
    seed = tf.constant(3, tf.int64)
    model = _model("freeze")
    model.export(str(tmp_path / "freeze"))
    served = tf.saved_model.load(str(tmp_path / "freeze")).serve(z, seed).numpy()
    with pytest.warns(NonFiniteRefinementWarning):
        np.testing.assert_array_equal(served, model.refine(Z).samples)
    _model("raise").export(str(tmp_path / "raise"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Refinement produced NaN or Inf"):
        tf.saved_model.load(str(tmp_path / "raise")).serve(z, seed)


def test_unknown_policy_is_an_error_naming_it():
    with pytest.raises(ValueError, match="Unknown on_nonfinite='skip'.*'raise', 'freeze'"):
        _model("skip")


def test_policy_round_trips_through_the_config():
    model = _model("freeze", generator=lambda z: z)
    assert RefinementModel.from_config(model.get_config()).on_nonfinite == "freeze"


def _nan_beyond(num_steps, policy):
    """g(z) = z, but NaN beyond 0.95; d(x) = x, so each deterministic KL step adds eta = 0.02 to z."""

    def generator(z):
        return tf.where(z > 0.95, tf.fill(tf.shape(z), np.nan), z)

    return RefinementModel(
        generator,
        lambda x: x[:, 0],
        step_size=0.02,
        entropy_weight=0.0,
        num_steps=num_steps,
        latent_shape=(1,),
        on_nonfinite=policy,
        seed=0,
    )


def test_a_final_output_that_turns_nonfinite_falls_back_to_the_last_finite_state():
    # The loop only ever evaluates g at z_0 .. z_2, all finite; the final output g(z_3) is the
    # first NaN, for the sample that starts at 0.9 (0.96 > 0.95).
    def model(policy):
        return _nan_beyond(3, policy)

    z = np.array([[0.0], [0.9]], "float32")
    with pytest.warns(NonFiniteRefinementWarning):
        result = model("freeze").refine(z)
    # NumPy: 0 -> 0.06; 0.9 -> 0.96, non-finite at step 3, so it falls back to z_2 = 0.94.
    np.testing.assert_allclose(result.samples[:, 0], [0.06, 0.94], rtol=1e-6)
    np.testing.assert_array_equal(result.nonfinite_step, [-1, 3])
    with pytest.raises(NonFiniteRefinementError, match="sample 1 at step 3"):
        model("raise").refine(z)


def test_a_single_step_whose_output_turns_nonfinite_falls_back_to_the_start():
    # As above with K = 1: g(z_1) is NaN for the sample starting at 0.94 (0.96 > 0.95), so it falls
    # back to z_0; the fall-back must not need more than one step.
    with pytest.warns(NonFiniteRefinementWarning):
        result = _nan_beyond(1, "freeze").refine(np.array([[0.0], [0.94]], "float32"))
    np.testing.assert_allclose(result.samples[:, 0], [0.02, 0.94], rtol=1e-6)
    np.testing.assert_array_equal(result.nonfinite_step, [-1, 1])


def test_warnings_point_at_the_users_line_whichever_path_raised_them():
    # refine and predict reach the warning through different numbers of the library's own calls.
    for call in (lambda: _model("freeze").refine(Z), lambda: _model("freeze").predict(Z, verbose=0)):
        with pytest.warns(NonFiniteRefinementWarning) as record:
            call()
        # Outside the package: the caller (under mutmut, its trampolines are callers too).
        assert len(record) == 1 and not record[0].filename.startswith(os.path.dirname(dgflow_tf.__file__))
