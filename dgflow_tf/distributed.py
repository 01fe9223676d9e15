"""Refinement across devices and workers with `tf.distribute`.

DGflow refines each sample independently, so distributing it needs no
gradient synchronisation: the input is cut into chunks of
`per_replica_batch_size` rows, replica `r` of `R` refines chunks
`r, r + R, r + 2R, ...` through the model's compiled refinement function, and
`strategy.gather` brings the refined chunks back in order. Noise is keyed by
each sample's global position (`dgflow_tf.noise`), and every chunk is the
same rows that a single-device `model.predict(x, batch_size=per_replica_batch_size)`
refines in one batch, so the result is bit for bit the single-device one.

`RefinementModel.predict` (through `refine_batches`) calls
`predict_distributed` by itself when it runs inside `strategy.scope()`:

>>> strategy = tf.distribute.MirroredStrategy()  # doctest: +SKIP
>>> with strategy.scope():  # doctest: +SKIP
...     refined = model.predict(z, batch_size=256)  # 256 / num_replicas per replica

With `MultiWorkerMirroredStrategy`, every worker runs the same script (with
its own `TF_CONFIG`) on the same latents, for example
`model.sample_latents(n, seed=0)`, and every worker receives all refined
samples. `is_chief` and `agree_with_chief` let every worker follow the
chief's decisions (which shards a resumed stream still needs), as TensorFlow's
chief-writes convention for checkpoints has it.
"""

import json
import math
import os
import re

import keras
import numpy as np
import tensorflow as tf

from dgflow_tf import batching
from dgflow_tf import noise as noise_lib
from dgflow_tf._validation import check_positive_int
from dgflow_tf.errors import raise_if_nonfinite


def refine_batches(model, latents, conditions, seed, rows, *, start=0, num_batches=None, callbacks=None):
    """Refines host inputs in batches of `rows`: across the replicas inside a `tf.distribute` scope
    (`predict_distributed`, `rows` per replica), else on one device (`batching.refine_in_batches`).

    Returns:
        `(samples, nonfinite_step)` NumPy arrays.
    """
    if not tf.distribute.has_strategy():
        return batching.refine_in_batches(
            model, latents, conditions, seed, rows, start=start, num_batches=num_batches, callbacks=callbacks
        )
    return predict_distributed(
        model,
        latents,
        conditions,
        seed,
        strategy=tf.distribute.get_strategy(),
        per_replica_batch_size=rows,
        start=start,
        callbacks=callbacks,
    )


def predict_distributed(
    model, latents, conditions, seed, *, strategy, per_replica_batch_size, start=0, callbacks=None
):
    """Refines host inputs across `strategy`'s replicas; returns NumPy samples and flags.

    Args:
        model: a `RefinementModel`.
        latents: `[N, ...]` validated input tensor (host).
        conditions: `[N, ...]` conditions, or `None`.
        seed: `[2]` int32 refinement seed, the same on every worker.
        strategy: a `tf.distribute.Strategy` (`MirroredStrategy`,
            `MultiWorkerMirroredStrategy`, or the default one).
        per_replica_batch_size: rows each replica refines per step.
        start: position of the first input in the whole run (its noise key).
            Defaults to `0`.
        callbacks: optional `keras.callbacks.CallbackList` (progress bar).

    Returns:
        `(samples, nonfinite_step)` NumPy arrays covering all `N` inputs.
    """
    rows = check_positive_int(per_replica_batch_size, "per_replica_batch_size")
    replicas = strategy.num_replicas_in_sync
    count = int(latents.shape[0])
    num_rounds = max(1, math.ceil(count / (rows * replicas)))
    positions = tf.range(start, start + count, dtype=tf.int64)

    def chunk(tensor, round_index, replica):
        if tensor is None:
            return None
        first = min((round_index * replicas + replica) * rows, count)
        return tensor[first : min(first + rows, count)]

    def refine_chunk(latents, positions, conditions):
        outputs = model._run_batch(latents, positions, seed, conditions)
        # strategy.gather needs equal shapes: pad every chunk to `rows` and cut on the host.
        padding = rows - tf.shape(latents)[0]
        return (
            batching.pad_rows(outputs["samples"], padding),
            batching.pad_rows(outputs["nonfinite_step"], padding),
            tf.shape(latents)[:1],
        )

    # Replicas run inside one tf.function: MirroredStrategy.run called eagerly spawns a thread
    # per replica and call. Each replica calls the model's own compiled refinement graph, the
    # one a single-device predict runs.
    @tf.function(reduce_retracing=True)
    def run_replicas(inputs):
        return strategy.run(refine_chunk, args=inputs)

    samples, nonfinite = [], []
    if callbacks is not None:
        callbacks.on_predict_begin()
    for round_index in range(num_rounds):
        if callbacks is not None:
            callbacks.on_predict_batch_begin(round_index)

        def values(context, round_index=round_index):
            replica = context.replica_id_in_sync_group
            return (
                chunk(latents, round_index, replica),
                chunk(positions, round_index, replica),
                chunk(conditions, round_index, replica),
            )

        inputs = strategy.experimental_distribute_values_from_function(values)
        padded_samples, padded_flags, sizes = run_replicas(inputs)
        gathered = [strategy.gather(value, axis=0).numpy() for value in (padded_samples, padded_flags)]
        sizes = [int(size) for size in strategy.gather(sizes, axis=0).numpy()]
        for replica, size in enumerate(sizes):
            samples.append(gathered[0][replica * rows : replica * rows + size])
            nonfinite.append(gathered[1][replica * rows : replica * rows + size])
        if callbacks is not None:
            callbacks.on_predict_batch_end(round_index, {"outputs": np.concatenate(samples[-len(sizes) :])})
    if callbacks is not None:
        callbacks.on_predict_end()
    return np.concatenate(samples), np.concatenate(nonfinite)


def per_replica_batch_size(batch_size, strategy):
    """The rows each replica refines per step for a global `batch_size` (rounded up)."""
    return math.ceil(check_positive_int(batch_size, "batch_size") / strategy.num_replicas_in_sync)


def check_distributable(model, strategy, steps):
    """Raises `ValueError` for what `predict` cannot do under `strategy`."""
    if steps is not None:
        raise ValueError(
            "`steps` is not supported inside a tf.distribute strategy; slice the inputs instead."
        )
    if (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and noise_lib.integer_seed(model.seed) is None
    ):
        raise ValueError(
            "Under MultiWorkerMirroredStrategy every worker must draw the same noise: build the "
            f"model with an integer seed (e.g. seed=0). Received: seed={model.seed!r}."
        )


def predict(model, latents, conditions, batch_size=None, verbose="auto", steps=None, callbacks=None):
    """`RefinementModel.predict` on validated host inputs: batches, devices, progress bar, policy.

    Returns:
        `[N, ...]` NumPy samples.

    Raises:
        NonFiniteRefinementError: under `on_nonfinite="raise"`, if a sample
            turned NaN or Inf.
        ValueError: for `steps` under a strategy, or no integer seed under
            `MultiWorkerMirroredStrategy`.
    """
    batch_size = 32 if batch_size is None else check_positive_int(batch_size, "batch_size")
    count = int(latents.shape[0])
    num_batches = math.ceil(count / batch_size)
    if steps is not None:
        num_batches = min(num_batches, check_positive_int(steps, "steps"))
    rows = batch_size
    if tf.distribute.has_strategy():
        strategy = tf.distribute.get_strategy()
        check_distributable(model, strategy, steps)
        rows = per_replica_batch_size(batch_size, strategy)
        num_batches = math.ceil(count / (rows * strategy.num_replicas_in_sync))
    # One seed per call (a fresh one if the model's seed is None): the
    # noise stays keyed by position across batches.
    seed = noise_lib.sanitize_seed(model.seed)
    callbacks = keras.callbacks.CallbackList(
        callbacks,
        add_progbar=verbose != 0,
        verbose=1 if verbose == "auto" else verbose,
        epochs=1,
        steps=num_batches,
        model=model,
    )
    if count == 0:
        # An empty input gives an empty result of the right shape and dtype.
        positions = tf.range(0, dtype=tf.int64)
        return model._run_batch(latents, positions, seed, conditions)["samples"].numpy()
    samples, nonfinite = refine_batches(
        model, latents, conditions, seed, rows, num_batches=num_batches, callbacks=callbacks
    )
    raise_if_nonfinite(nonfinite, policy=model.on_nonfinite, samples=samples)
    return samples


def is_multi_worker(strategy):
    """Whether `strategy` spans several worker processes (`MultiWorkerMirroredStrategy`)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy=None):
    """Whether this process is the one that writes: the chief of a multi-worker cluster.

    The chief is the task of type `"chief"`, or worker 0 in a cluster without
    one (TensorFlow's convention, from `TF_CONFIG`). A single process is always
    the chief.

    Args:
        strategy: a `tf.distribute.Strategy`, or `None` for the current one.
    """
    if strategy is None and tf.distribute.has_strategy():
        strategy = tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if not is_multi_worker(strategy) or resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def agree_with_chief(values, strategy=None):
    """The chief's `values` (a 1-D integer vector), on every worker.

    A collective over all replicas, so every worker must call it at the same
    point; it also serves as a barrier. Outside a multi-worker strategy it
    returns `values`.

    Args:
        values: 1-D integers, meaningful on the chief (other workers' are
            ignored but must have the same length).
        strategy: a `tf.distribute.Strategy`, or `None` for the current one.

    Returns:
        `np.int64` array: the chief's values.
    """
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    if strategy is None and tf.distribute.has_strategy():
        strategy = tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return values
    chief = is_chief(strategy)
    # Each of the chief's local replicas contributes [1, *values], everybody else zeros: the sum
    # divided by its first entry is the chief's vector, however many devices the chief has.
    mine = np.concatenate([[1], values]) if chief else np.zeros(len(values) + 1, np.int64)
    contribution = tf.constant(mine)
    per_replica = strategy.experimental_distribute_values_from_function(lambda context: contribution)
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None).numpy()
    return total[1:] // total[0]


#: The errors a collective raises when a peer is gone: refused or reset connections (Unavailable),
#: a `CommunicationOptions` timeout (DeadlineExceeded), or an aborted collective group.
PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
)


def worker_lost(error, shards_done, directory):
    """A `WorkerLostError` for a collective's `error`, naming the lost tasks from TF_CONFIG.

    TensorFlow's message names the peer it failed to reach as `/job:NAME/replica:0/task:INDEX`;
    when it names none (a timeout), every other task of the cluster is listed.
    """
    from dgflow_tf.errors import WorkerLostError

    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    cluster, me = config.get("cluster", {}), config.get("task", {})
    mine = (me.get("type"), int(me.get("index", -1)))

    def describe(job, index):
        addresses = cluster.get(job, [])
        address = f" ({addresses[index]})" if index < len(addresses) else ""
        return f"{job} {index}{address}"

    named = {(job, int(index)) for job, index in re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", str(error))}
    named.discard(mine)
    if not named:
        named = {(job, index) for job, tasks in cluster.items() for index in range(len(tasks))} - {mine}
    lost = [describe(job, index) for job, index in sorted(named)]
    reason = (
        "timed out waiting for" if isinstance(error, tf.errors.DeadlineExceededError) else "lost contact with"
    )
    # TensorFlow's first line is often "Graph execution error:"; the line saying why is more useful.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [""]
    telling = re.compile(r"aborted by|refused|unavailable|deadline|timed out|timeout", re.IGNORECASE)
    first_line = next((line for line in lines if telling.search(line)), lines[0])[:300]
    return WorkerLostError(
        f"The multi-worker run {reason} {', '.join(lost)} ({type(error).__name__}: {first_line}). "
        f"{shards_done} finished shard{' is' if shards_done == 1 else 's are'} kept in {directory!r}: "
        "restart every worker with the same command to resume.",
        lost=lost,
        shards_done=shards_done,
    )
