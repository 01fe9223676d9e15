"""Step schedules: the step sizes against their closed form, the model against NumPy, the claim they serve."""

import numpy as np
import pytest
import tensorflow as tf
from numpy_reference import TanhMLPs

from dgflow_tf import RefinementModel, schedules


def test_linear_steps_fall_from_two_over_one_plus_f_to_two_f_over_one_plus_f():
    f = schedules.FINAL_FRACTION
    sizes = schedules.step_sizes(0.1, 5, "linear")
    # An arithmetic progression with mean 0.1 whose last term is f times its first: a + l = 0.2, l = f a.
    first = 0.2 / (1.0 + f)
    np.testing.assert_allclose(sizes[[0, -1]], [first, f * first], rtol=1e-12)
    np.testing.assert_allclose(np.diff(sizes), (f * first - first) / 4, rtol=1e-12)
    np.testing.assert_allclose(sizes.sum(), 0.5, rtol=1e-12)  # the same total time as 5 steps of 0.1
    np.testing.assert_array_equal(schedules.step_sizes(0.1, 5, "constant"), np.full(5, 0.1))
    # One step has nothing to spread; zero steps none.
    np.testing.assert_array_equal(schedules.step_sizes(0.3, 1, "linear"), [0.3])
    assert schedules.step_sizes(0.3, 0, "linear").shape == (0,)


def test_two_linear_steps_already_shrink_and_the_default_is_constant():
    # The shortest run a schedule can shape: steps 2/(1+f) and 2f/(1+f) times the mean.
    f = schedules.FINAL_FRACTION
    np.testing.assert_allclose(schedules.step_sizes(0.1, 2, "linear"), [0.2 / (1 + f), 0.2 * f / (1 + f)])
    np.testing.assert_array_equal(schedules.step_sizes(0.1, 4), np.full(4, 0.1))


def test_an_unknown_schedule_is_named():
    with pytest.raises(ValueError, match=r"Unknown step_schedule 'cosine'\. Expected one of: \['constant'"):
        schedules.step_sizes(0.1, 3, "cosine")


def test_the_model_applies_its_schedule_and_keeps_it_in_its_config():
    nets = TanhMLPs(latent_dim=3, data_dim=2, hidden=5, seed=0)
    generator, critic = nets.keras_models("float64")
    latents = np.random.default_rng(1).normal(size=(16, 3))
    model = RefinementModel(
        generator,
        critic,
        step_size=0.05,
        entropy_weight=0.0,
        num_steps=7,
        step_schedule="linear",
        dtype="float64",
    )
    result = model.refine(latents)
    _, expected = nets.refine_latent(latents, "KL", schedules.step_sizes(0.05, 7, "linear"), 7)
    np.testing.assert_allclose(result.states, expected, rtol=1e-10, atol=1e-12)
    rebuilt = RefinementModel.from_config(model.get_config())
    assert rebuilt.step_schedule == "linear" and model.get_config()["step_schedule"] == "linear"


def _cone_critic(x):
    # d(x) = -4 |x|: a mode whose gradient does not shrink near it, like a ReLU critic's peak.
    return -4.0 * tf.reduce_sum(tf.abs(x), axis=-1)


def _numpy_cone_flow(x, sizes):
    for eta in sizes:
        x = x - eta * 4.0 * np.sign(x)
    return x


def test_a_shrinking_step_settles_on_a_sharp_mode_that_equal_steps_overshoot():
    # Data space, no noise: x' = x - 4 eta_k sign(x). Equal steps 0.04 jump by 0.16 and end up to
    # 0.16 from the mode; the linear schedule's last step is a tenth of its first, so it ends nearer.
    x0 = np.linspace(0.55, 1.45, 10)[:, None]
    distance = {}
    for schedule in ("constant", "linear"):
        model = RefinementModel(
            None,
            _cone_critic,
            space="data",
            step_size=0.04,
            entropy_weight=0.0,
            num_steps=10,
            step_schedule=schedule,
            dtype="float64",
        )
        refined = model.predict(x0, verbose=0)
        expected = _numpy_cone_flow(x0, schedules.step_sizes(0.04, 10, schedule))
        np.testing.assert_allclose(refined, expected, rtol=1e-12, atol=1e-12)
        distance[schedule] = float(np.abs(refined).mean())
    assert distance["linear"] < 0.5 * distance["constant"], distance
