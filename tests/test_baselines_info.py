"""DRS and MH-GAN beyond their samples: what `info` reports, chunking, seeds and dtypes, errors."""

import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf.baselines import DRS, MHGAN, drs_logit


def identity(z):
    return z


def zero_critic(x):
    return tf.zeros(tf.shape(x)[:1], x.dtype)


def first_coordinate(x):
    return x[:, 0]


def _recording_critic(batch_sizes):
    """A zero critic that records the size of every batch it is called on (also inside graphs)."""

    def record(size):
        batch_sizes.append(int(size))
        return np.int64(0)

    def critic(x):
        recorded = tf.numpy_function(record, [tf.shape(x, out_type=tf.int64)[0]], tf.int64)
        with tf.control_dependencies([recorded]):
            return tf.zeros(tf.shape(x)[:1], x.dtype)

    return critic


@pytest.mark.parametrize("name", ["DRS", "MH-GAN"])
def test_batch_size_bounds_every_call_of_the_networks(name):
    sizes = []
    z = np.random.default_rng(0).normal(size=(10, 2)).astype("float32")
    if name == "DRS":
        DRS(identity, _recording_critic(sizes), latent_shape=(2,), seed=0, batch_size=3).fit(z)
    else:
        MHGAN(
            identity, _recording_critic(sizes), latent_shape=(2,), chain_length=2, seed=0, batch_size=3
        ).refine(z)
    assert sizes and max(sizes) == 3, sizes


def test_drs_info_reports_its_burn_in_and_the_gamma_of_the_quantile():
    burn_in = np.linspace(-2.0, 2.0, 201, dtype="float32")[:, None]
    drs = DRS(identity, first_coordinate, latent_shape=(1,), gamma_quantile=0.8, seed=1).fit(burn_in)
    info = drs.refine(np.zeros((20, 1), "float32")).info
    assert info["burn_in_evaluations"] == 201
    # F(x) = d - D_M - log(1 - exp(d - D_M - eps)) with the default eps = 1e-6, at the 80th percentile.
    d = burn_in[:, 0].astype(np.float64)
    f = d - 2.0 - np.log(1.0 - np.exp(d - 2.0 - 1e-6))
    assert info["gamma"] == pytest.approx(np.quantile(f, 0.8), rel=1e-9)


def test_drs_says_how_many_it_accepted_when_it_runs_out_of_proposals():
    # d = x: the burn-in's maximum is 5, so proposals near 0 are kept with odds about e^-5 / e^gamma.
    drs = DRS(identity, first_coordinate, latent_shape=(1,), gamma_quantile=0.999, seed=0)
    drs.max_proposals_per_sample = 2
    drs.fit(np.array([[5.0], [4.9], [4.8]], "float32"))
    with pytest.raises(RuntimeError) as caught:
        drs.refine(np.zeros((50, 1), "float32"))
    message = str(caught.value)
    assert (
        message.startswith("DRS accepted ")
        and " of 100 proposals, short of 50. Lower `gamma_quantile`" in message
    )
    accepted = int(message.split()[2])
    assert 0 <= accepted < 50


def test_drs_names_the_running_maximum_when_a_logit_exceeds_it():
    with pytest.raises(ValueError) as caught:
        drs_logit([3.0], max_logit=2.0)
    assert str(caught.value) == (
        "`max_logit` must be at least every logit (it is the running maximum D_M). "
        "Received: max_logit=2.0, largest logit 3.0"
    )


def test_mhgan_draws_with_the_seed_of_the_call_for_proposals_and_acceptance():
    # d = x: a proposal is accepted with probability min(1, e^(x' - x)), so the acceptance draws matter.
    z = np.random.default_rng(2).normal(size=(200, 1)).astype("float32")
    with_call_seed = MHGAN(identity, first_coordinate, latent_shape=(1,), chain_length=6, seed=0).refine(
        z, seed=7
    )
    with_instance_seed = MHGAN(identity, first_coordinate, latent_shape=(1,), chain_length=6, seed=7).refine(
        z
    )
    np.testing.assert_array_equal(with_call_seed.samples, with_instance_seed.samples)
    other = MHGAN(identity, first_coordinate, latent_shape=(1,), chain_length=6, seed=0).refine(z)
    assert not np.array_equal(with_call_seed.samples, other.samples)


def test_mhgan_counts_the_chains_that_never_left_their_real_start():
    # Real starts at d = 9 and proposals near d = 0: a move is accepted with probability about e^-9,
    # so (for this seed) no chain moves; with a zero critic every first proposal is accepted.
    starts = np.full((30, 1), 9.0, "float32")
    z = np.zeros((30, 1), "float32")
    stuck = MHGAN(identity, first_coordinate, latent_shape=(1,), chain_length=3, seed=0).refine(
        z, initial_samples=starts
    )
    assert stuck.info["chains_never_accepted"] == 30 and stuck.info["acceptance_rate"] == 0.0
    moving = MHGAN(identity, zero_critic, latent_shape=(1,), chain_length=3, seed=0).refine(
        z, initial_samples=starts
    )
    assert moving.info["chains_never_accepted"] == 0


def test_mhgan_draws_float64_proposals_for_float64_chains():
    # A zero critic accepts every proposal, so each chain ends on its last prior draw: in float64, its
    # values are not all representable in float32 (they would be if the draw were float32).
    z = np.zeros((50, 2), np.float64)
    result = MHGAN(identity, zero_critic, latent_shape=(2,), chain_length=3, seed=0).refine(z)
    states = np.asarray(result.states)
    assert states.dtype == np.float64
    assert np.any(states.astype(np.float32).astype(np.float64) != states)
