"""`dgflow_tf.distributed` in this process: the lost-worker message, per-replica batches and predict's
Keras callbacks. (tests/test_distributed.py runs real workers, in other processes.)"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel, distributed

CLUSTER = {"worker": ["host-a:2222", "host-b:2222", "host-c:2222"]}


def test_a_lost_worker_is_named_with_its_address_and_the_shards_kept(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 0}}))
    error = tf.errors.UnavailableError(
        None, None, "Graph execution error:\nfailed to reach /job:worker/replica:0/task:2: connection refused"
    )
    lost = distributed.worker_lost(error, 1, "/runs/a")
    assert lost.lost == ["worker 2 (host-c:2222)"] and lost.shards_done == 1
    assert str(lost) == (
        "The multi-worker run lost contact with worker 2 (host-c:2222) (UnavailableError: failed to reach "
        "/job:worker/replica:0/task:2: connection refused). 1 finished shard is kept in '/runs/a': restart "
        "every worker with the same command to resume."
    )
    # A timeout names no peer: every other task is listed, and this worker never is.
    timeout = distributed.worker_lost(
        tf.errors.DeadlineExceededError(None, None, "deadline exceeded"), 2, "d"
    )
    assert timeout.lost == ["worker 1 (host-b:2222)", "worker 2 (host-c:2222)"]
    assert "timed out waiting for worker 1 (host-b:2222), worker 2 (host-c:2222)" in str(timeout)
    assert "2 finished shards are kept in 'd'" in str(timeout)


def test_each_replica_refines_its_share_of_a_batch_rounded_up():
    strategy = tf.distribute.get_strategy()  # the default strategy: one replica
    assert distributed.per_replica_batch_size(7, strategy) == 7

    class _FourReplicas:
        num_replicas_in_sync = 4

    assert distributed.per_replica_batch_size(10, _FourReplicas()) == 3
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer"):
        distributed.per_replica_batch_size(0, strategy)


class _Params(keras.callbacks.Callback):
    def on_predict_begin(self, logs=None):
        self.seen = dict(self.params)


def test_predict_gives_keras_callbacks_its_steps_and_verbosity():
    model = RefinementModel(lambda z: z, lambda x: -tf.reduce_sum(x * x, -1), latent_shape=(2,), num_steps=1)
    z = np.zeros((10, 2), "float32")
    for verbose, steps, expected in (("auto", None, (1, 4)), (0, 2, (0, 2)), (2, None, (2, 4))):
        recorder = _Params()
        model.predict(z, batch_size=3, verbose=verbose, steps=steps, callbacks=[recorder])
        assert (recorder.seen["verbose"], recorder.seen["steps"]) == expected
    with pytest.raises(ValueError, match=r"`steps` must be a positive integer\. Received: steps=0"):
        model.predict(z, steps=0)


def test_predict_inside_a_one_device_mirrored_scope_matches_predict_outside_it():
    # Inside any strategy's scope predict goes through predict_distributed, with the model's seed:
    # one replica must give the one-device samples bit for bit (noise keyed by seed and position).
    model = RefinementModel(
        lambda z: 2.0 * z, lambda x: -tf.reduce_sum(x * x, -1), latent_shape=(2,), num_steps=3, seed=7
    )
    z = np.random.default_rng(0).normal(size=(9, 2)).astype("float32")
    outside = model.predict(z, batch_size=4, verbose=0)
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        inside = model.predict(z, batch_size=4, verbose=0)
    np.testing.assert_array_equal(inside, outside)
