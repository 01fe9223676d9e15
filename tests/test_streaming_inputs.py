"""`streaming.refine_to_shards` and `load_shards` at their edges: the inputs' digest, settings that are
not JSON, unfinished runs, and the messages of bad arguments."""

import hashlib
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from dgflow_tf import RefinementModel, streaming


def _model(**kwargs):
    keras.utils.set_random_seed(0)
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    settings = dict(latent_shape=(2,), num_steps=1, step_size=0.05, seed=0)
    return RefinementModel(generator, critic, **{**settings, **kwargs})


def test_the_manifest_records_the_sha256_of_the_inputs_as_stored(tmp_path):
    # More rows than one hashing chunk (4,096): the digest is still SHA-256 of shape, dtype and bytes.
    latents = np.random.default_rng(0).normal(size=(5000, 2)).astype("float32")
    manifest = streaming.refine_to_shards(_model(), tmp_path, latents=latents, shard_size=5000, verbose=0)
    expected = hashlib.sha256(
        str((latents.shape, latents.dtype.str)).encode() + latents.tobytes()
    ).hexdigest()
    assert manifest["inputs_sha256"] == expected


def test_settings_that_are_not_json_are_recorded_by_type(tmp_path):
    prior = tfp.distributions.MultivariateNormalDiag(tf.zeros(2), [1.0, 2.0])
    manifest = streaming.refine_to_shards(_model(latent_prior=prior), tmp_path, 6, verbose=0)
    assert manifest["settings"]["latent_prior"] == "DistributionPrior"
    assert (
        json.loads((tmp_path / "manifest.json").read_text())["settings"]["latent_prior"]
        == "DistributionPrior"
    )


def test_loading_an_unfinished_run_says_how_much_is_done(tmp_path):
    model = _model()
    streaming.refine_to_shards(model, tmp_path, 10, shard_size=5, verbose=0)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["num_samples"] = 15  # as if stopped after 2 of 3 shards
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"holds 10 of 15 samples: the run is not finished"):
        streaming.load_shards(tmp_path)


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"`num_samples` must be an integer >= 0"):
        streaming.refine_to_shards(_model(), tmp_path / "a", -1, verbose=0)
    with pytest.raises(ValueError, match=r"`conditions` must have one row per latent: 3 rows for 4 latents"):
        streaming.refine_to_shards(
            _model(), tmp_path / "b", latents=np.zeros((4, 2), "float32"), conditions=np.zeros(3), verbose=0
        )
    conditional = RefinementModel(
        lambda pair: pair[0], lambda pair: pair[0][:, 0], conditional=True, latent_shape=(2,), seed=0
    )
    with pytest.raises(
        ValueError, match=r"^A conditional model needs `latents` and `conditions`, not `num_samples`\.$"
    ):
        streaming.refine_to_shards(conditional, tmp_path / "c", 4, verbose=0)


def test_an_auto_step_is_resolved_on_the_run_and_recorded_as_its_number(tmp_path):
    manifest = streaming.refine_to_shards(_model(step_size="auto"), tmp_path, 10, shard_size=5, verbose=0)
    reference = _model(step_size="auto")
    expected = reference.predict(reference.sample_latents(10, seed=0), verbose=0)
    assert isinstance(manifest["settings"]["step_size"], float)
    assert manifest["settings"]["step_size"] == reference.step_size
    np.testing.assert_array_equal(streaming.load_shards(tmp_path), expected)


def test_passing_both_or_neither_of_num_samples_and_latents_says_which_were_given(tmp_path):
    latents = np.zeros((4, 2), "float32")
    for given, received in (
        (dict(num_samples=4, latents=latents), "num_samples=4, latents=an array"),
        (dict(num_samples=None, latents=None), "num_samples=None, latents=None"),
    ):
        with pytest.raises(ValueError, match=rf"^Pass exactly one of .* Received: {received}\.$"):
            streaming.refine_to_shards(_model(), tmp_path, verbose=0, **given)
