"""`step_size="auto"` and `calibrate`: closed forms, invariances, batching, never worse than the base."""

import os
import warnings

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from dgflow_tf import RefinementModel, calibration, critics, metrics
from dgflow_tf import step_size as step_size_lib


def _quadratic_critic(curvature):
    """d(x) = -curvature |x|^2 / 2: the drift at x is -curvature x, its norm curvature |x|."""
    return critics.get(lambda x: -0.5 * curvature * tf.reduce_sum(tf.square(x), axis=-1))


def _identity_generator(dimension=2):
    import keras

    return keras.Sequential([keras.Input((dimension,)), keras.layers.Identity()])


@pytest.mark.parametrize("dimension", [2, 32, 784])
def test_auto_matches_the_closed_form_of_a_quadratic_critic(dimension):
    # The probe is N(0, I_n), so the drift's root mean square per coordinate is a |z| / sqrt(n) with
    # |z|^2 chi-squared with n degrees of freedom: its 90th percentile is a sqrt(chi2.ppf(0.9, n) / n),
    # and the states' scale is 1. With 256 probe draws both hold to a few percent. A rule on the
    # drift's norm instead would shrink the step by sqrt(n) as the latent grows.
    curvature, num_steps = 3.0, 20
    model = RefinementModel(_identity_generator(dimension), _quadratic_critic(curvature), num_steps=num_steps)
    rms_q90 = curvature * np.sqrt(stats.chi2.ppf(0.9, dimension) / dimension)
    expected = step_size_lib.DISPLACEMENT / (num_steps * rms_q90)
    assert expected < step_size_lib.TIME_CAP / num_steps  # the rule, not the cap, is checked
    assert model.step_size == pytest.approx(expected, rel=0.12)


def test_auto_is_invariant_to_rescaling_the_critic_and_keeps_total_time():
    # Curvatures steep enough that the time cap does not bind (eta * K < TIME_CAP).
    generator = _identity_generator()
    base = RefinementModel(generator, _quadratic_critic(2.0), num_steps=25).step_size
    steeper = RefinementModel(generator, _quadratic_critic(16.0), num_steps=25).step_size
    longer = RefinementModel(generator, _quadratic_critic(2.0), num_steps=100).step_size
    assert base * 25 < step_size_lib.TIME_CAP
    # d -> 8 d moves every sample 8x faster per unit time: the step shrinks 8x, the moves stay put.
    assert steeper == pytest.approx(base / 8.0, rel=1e-5)
    assert longer * 100 == pytest.approx(base * 25, rel=1e-5)


def test_a_flat_critic_is_held_to_the_time_cap():
    # d = -0.01 |z|^2 / 2: the displacement rule alone would run the flow for a time of about 33;
    # the cap stops it at TIME_CAP.
    flat = RefinementModel(_identity_generator(), _quadratic_critic(0.01), num_steps=25)
    uncapped = step_size_lib.DISPLACEMENT / (25 * 0.01 * np.sqrt(-2.0 * np.log(0.1) / 2.0))
    assert uncapped * 25 > 10 * step_size_lib.TIME_CAP
    assert flat.step_size == pytest.approx(step_size_lib.TIME_CAP / 25, rel=1e-12)


def test_auto_refines_like_the_float_it_resolves_to_at_any_batch_size():
    generator = _identity_generator()
    critic = _quadratic_critic(2.0)
    latents = np.random.default_rng(3).normal(size=(37, 2)).astype("float32")
    auto = RefinementModel(generator, critic, num_steps=5, seed=4)
    by_seven = auto.predict(latents, batch_size=7, verbose=0)
    fixed = RefinementModel(generator, critic, num_steps=5, seed=4, step_size=auto.step_size)
    np.testing.assert_array_equal(by_seven, fixed.predict(latents, batch_size=37, verbose=0))
    assert auto.get_config()["step_size"] == "auto"


def test_auto_without_a_probe_resolves_on_the_first_inputs():
    # Data space without a generator: the model cannot draw samples, so the first call's rows set it.
    model = RefinementModel(None, _quadratic_critic(4.0), space="data", num_steps=10, seed=0)
    samples = np.random.default_rng(0).normal(size=(300, 2)).astype("float32") * 4.0
    model.predict(samples, verbose=0)
    norms = 4.0 * np.linalg.norm(samples[: step_size_lib.PROBE_SIZE], axis=1) / np.sqrt(2.0)
    scale = np.sqrt(np.mean(np.var(samples[: step_size_lib.PROBE_SIZE].astype(np.float64), axis=0)))
    expected = step_size_lib.DATA_DISPLACEMENT * scale / (10 * np.percentile(norms, 90))
    assert model.step_size == pytest.approx(min(expected, step_size_lib.TIME_CAP / 10), rel=1e-5)
    assert expected < step_size_lib.TIME_CAP / 10  # the rule's own value, not the cap, is checked


def test_data_space_moves_each_coordinate_a_smaller_share_of_its_spread():
    # With g the identity, latent and data space refine the same states from the same probe, so the
    # two steps differ only by the displacement each space allows (chosen by auto_rule_sweep.py).
    critic = _quadratic_critic(6.0)
    latent = RefinementModel(_identity_generator(), critic, num_steps=25).step_size
    data = RefinementModel(_identity_generator(), critic, space="data", num_steps=25).step_size
    assert latent * 25 < step_size_lib.TIME_CAP  # neither is the cap
    assert step_size_lib.DATA_DISPLACEMENT < step_size_lib.DISPLACEMENT
    ratio = step_size_lib.DATA_DISPLACEMENT / step_size_lib.DISPLACEMENT
    assert data == pytest.approx(latent * ratio, rel=1e-6)


def test_auto_names_the_fix_when_it_cannot_resolve():
    model = RefinementModel(None, _quadratic_critic(1.0), space="data")
    with pytest.raises(ValueError, match="resolves on the first inputs"):
        model.step_size  # noqa: B018
    flat = critics.get(lambda x: tf.reduce_sum(x * 0.0, axis=-1))
    with pytest.raises(ValueError, match="found no drift"):
        RefinementModel(_identity_generator(), flat).step_size  # noqa: B018


@pytest.mark.parametrize("bad", ["fast", "", -0.1, float("nan"), True])
def test_bad_step_sizes_name_the_argument(bad):
    with pytest.raises(ValueError, match="`step_size`"):
        RefinementModel(_identity_generator(), _quadratic_critic(1.0), step_size=bad)


def test_auto_step_size_arguments():
    uncapped = step_size_lib.auto_step_size(
        [1.0, 2.0, 3.0], 10, displacement=1.0, quantile=100.0, time_cap=np.inf
    )
    assert uncapped == pytest.approx(1.0 / 30.0)
    assert step_size_lib.auto_step_size([1.0, 2.0, 3.0], 10, 1.0, 1.0, 100.0, time_cap=0.2) == pytest.approx(
        0.02
    )
    with pytest.raises(ValueError, match="time_cap"):
        step_size_lib.auto_step_size([1.0], 10, time_cap=0.0)
    with pytest.raises(ValueError, match="NaN/Inf"):
        step_size_lib.auto_step_size([np.inf, np.nan], 10)
    # Non-finite probe samples are left out of the percentile: [1, 3] -> q100 = 3.
    assert step_size_lib.auto_step_size([1.0, np.nan, 3.0], 10, 1.0, 1.0, 100.0, np.inf) == pytest.approx(
        1.0 / 30.0
    )
    assert step_size_lib.is_auto("AUTO") and not step_size_lib.is_auto(0.1)


class _Recentred:
    """A generator whose samples are N(shift, I) for z ~ N(0, I)."""

    def __init__(self, shift):
        self.shift = shift

    def __call__(self, z, training=False):
        return z + self.shift


def test_calibrate_never_picks_a_setting_worse_than_no_refinement():
    # The samples already have the data's law and the critic pushes them away from it: every step
    # size hurts, so calibrate must switch refinement off.
    generator = _Recentred(0.0)
    repelling = critics.get(lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=-1))
    model = RefinementModel(generator, repelling, latent_shape=(2,), seed=0)
    real = np.random.default_rng(11).normal(size=(400, 2)).astype("float32")
    with pytest.warns(UserWarning, match="num_steps is set to 0") as record:
        table = model.calibrate(real)
    assert not record[0].filename.startswith(
        os.path.dirname(critics.__file__)
    )  # the caller's, not calibration's
    assert table.rows[0]["num_steps"] == 0 and table.best is table.rows[0]
    assert all(row["score"] > table.rows[0]["score"] for row in table.rows[1:] if row["status"] == "ok")
    latents = model.sample_latents(50, seed=3)
    np.testing.assert_array_equal(model.predict(latents, verbose=0), latents)


def test_calibrate_picks_the_best_scoring_setting_when_refinement_helps():
    # Samples at N(2, I), data at N(0, I), critic the true log ratio 2 - 2 x: refinement helps.
    generator = _Recentred(2.0)
    truth = critics.get(lambda x: tf.reduce_sum(2.0 - 2.0 * x, axis=-1))
    model = RefinementModel(generator, truth, latent_shape=(2,), seed=0, num_steps=10)
    real = np.random.default_rng(12).normal(size=(300, 2)).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = model.calibrate(real)
    ok = [row for row in table.rows if row["status"] == "ok"]
    best = min(ok, key=lambda row: row["score"])
    assert best is not table.rows[0]
    assert model.step_size == best["step_size"] and model.num_steps == best["num_steps"]
    # The score is the OT distance to the real samples, recomputed here on the same tuning batch.
    latents = model.sample_latents(300, seed=calibration.CALIBRATION_SEED)
    refined = RefinementModel(
        generator,
        truth,
        latent_shape=(2,),
        seed=calibration.CALIBRATION_SEED,
        num_steps=best["num_steps"],
        step_size=best["step_size"],
    ).predict(latents, verbose=0)
    assert metrics.ot_distance(refined, real) == pytest.approx(best["score"], rel=1e-6)


def test_calibrate_tunes_the_step_of_the_models_own_solver():
    # The guide sends adaptive-solver users to calibrate: its sweep must refine with that solver, not
    # Euler, and the chosen score must be the adaptive refinement's, recomputed here independently.
    generator = _Recentred(2.0)
    truth = critics.get(lambda x: tf.reduce_sum(2.0 - 2.0 * x, axis=-1))
    model = RefinementModel(generator, truth, latent_shape=(2,), seed=0, num_steps=10, solver="adaptive")
    real = np.random.default_rng(12).normal(size=(300, 2)).astype("float32")
    table = model.calibrate(real, verbose=0)
    assert model.solver == "adaptive" and table.best is not table.rows[0]
    latents = model.sample_latents(300, seed=calibration.CALIBRATION_SEED)
    settings = dict(latent_shape=(2,), seed=calibration.CALIBRATION_SEED, step_size=model.step_size)
    scores = {
        solver: metrics.ot_distance(
            RefinementModel(generator, truth, num_steps=10, solver=solver, **settings).predict(
                latents, verbose=0
            ),
            real,
        )
        for solver in ("adaptive", "euler")
    }
    assert scores["adaptive"] == pytest.approx(table.best["score"], rel=1e-6)
    assert scores["euler"] != pytest.approx(table.best["score"], rel=1e-3)


def test_calibrate_in_data_space_scores_the_given_samples_as_the_base():
    # No generator: the tuning batch is the samples themselves, at N(2, I); the data is N(0, I).
    truth = critics.get(lambda x: tf.reduce_sum(2.0 - 2.0 * x, axis=-1))
    model = RefinementModel(None, truth, space="data", seed=0, num_steps=10)
    samples = (np.random.default_rng(13).normal(size=(200, 2)) + 2.0).astype("float32")
    real = np.random.default_rng(14).normal(size=(200, 2)).astype("float32")
    table = model.calibrate(real, latents=samples)
    assert table.rows[0]["score"] == pytest.approx(metrics.ot_distance(samples, real), rel=1e-6)
    assert table.best is not table.rows[0] and table.best["score"] < 0.5 * table.rows[0]["score"]


def test_calibrate_refuses_real_samples_of_another_shape():
    model = RefinementModel(_Recentred(0.0), _quadratic_critic(1.0), latent_shape=(2,))
    with pytest.raises(ValueError, match="per-sample shape"):
        model.calibrate(np.zeros((10, 3), "float32"))
    with pytest.raises(ValueError, match="finite"):
        model.calibrate(np.full((10, 2), np.nan, "float32"))
    for empty in (np.zeros((0, 2), "float32"), np.float32(1.0)):
        with pytest.raises(ValueError, match="`real_samples` must be a non-empty array"):
            model.calibrate(empty)
    with pytest.raises(ValueError, match="`num_steps`"):
        model.calibrate(np.zeros((10, 2), "float32"), num_steps=[5, 0])


def test_calibrate_num_samples_sizes_the_tuning_batch_and_the_reference():
    generator = _Recentred(2.0)
    truth = critics.get(lambda x: tf.reduce_sum(2.0 - 2.0 * x, axis=-1))
    model = RefinementModel(generator, truth, latent_shape=(2,), seed=0, num_steps=5)
    real = np.random.default_rng(15).normal(size=(300, 2)).astype("float32")
    table = model.calibrate(real, num_samples=40, step_sizes=[0.05], verbose=0)
    # The base row: 40 tuning latents against the first 40 real samples, recomputed independently.
    latents = model.sample_latents(40, seed=calibration.CALIBRATION_SEED)
    assert table.rows[0]["score"] == pytest.approx(metrics.ot_distance(latents + 2.0, real[:40]), rel=1e-6)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="num_samples"):
            model.calibrate(real, num_samples=bad, verbose=0)
    with pytest.raises(ValueError, match="`verbose` must be 0 or 1"):
        model.calibrate(real, verbose=2)


def test_calibrate_shows_a_bar_with_the_best_score_so_far(capsys):
    generator = _Recentred(2.0)
    truth = critics.get(lambda x: tf.reduce_sum(2.0 - 2.0 * x, axis=-1))
    model = RefinementModel(generator, truth, latent_shape=(2,), seed=0, num_steps=5)
    real = np.random.default_rng(16).normal(size=(100, 2)).astype("float32")
    rows = []
    table = model.calibrate(real, step_sizes=[0.01, 0.1], progress=rows.append)
    shown = capsys.readouterr().out
    # One tick per setting, no refinement first; the last shows the lowest distance of all rows.
    assert "3/3" in shown and "setting" in shown
    assert shown.rstrip().endswith(f"best OT distance: {min(row['score'] for row in table.rows):.4f}")
    assert rows == table.rows
    model.calibrate(real, step_sizes=[0.01], verbose=0)
    assert capsys.readouterr().out == ""


def test_the_rayleigh_quantile_used_above():
    # The closed form of the first test, checked against SciPy's Rayleigh distribution.
    assert stats.rayleigh.ppf(0.9) == pytest.approx(np.sqrt(-2.0 * np.log(0.1)))


def test_auto_on_a_conditional_model_probes_with_the_conditions():
    # d([x, c]) = c x_0 with c = 3: the KL drift is (3, 0) for every sample, RMS 3 / sqrt(2).
    generator = lambda inputs: inputs[0]  # noqa: E731
    critic = lambda inputs: inputs[1][:, 0] * inputs[0][:, 0]  # noqa: E731
    model = RefinementModel(generator, critic, conditional=True, latent_shape=(2,), num_steps=10, seed=0)
    z = np.random.default_rng(4).normal(size=(40, 2)).astype("float32")
    conditions = np.full((40, 1), 3.0, "float32")
    model.predict((z, conditions), verbose=0)
    scale = np.sqrt(np.mean(np.var(z.astype(np.float64), axis=0)))
    expected = step_size_lib.DISPLACEMENT * scale / (10 * 3.0 / np.sqrt(2.0))
    assert expected < step_size_lib.TIME_CAP / 10
    assert model.step_size == pytest.approx(expected, rel=1e-6)


def test_states_scale_is_the_float64_rms_of_the_coordinate_stds_or_one_for_a_point():
    # Float32 numbers far from their mean: their variance in float32 loses digits.
    states = (1000.0 + np.random.default_rng(5).normal(size=(300, 3)) * 1e-2).astype("float32")
    expected = np.sqrt(np.mean(np.var(states.astype(np.float64), axis=0)))
    assert step_size_lib.states_scale(states) == pytest.approx(expected, rel=1e-9)
    assert step_size_lib.states_scale(np.ones((4, 3), "float32")) == 1.0


def test_auto_errors_name_the_argument_and_the_fix():
    with pytest.raises(ValueError, match="`num_steps`"):
        step_size_lib.auto_step_size([1.0], 0)
    model = RefinementModel(None, _quadratic_critic(1.0), space="data")
    with pytest.raises(ValueError, match="Call predict or refine first, or pass a float `step_size`"):
        model.step_size  # noqa: B018
    auto = RefinementModel(_identity_generator(), _quadratic_critic(1.0))

    @tf.function
    def inside():
        return auto.step_size

    with pytest.raises(ValueError, match=r"call model\.resolve_step_size\(\) \(or predict/refine\) first"):
        inside()
