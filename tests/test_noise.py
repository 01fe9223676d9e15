"""Step noise drawn one step at a time: keyed by (seed, position, step), flat memory in K."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp

from dgflow_tf import noise

SEED = noise.sanitize_seed(21)


@pytest.mark.parametrize("distribution", ["normal", "rademacher"])
@pytest.mark.parametrize("event_shape", [(2,), (300,), (70_000,)])
def test_any_batch_gets_the_noise_of_its_positions(event_shape, distribution):
    # Blocks hold 32,768, 218 and 1 samples here; batches that cross blocks, skip, repeat and
    # reorder positions must get exactly the rows of those positions in the whole run.
    draw = noise.STEP_NOISE[distribution]
    rows = noise.rows_per_block(event_shape)
    whole = draw(SEED, tf.range(3 * rows + 5, dtype=tf.int64), 7, event_shape, tf.float32).numpy()
    for positions in ([rows - 1, rows, rows + 1], [3 * rows + 4, 0, 0, 2 * rows], [1]):
        part = draw(SEED, tf.constant(positions, tf.int64), 7, event_shape, tf.float32)
        np.testing.assert_array_equal(part.numpy(), whole[positions])


def test_rademacher_signs_are_the_bits_of_each_blocks_words():
    # NumPy re-derivation of the unpacking: number 32 j + i of a block is bit i (least significant
    # first) of the block's word j, +1 for a set bit. Event size 300 fills 218 rows (65,400 numbers,
    # 2,044 words less 8 bits): the last word is cut, and block 1 starts at position 218.
    rows = noise.rows_per_block((300,))
    signs = noise.step_signs_at(SEED, tf.constant([rows + 3, 5], tf.int64), 4, (300,), tf.float64).numpy()
    step_seed = tf.random.experimental.stateless_fold_in(SEED, tf.constant(4, tf.int64))
    for sign_row, position in zip(signs, (rows + 3, 5), strict=True):
        block_seed = tf.cast(tf.random.experimental.stateless_fold_in(step_seed, position // rows), tf.int32)
        words = tf.random.stateless_uniform([2045], block_seed, minval=None, maxval=None, dtype=tf.uint32)
        bits = np.unpackbits(words.numpy().astype("<u4").view(np.uint8), bitorder="little")
        row = bits[: rows * 300].reshape(rows, 300)[position % rows]
        np.testing.assert_array_equal(sign_row, 2.0 * row - 1.0)


def test_rademacher_steps_and_seeds_give_independent_fair_signs():
    positions = tf.range(4000, dtype=tf.int64)
    draws = [noise.step_signs_at(SEED, positions, k, (3,), tf.float64).numpy() for k in (0, 1)]
    other_seed = noise.step_signs_at(noise.sanitize_seed(22), positions, 0, (3,), tf.float64).numpy()
    for values in (draws[0], draws[1], other_seed):
        assert set(np.unique(values)) == {-1.0, 1.0}
        # A fair coin: the number of +1 among 12,000 is Binomial(12,000, 1/2).
        assert scipy.stats.binomtest(int((values > 0).sum()), values.size).pvalue > 1e-3
        # Neighbours (bits next to each other in a word) are uncorrelated.
        assert abs(np.corrcoef(values.ravel()[:-1], values.ravel()[1:])[0, 1]) < 0.04
    for a, b in ((draws[0], draws[1]), (draws[0], other_seed)):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.04


def test_steps_and_seeds_give_independent_standard_normals():
    positions = tf.range(4000, dtype=tf.int64)
    draws = [noise.step_noise_at(SEED, positions, k, (3,), tf.float64).numpy() for k in (0, 1)]
    other_seed = noise.step_noise_at(noise.sanitize_seed(22), positions, 0, (3,), tf.float64).numpy()
    for values in (draws[0], draws[1], other_seed):
        assert scipy.stats.kstest(values.ravel(), "norm").pvalue > 1e-3
    for a, b in ((draws[0], draws[1]), (draws[0], other_seed)):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.03


@pytest.mark.parametrize("distribution", ["normal", "rademacher"])
def test_stacked_noise_is_each_steps_draw(distribution):
    positions = tf.constant([5, 2, 9], tf.int64)
    stacked = noise.step_noise(SEED, positions, 4, (2, 3), tf.float32, distribution).numpy()
    assert stacked.shape == (3, 4, 2, 3)
    draw = {"normal": noise.step_noise_at, "rademacher": noise.step_signs_at}[distribution]
    for k in range(4):
        np.testing.assert_array_equal(stacked[:, k], draw(SEED, positions, k, (2, 3), tf.float32).numpy())
    assert noise.step_noise(SEED, positions, 0, (2,), tf.float32).shape == (3, 0, 2)


_PEAK_RSS_SCRIPT = textwrap.dedent(
    """
    import os, resource, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np, keras
    from dgflow_tf import RefinementModel
    generator = keras.Sequential([keras.Input((32,)), keras.layers.Dense(32, activation="tanh")])
    critic = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
    model = RefinementModel(generator, critic, step_size=1e-4, num_steps=int(sys.argv[1]), seed=0)
    model.predict(np.zeros((64, 32), "float32"), batch_size=64, verbose=0)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in KiB on Linux only")
def test_peak_memory_does_not_grow_with_the_number_of_steps():
    # Issue seen before per-step noise: 20,000 steps at batch 64 with a 32-D latent peaked 326 MB
    # above 200 steps, because every step's noise was drawn up front; at 10,000 steps that is about
    # 160 MB, still three times the bound, in half the time.
    def peak_mb(num_steps):
        output = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS_SCRIPT, str(num_steps)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
            timeout=600,
        ).stdout
        return int(output.split()[-1]) / 1024

    assert peak_mb(10_000) - peak_mb(200) < 50


def test_integer_seeds_use_all_64_bits():
    # Seeds that differ only in bit 32 (or only above it) are different seeds.
    seeds = [0, 1, 2**32, 2**33, 2**32 + 1, 2**62 + 7]
    pairs = {tuple(noise.sanitize_seed(seed).numpy()) for seed in seeds}
    assert len(pairs) == len(seeds)


def test_a_tensor_seed_of_shape_two_is_salted_like_tfp_does():
    seed = tf.constant([3, 9], tf.int64)
    expected = tfp.random.sanitize_seed(tf.constant([3, 9], tf.int32), salt="dgflow_tf")
    np.testing.assert_array_equal(noise.sanitize_seed(seed).numpy(), expected.numpy())
    with pytest.raises(ValueError, match=r"must have shape \[2\]\. Received: seed with shape \[3\]"):
        noise.sanitize_seed(tf.constant([1, 2, 3]))


def test_an_int_seed_is_split_into_its_halves_and_salted_like_tfp_does():
    # 2**33 + 5 is the pair (2, 5); the salt keeps different uses of one user seed apart.
    expected = tfp.random.sanitize_seed(tf.constant([2, 5], tf.int32), salt="dgflow_tf")
    np.testing.assert_array_equal(noise.sanitize_seed(2**33 + 5).numpy(), expected.numpy())
    salted = {tuple(noise.sanitize_seed(2**33 + 5, salt=salt).numpy()) for salt in ("a", "b", "dgflow_tf")}
    assert len(salted) == 3


@pytest.mark.parametrize(
    "seed, error, message",
    [
        ("7", TypeError, "Received: seed='7' of type str"),
        (1.5, TypeError, "Received: seed=1.5 of type float"),
        (-1, ValueError, r"must be in \[0, 2\*\*63\)\. Received: seed=-1"),
        (2**63, ValueError, r"must be in \[0, 2\*\*63\)"),
    ],
)
def test_bad_seeds_are_refused_with_the_value_and_its_type(seed, error, message):
    with pytest.raises(error, match=message):
        noise.sanitize_seed(seed)
