"""The one batching loop: host arrays in slices of `batch_size` rows, NumPy results out.

`map_batches` is the loop every batched path uses (`RefinementModel.predict`
and `generate`, streaming, the baselines, the corrector's scores), with
Keras callbacks for progress bars. `refine_in_batches` is refinement on top
of it: each slice keeps its rows' positions in the whole run (their noise
keys).

Examples:
    >>> double = lambda x: 2 * x
    >>> map_batches(double, [np.arange(5)], batch_size=2)
    array([0, 2, 4, 6, 8])
"""

import math

import numpy as np
import tensorflow as tf

from dgflow_tf._validation import check_positive_int


def _numpy(value):
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def map_batches(fn, arrays, batch_size, *, num_batches=None, callbacks=None):
    """Applies `fn` to aligned slices of `arrays`; concatenates its outputs as NumPy.

    Args:
        fn: callable taking one slice of each array (`None` entries are
            passed as `None`) and returning a tensor, an array, or a nest of
            them (tuple or dict).
        arrays: list of `[N, ...]` arrays or tensors (or `None`).
        batch_size: positive int, rows per call.
        num_batches: stop after this many slices. Defaults to all.
        callbacks: optional `keras.callbacks.CallbackList`; its predict hooks
            see each slice's first output as `logs["outputs"]`.

    Returns:
        The outputs of every slice concatenated along the first axis, in the
        structure `fn` returns.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    count = int(arrays[0].shape[0])
    num_batches = math.ceil(count / batch_size) if num_batches is None else num_batches
    # An empty input is one empty batch: the result is empty with the right shape and dtype.
    num_batches = max(num_batches, 1) if count == 0 else num_batches
    outputs = []
    if callbacks is not None:
        callbacks.on_predict_begin()
    for step in range(num_batches):
        if callbacks is not None:
            callbacks.on_predict_batch_begin(step)
        rows = slice(step * batch_size, (step + 1) * batch_size)
        result = tf.nest.map_structure(_numpy, fn(*(None if a is None else a[rows] for a in arrays)))
        outputs.append(result)
        if callbacks is not None:
            callbacks.on_predict_batch_end(step, {"outputs": tf.nest.flatten(result)[0]})
    if callbacks is not None:
        callbacks.on_predict_end()
    return tf.nest.map_structure(lambda *parts: np.concatenate(parts, axis=0), *outputs)


def pad_rows(tensor, padding):
    """`tensor` with `padding` rows of zeros appended (for fixed-batch graphs and `strategy.gather`)."""
    pad = tf.concat([[[0, padding]], tf.zeros([tf.rank(tensor) - 1, 2], tf.int32)], axis=0)
    return tf.pad(tensor, pad)


def refine_in_batches(model, latents, conditions, seed, rows, *, start=0, num_batches=None, callbacks=None):
    """Refines validated host inputs `rows` at a time on one device: NumPy `(samples, nonfinite_step)`.

    The batches run through the same batch-agnostic graph as `refine` and the
    exported SavedModel, so all agree bit for bit. (`distributed.refine_batches`
    sends the batches to a `tf.distribute` strategy's replicas instead, when
    there is one.)

    Args:
        model: a `RefinementModel`.
        latents: `[N, ...]` validated inputs (`inputs.host_inputs`).
        conditions: `[N, ...]` conditions, or `None`.
        seed: `[2]` int32 refinement seed.
        rows: rows per batch.
        start: position of the first input in the whole run (its noise key).
            Defaults to `0`.
        num_batches: stop early (Keras' `steps`). Defaults to all.
        callbacks: optional `keras.callbacks.CallbackList`.

    Returns:
        `(samples, nonfinite_step)` NumPy arrays.
    """
    positions = tf.range(start, start + int(latents.shape[0]), dtype=tf.int64)

    def refine(latents, positions, conditions):
        outputs = model._run_batch(latents, positions, seed, conditions)
        return outputs["samples"], outputs["nonfinite_step"]

    return map_batches(
        refine, [latents, positions, conditions], rows, num_batches=num_batches, callbacks=callbacks
    )
