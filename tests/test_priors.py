"""Latent priors: sampling, support constraints and their place in RefinementModel."""

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp
from numpy_reference import TanhMLPs

from dgflow_tf import RefinementModel, priors


def _reflect_by_loop(x, low, high):
    """Mirror images at the faces until inside: an independent reference."""
    x = np.array(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        value = x[index]
        while value < low or value > high:
            value = 2 * low - value if value < low else 2 * high - value
        x[index] = value
    return x


def test_reflect_matches_repeated_mirroring():
    values = np.random.default_rng(0).uniform(-9, 9, size=(200, 3))
    prior = priors.Uniform(-1.0, 2.0)
    reflected = priors.constrain(tf.constant(values), prior, "reflect").numpy()
    np.testing.assert_allclose(reflected, _reflect_by_loop(values, -1.0, 2.0), atol=1e-12)


def test_constrain_leaves_inside_values_bit_for_bit_and_clip_projects():
    values = np.array([[0.3, -0.7, 0.999999, 1.5, -4.0]], np.float32)
    prior = priors.Uniform()
    reflected = priors.constrain(tf.constant(values), prior, "reflect").numpy()
    np.testing.assert_array_equal(reflected[0, :3], values[0, :3])
    clipped = priors.constrain(tf.constant(values), prior, "clip").numpy()
    np.testing.assert_array_equal(clipped, np.clip(values, -1, 1))
    np.testing.assert_array_equal(priors.constrain(tf.constant(values), prior, "none").numpy(), values)
    # An unbounded prior is never constrained.
    np.testing.assert_array_equal(priors.constrain(tf.constant(values), priors.Normal(), "clip"), values)


@pytest.mark.parametrize(
    "prior, reference",
    [
        (priors.Normal(), scipy.stats.norm()),
        (priors.Uniform(-1, 1), scipy.stats.uniform(-1, 2)),
        (priors.TruncatedNormal(-2, 2), scipy.stats.truncnorm(-2, 2)),
        # BigGAN's truncation trick: truncation 0.4 times a standard normal truncated to [-2, 2].
        (priors.TruncatedNormal(-2, 2, scale=0.4), scipy.stats.truncnorm(-2, 2, scale=0.4)),
    ],
)
def test_samples_follow_the_named_distribution(prior, reference):
    draws = prior.sample(1000, (4,), seed=3).numpy().ravel()
    # 4000 draws: a correct sampler fails at the 1e-4 level only by chance.
    assert scipy.stats.kstest(draws, reference.cdf).pvalue > 1e-4
    assert prior.contains(draws)


def test_samples_are_keyed_by_position():
    prior = priors.Uniform()
    whole = prior.sample(30, (5,), seed=1).numpy()
    piece = prior.sample(10, (5,), seed=1, start=12).numpy()
    np.testing.assert_array_equal(whole[12:22], piece)
    assert not np.array_equal(whole, prior.sample(30, (5,), seed=2).numpy())


def test_distribution_prior_draws_from_the_distribution():
    scale = np.array([0.5, 3.0], np.float32)
    prior = priors.get(tfp.distributions.MultivariateNormalDiag(tf.zeros(2), scale))
    draws = prior.sample(4000, (2,), seed=0).numpy()
    np.testing.assert_allclose(draws.std(axis=0), scale, rtol=0.06)
    with pytest.raises(ValueError, match="does not match latent_shape"):
        prior.sample(3, (3,), seed=0)


@pytest.mark.parametrize(
    "identifier, error, pattern",
    [
        ("laplace", ValueError, "Unknown latent_prior 'laplace'"),
        (3.0, TypeError, "`latent_prior` must be a name"),
        (priors.Uniform, TypeError, "`latent_prior` must be a name"),
    ],
)
def test_bad_priors(identifier, error, pattern):
    with pytest.raises(error, match=pattern):
        priors.get(identifier)


def test_bad_boxes_and_boundaries():
    with pytest.raises(ValueError, match="low < high"):
        priors.Uniform(1.0, -1.0)
    with pytest.raises(ValueError, match="Unknown boundary 'wrap'"):
        RefinementModel(lambda z: z, lambda x: x[:, 0], latent_shape=(2,), boundary="wrap")


def _latent_model(nets, **kwargs):
    generator, critic = nets.keras_models("float64")
    return RefinementModel(generator, critic, dtype="float64", **kwargs)


def test_reflected_flow_matches_a_numpy_rederivation():
    nets = TanhMLPs(latent_dim=3, data_dim=2, hidden=5, seed=4)
    model = _latent_model(nets, latent_prior="uniform", step_size=0.4, entropy_weight=0.0, num_steps=6)
    z = np.random.default_rng(1).uniform(-1, 1, size=(64, 3))
    expected = z.copy()
    for _ in range(6):
        expected = _reflect_by_loop(expected + 0.4 * nets.latent_grad(expected), -1.0, 1.0)
    result = model.refine(z)
    np.testing.assert_allclose(result.states, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.samples, nets.generator(expected), rtol=1e-10, atol=1e-12)
    # The steps are large enough that some latents did leave the box.
    unconstrained = _latent_model(
        nets, latent_prior="uniform", boundary="none", step_size=0.4, entropy_weight=0.0, num_steps=6
    ).refine(z)
    assert np.abs(unconstrained.states).max() > 1.0


@pytest.mark.parametrize("boundary", ["reflect", "clip"])
def test_noisy_refinement_stays_in_the_box(boundary):
    nets = TanhMLPs(latent_dim=3, data_dim=2, hidden=5, seed=4)
    model = _latent_model(
        nets,
        latent_prior="uniform",
        boundary=boundary,
        step_size=0.5,
        entropy_weight=1.0,
        num_steps=10,
        seed=0,
    )
    result = model.refine(model.sample_latents(200, seed=0), trajectory_every=1)
    assert np.abs(result.state_trajectory).max() <= 1.0
    # Big noise pushes many latents to the faces: clip leaves them there, reflect does not.
    on_faces = np.mean(np.abs(result.states) == 1.0)
    assert (on_faces > 0.05) if boundary == "clip" else (on_faces == 0.0)


def test_latents_outside_the_support_are_an_error_not_clipped():
    model = RefinementModel(lambda z: z, lambda x: x[:, 0], latent_shape=(2,), latent_prior="uniform")
    with pytest.raises(ValueError, match=r"`z` has values outside the latent prior's support \[-1.0, 1.0\]"):
        model.predict(np.array([[0.5, 1.5]], np.float32), verbose=0)


def test_sample_latents_uses_the_prior_and_the_config_reports_it():
    model = RefinementModel(
        lambda z: z, lambda x: x[:, 0], latent_shape=(3,), latent_prior=priors.TruncatedNormal(-0.5, 0.5)
    )
    latents = model.sample_latents(500, seed=2)
    assert latents.shape == (500, 3) and latents.dtype == np.float32
    assert np.abs(latents).max() <= 0.5
    np.testing.assert_array_equal(latents[100:110], model.sample_latents(10, seed=2, start=100))
    config = model.get_config()
    assert config["latent_prior"] == {"name": "truncated_normal", "config": {"low": -0.5, "high": 0.5}}
    assert config["boundary"] == "reflect"
    assert RefinementModel.from_config(config).latent_prior == priors.TruncatedNormal(-0.5, 0.5)
    with pytest.raises(ValueError, match="pass latent_shape"):
        RefinementModel(lambda z: z, lambda x: x[:, 0]).sample_latents(3)


def test_refine_records_metrics_at_each_recorded_step(tmp_path):
    from dgflow_tf import plotting

    model = RefinementModel(
        lambda z: 2.0 * z,
        lambda x: -tf.reduce_sum(tf.square(x - 1.0), -1),
        latent_shape=(2,),
        num_steps=7,
        step_size=0.05,
        entropy_weight=0.0,
    )
    z = np.zeros((5, 2), np.float32)
    result = model.refine(z, trajectory_every=3, metrics={"mean": lambda x: x.mean()})
    np.testing.assert_array_equal(result.trajectory_steps, [0, 3, 6, 7])
    # Closed form: x = 2z, dz = eta * 2 * (-2)(2z - 1) = 0.2 (1 - 2z) per step, so
    # 2z_k = 1 - (1 - 0.4)^k and every coordinate of x_k equals it.
    np.testing.assert_allclose(result.metric_trajectory["mean"], 1 - 0.6 ** np.array([0, 3, 6, 7]), rtol=1e-5)
    path = plotting.metric_curves(result.trajectory_steps, result.metric_trajectory, tmp_path / "m.png")
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="pass trajectory_every > 0"):
        model.refine(z, metrics={"mean": np.mean})
    with pytest.raises(TypeError, match="`metrics` must be a dict"):
        model.refine(z, trajectory_every=1, metrics=[np.mean])


def test_a_scaled_truncated_normal_has_the_scaled_box_and_round_trips():
    prior = priors.TruncatedNormal(-2, 2, scale=0.5)
    assert (prior.low, prior.high) == (-1.0, 1.0) and prior.bounded
    assert prior.contains([[0.99, -1.0]]) and not prior.contains([[1.01, 0.0]])
    assert priors.TruncatedNormal(**prior.get_config()) == prior
    assert priors.TruncatedNormal().get_config() == {"low": -2.0, "high": 2.0}  # as version 0.1 wrote it
    for scale in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="`scale` must be a positive finite number"):
            priors.TruncatedNormal(scale=scale)


def test_a_config_without_arguments_gives_the_default_prior():
    assert priors.get({"name": "uniform"}) == priors.Uniform()
    assert priors.get(
        {"name": "truncated_normal", "config": {"low": -1.0, "high": 1.0}}
    ) == priors.TruncatedNormal(-1.0, 1.0)


def test_a_distribution_prior_round_trips_through_its_config():
    distribution = tfp.distributions.MultivariateNormalDiag(tf.zeros(2), [0.5, 3.0])
    prior = priors.DistributionPrior(distribution)
    again = priors.DistributionPrior(**prior.get_config())
    np.testing.assert_array_equal(
        again.sample(5, (2,), seed=3).numpy(), prior.sample(5, (2,), seed=3).numpy()
    )
    batched = tfp.distributions.Normal(tf.zeros(2), 1.0)
    with pytest.raises(
        ValueError, match=r"^The prior distribution must describe one latent: its batch shape"
    ):
        priors.DistributionPrior(batched)


@pytest.mark.parametrize("name", ["normal", "uniform", "truncated_normal"])
def test_every_named_prior_draws_in_the_asked_dtype_and_nothing_for_zero(name):
    prior = priors.get(name)
    empty = prior.sample(0, (3, 2), seed=0, dtype="float64")
    assert empty.shape == (0, 3, 2) and empty.dtype == tf.float64
    draws = prior.sample(500, (3,), seed=0, dtype="float64").numpy()
    assert draws.dtype == np.float64
    # Drawn in float64, not drawn in float32 and cast: the values need more than float32's 24 bits.
    assert np.mean(draws.astype(np.float32).astype(np.float64) != draws) > 0.9
    if prior.bounded:
        assert prior.low <= draws.min() and draws.max() <= prior.high
