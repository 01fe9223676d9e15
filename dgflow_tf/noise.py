"""Stateless, position-keyed noise for refinement.

Every random number a refinement uses is a pure function of a seed, the
position of the sample in the full input and (for step noise) the step, never
of the batch it happens to be processed in. `model.predict(z, batch_size=7)` and `model.predict(z,
batch_size=500)` therefore add the same noise to the same sample, and a run
split into pieces gets the noise of the whole run.

Seeds follow TensorFlow Probability's conventions: an `int`, a `[2]` integer
tensor, or `None` for fresh randomness; `tfp.random.sanitize_seed` turns each
into a stateless `[2]` int32 seed. The library never calls
`tf.random.set_seed`.
"""

import numbers
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

_SEED_SALT = "dgflow_tf"


def sanitize_seed(seed: int | tf.Tensor | None, salt: str = _SEED_SALT) -> tf.Tensor:
    """Turns a user seed into a stateless `[2]` int32 seed tensor.

    Args:
        seed: `None`, a Python `int`, or a `[2]` integer tensor/array. `None`
            draws a fresh seed from TensorFlow's global generator, so two
            calls differ; inside a `tf.function` the draw happens each time the
            graph runs, not once at tracing.
        salt: string mixed into integer seeds so that different uses of the
            same user seed are independent. Defaults to `"dgflow_tf"`.

    Returns:
        A `[2]` int32 tensor usable with `tf.random.stateless_*` ops.

    Raises:
        TypeError: if `seed` is a float, a string or a bool.
        ValueError: if a tensor seed does not have shape `[2]`.

    Examples:
        >>> s = sanitize_seed(42)
        >>> bool(tf.reduce_all(s == sanitize_seed(42)))
        True
    """
    if seed is None:
        # TFP draws a fresh stateless seed statefully: at every execution, also
        # inside graphs.
        return tfp.random.sanitize_seed(None, salt=salt)
    if isinstance(seed, bool) or isinstance(seed, (float, str, bytes)):
        raise TypeError(
            "`seed` must be None, an int or a [2] integer tensor. "
            f"Received: seed={seed!r} of type {type(seed).__name__}"
        )
    if isinstance(seed, numbers.Integral):
        seed = int(seed)
        if not 0 <= seed < 2**63:
            raise ValueError(f"An integer `seed` must be in [0, 2**63). Received: seed={seed}")
        # TFP reads a Python int as a *stateful* seed; split it into a
        # stateless [2] pair so the same int always gives the same noise.
        halves = np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=np.uint32).view(np.int32)
        return tfp.random.sanitize_seed(tf.constant(halves), salt=salt)
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise TypeError(
            "`seed` must be None, an int or a [2] integer tensor. "
            f"Received: a tensor of dtype {seed.dtype.name}"
        )
    if seed.shape.rank is not None and seed.shape.as_list() != [2]:
        raise ValueError(
            f"A tensor `seed` must have shape [2]. Received: seed with shape {seed.shape.as_list()}"
        )
    return tfp.random.sanitize_seed(tf.cast(seed, tf.int32), salt=salt)


def integer_seed(seed):
    """`seed` as a Python int if it is a Python or NumPy integer (not a bool), else `None`.

    The one test of "an integer seed" that streaming and multi-worker refinement need (their noise must
    be reproducible from the seed alone), so that `np.int64(3)` counts like `3` everywhere.
    """
    if isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)):
        return int(seed)
    return None


def seed_from_int64(seed, salt=_SEED_SALT):
    """In-graph `sanitize_seed` for a scalar int64 seed tensor.

    Gives the same `[2]` seed as `sanitize_seed(int(seed))`, so an exported
    SavedModel fed a seed reproduces the Python model given the same int.

    Args:
        seed: scalar int64 tensor, >= 0.
        salt: as in `sanitize_seed`.

    Returns:
        A `[2]` int32 tensor.
    """
    seed = tf.convert_to_tensor(seed, tf.int64)
    high = tf.cast(tf.bitwise.right_shift(seed, 32), tf.uint32)
    low = tf.cast(tf.bitwise.bitwise_and(seed, 0xFFFFFFFF), tf.uint32)
    halves = tf.bitcast(tf.stack([high, low]), tf.int32)
    return tfp.random.sanitize_seed(halves, salt=salt)


def position_seeds(seed, positions):
    """Derives one independent stateless seed per sample position.

    Args:
        seed: a `[2]` int32 seed from `sanitize_seed`.
        positions: `[batch]` int64 tensor, each sample's index in the full
            input.

    Returns:
        A `[batch, 2]` int32 tensor; row `i` depends only on `seed` and
        `positions[i]`.
    """
    positions = tf.cast(positions, tf.int64)
    return tf.map_fn(
        # fold_in returns int64 seeds; the low 32 bits of each half keep them distinct.
        lambda p: tf.cast(tf.random.experimental.stateless_fold_in(seed, p), tf.int32),
        positions,
        fn_output_signature=tf.TensorSpec([2], tf.int32),
    )


def position_draws(seed, positions, sample_shape, distribution, event_shape=()):
    """Draws `distribution.sample(sample_shape)` per sample, keyed by position.

    Sample `i` receives the draw seeded by `fold_in(seed, positions[i])`,
    whatever else is in the batch, so results do not depend on batching.

    Args:
        seed: a `[2]` int32 seed from `sanitize_seed`.
        positions: `[batch]` integer tensor of sample indices.
        sample_shape: per-sample shape of the draw, a list of ints.
        distribution: a `tfd.Distribution` with an empty batch shape.
        event_shape: the distribution's event shape. Defaults to `()`.

    Returns:
        A `[batch, *sample_shape, *event_shape]` tensor.
    """
    sample_shape = tf.TensorShape(sample_shape).as_list()
    seeds = position_seeds(seed, positions)
    return tf.map_fn(
        lambda s: distribution.sample(sample_shape, seed=s),
        seeds,
        fn_output_signature=tf.TensorSpec(sample_shape + list(event_shape), distribution.dtype),
    )


#: About how many numbers one keyed block of step noise holds (see `step_noise_at`).
BLOCK_SIZE = 65_536


def rows_per_block(event_shape):
    """How many samples share one keyed block of step noise: `max(1, BLOCK_SIZE // event_size)`."""
    size = int(np.prod(tf.TensorShape(event_shape).as_list(), dtype=np.int64))
    return max(1, BLOCK_SIZE // max(size, 1))


def step_noise_at(
    seed: tf.Tensor, positions: tf.Tensor, step: int | tf.Tensor, event_shape: Sequence[int], dtype: tf.DType
) -> tf.Tensor:
    """Standard normal noise of one refinement step, keyed by `(seed, position, step)`.

    Positions are grouped in fixed blocks of `rows_per_block(event_shape)`
    consecutive positions (about `BLOCK_SIZE` numbers, so one sample for
    large images and thousands for 2-D points). Block `b` of step `k` is one
    `tfd.Normal` draw of shape `[rows, *event_shape]` seeded by
    `fold_in(fold_in(seed, k), b)`, and position `p` takes row
    `p mod rows` of block `p // rows`. A sample's noise is therefore a
    function of the seed, its position and the step only, whatever batch it
    is refined in, while a batch of consecutive positions costs about as
    many draws as it has numbers (plus at most two partly used blocks), and
    only one step's noise exists at a time.

    Args:
        seed: a `[2]` int32 seed from `sanitize_seed`.
        positions: `[batch]` integer tensor of sample indices.
        step: scalar integer (tensor), the step.
        event_shape: shape of one sample's state (e.g. `[128]` or
            `[32, 32, 3]`), fully known.
        dtype: floating dtype of the noise.

    Returns:
        A `[batch, *event_shape]` tensor of N(0, 1) draws.
    """
    event_shape = tf.TensorShape(event_shape).as_list()
    rows = rows_per_block(event_shape)
    standard_normal = tfd.Normal(loc=tf.constant(0.0, dtype), scale=tf.constant(1.0, dtype))

    def draw(block_seed):
        return standard_normal.sample([rows, *event_shape], seed=block_seed)

    block = tf.TensorSpec([rows, *event_shape], dtype)
    return _rows_of_blocks(seed, positions, step, event_shape, draw, block)


def _rows_of_blocks(seed, positions, step, event_shape, draw, spec, unpack=None):
    """Each position's row of its block's draw: block `b` of step `k` is `draw(fold_in(fold_in(seed, k), b))`.

    `draw` returns a block of the shape of `spec`; `unpack` (optional) turns the `[blocks, ...]` draws into
    `[blocks, rows, *event_shape]`. With one row a block (a large state) each position's block is drawn
    directly, in the order given: the same numbers without `tf.unique` and a gather copying the step's
    noise once more (about a tenth of its cost for 64 images of 128x128x3).
    """
    rows = rows_per_block(event_shape)
    positions = tf.cast(positions, tf.int64)
    step_seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(step, tf.int64))

    def keyed_draw(block):
        # fold_in returns int64 seeds; the low 32 bits of each half keep them distinct.
        return draw(tf.cast(tf.random.experimental.stateless_fold_in(step_seed, block), tf.int32))

    unpack = unpack or (lambda drawn: drawn)
    if rows == 1:
        drawn = unpack(tf.map_fn(keyed_draw, positions, fn_output_signature=spec))
        return tf.reshape(drawn, [-1, *event_shape])
    blocks, row_in_block = positions // rows, positions % rows
    unique_blocks, block_index = tf.unique(blocks, out_idx=tf.int64)
    drawn = unpack(tf.map_fn(keyed_draw, unique_blocks, fn_output_signature=spec))
    return tf.gather_nd(drawn, tf.stack([block_index, row_in_block], axis=1))


# Bit `i` of a random 32-bit word is the sign of number `i` of its 32: byte `j` (bits 8j to 8j + 7)
# holds numbers 8j to 8j + 7, and row `v` of `_BYTE_SIGNS` is the eight signs of the byte `v`.
_BYTE_SHIFTS = (0, 8, 16, 24)
_BYTE_SIGNS = ((np.arange(256)[:, None] >> np.arange(8)) & 1) * 2.0 - 1.0


def step_signs_at(
    seed: tf.Tensor, positions: tf.Tensor, step: int | tf.Tensor, event_shape: Sequence[int], dtype: tf.DType
) -> tf.Tensor:
    """Rademacher noise (each number -1 or +1 with probability 1/2) of one step, keyed like `step_noise_at`.

    The cheap alternative to normal noise (`noise_distribution="rademacher"`):
    one random bit per number, against a 32-bit word and half of a log, a
    square root and a sine and cosine for a normal (Box-Muller makes two
    normals of two words): 4 times cheaper to draw for 64 images of
    128x128x3 (`benchmarks/noise_cost.py`), where the noisy run takes 1.16
    times the deterministic one at K = 100 (`benchmarks/memory.py`; normals:
    2.04). Mean 0 and variance 1 as a standard normal:
    Euler-Maruyama with such two-point increments is the simplified weak Euler
    scheme (Kloeden and Platen, 1992, section 14.1), of the same weak order one
    as with normal increments, so the law of the refined samples converges to
    the same flow's as the step shrinks. Its paths are not Brownian ones.

    Blocks and keys are `step_noise_at`'s (same `rows_per_block`, seeds
    `fold_in(fold_in(seed, k), b)`), with block `b` one draw of 32-bit words
    whose bits are its numbers' signs, so a sample's signs are a function of the
    seed, its position and the step only.

    Args:
        seed: a `[2]` int32 seed from `sanitize_seed`.
        positions: `[batch]` integer tensor of sample indices.
        step: scalar integer (tensor), the step.
        event_shape: shape of one sample's state, fully known.
        dtype: floating dtype of the noise.

    Returns:
        A `[batch, *event_shape]` tensor of -1 and +1.

    Examples:
        >>> signs = step_signs_at(sanitize_seed(0), tf.range(4), 0, [3], tf.float32)
        >>> sorted(set(signs.numpy().ravel().tolist()))
        [-1.0, 1.0]
    """
    event_shape = tf.TensorShape(event_shape).as_list()
    rows = rows_per_block(event_shape)
    numbers = rows * int(np.prod(event_shape, dtype=np.int64))
    words = -(-numbers // 32)

    def draw(block_seed):
        return tf.random.stateless_uniform([words], block_seed, minval=None, maxval=None, dtype=tf.uint32)

    def unpack(drawn):
        # Unpacked once for every block, after the draws: each word's four bytes, least significant
        # first, each looked up as its eight signs, so the step's numbers are written once.
        octets = tf.bitwise.bitwise_and(
            tf.bitwise.right_shift(drawn[..., None], tf.constant(_BYTE_SHIFTS, tf.uint32)), 0xFF
        )
        signs = tf.gather(tf.constant(_BYTE_SIGNS, dtype), tf.cast(octets, tf.int32))
        signs = tf.reshape(signs, [-1, words * 32])[:, :numbers]
        return tf.reshape(signs, [-1, rows, *event_shape])

    block = tf.TensorSpec([words], tf.uint32)
    return _rows_of_blocks(seed, positions, step, event_shape, draw, block, unpack)


#: The keyed draw of each `noise_distribution` setting.
STEP_NOISE = {"normal": step_noise_at, "rademacher": step_signs_at}


def step_noise(
    seed: tf.Tensor,
    positions: tf.Tensor,
    num_steps: int,
    event_shape: Sequence[int],
    dtype: tf.DType,
    distribution: str = "normal",
) -> tf.Tensor:
    """The noise of steps `0 .. num_steps - 1` stacked: `[batch, num_steps, *event_shape]`.

    `step_noise(...)[:, k]` equals `step_noise_at(seed, positions, k, ...)`
    (`step_signs_at` for `distribution="rademacher"`), the noise the
    refinement draws inside its loop at step `k`. For tests and references;
    the refinement itself never holds more than one step.

    Args:
        seed: a `[2]` int32 seed from `sanitize_seed`.
        positions: `[batch]` integer tensor of sample indices.
        num_steps: Python int, the number of refinement steps.
        event_shape: shape of one sample's state.
        dtype: floating dtype of the noise.
        distribution: `"normal"` or `"rademacher"` (a key of `STEP_NOISE`).
            Defaults to `"normal"`.

    Returns:
        A `[batch, num_steps, *event_shape]` tensor of the steps' draws.
    """
    event_shape = tf.TensorShape(event_shape).as_list()
    draw = STEP_NOISE[distribution]
    if num_steps == 0:
        return tf.zeros([tf.shape(positions)[0], 0, *event_shape], dtype)
    draws = [draw(seed, positions, step, event_shape, dtype) for step in range(num_steps)]
    return tf.stack(draws, axis=1)
