"""A process of the tf.distribute tests (tests/test_distributed.py); not collected by pytest.

    python distributed_worker.py single OUT.npy
    python distributed_worker.py mirrored OUT.npy
    python distributed_worker.py worker OUT.npy INDEX SHARDS KILL PORT0 PORT1

`single` refines on one device, `mirrored` under MirroredStrategy on two logical CPU devices,
`worker` as worker INDEX of a two-worker MultiWorkerMirroredStrategy on localhost. Each also
streams the samples to shards (`OUT.npy.shards/`; the workers share the directory SHARDS). KILL
is `0` (no fault), `N` (the chief SIGKILLs itself once it has written N shards), `1:N` (worker 1,
not the chief, SIGKILLs itself once it has refined its part of N shards) or `1:N:stop` (it stops
itself with SIGSTOP instead). DGFLOW_TF_TEST_COLLECTIVE_TIMEOUT sets the collectives' timeout.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NUM_SAMPLES = 45
GLOBAL_BATCH = 8  # 4 rows per replica with two replicas
PER_REPLICA = 4


def build_model():
    import keras

    from dgflow_tf import RefinementModel

    keras.utils.set_random_seed(0)
    generator = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(6)]
    )
    critic = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)]
    )
    return RefinementModel(generator, critic, num_steps=5, seed=3, step_size=0.05, entropy_weight=0.05)


def main(mode, output, *rest):
    if mode == "worker":
        index, shared_shards, kill, ports = int(rest[0]), rest[1], rest[2], rest[3:]
        # KILL: N (the chief, after writing N shards), 1:N (worker 1, after its part of N shards),
        # or 1:N:stop (worker 1 stops with SIGSTOP instead: alive but silent, as a hung machine).
        parts = kill.split(":")
        kill_index, kill_after = (int(parts[0]), int(parts[1])) if len(parts) > 1 else (0, int(parts[0]))
        stop_instead = parts[2:] == ["stop"]
        os.environ["TF_CONFIG"] = json.dumps(
            {
                "cluster": {"worker": [f"localhost:{port}" for port in ports]},
                "task": {"type": "worker", "index": index},
            }
        )
    import numpy as np
    import tensorflow as tf

    # Both must happen before TensorFlow runs any op.
    if mode == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    elif mode == "worker":
        timeout = float(os.environ.get("DGFLOW_TF_TEST_COLLECTIVE_TIMEOUT", "0")) or None
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    from dgflow_tf import streaming

    model = build_model()
    latents = model.sample_latents(NUM_SAMPLES, seed=1)
    if mode == "single":
        samples = model.predict(latents, batch_size=PER_REPLICA, verbose=0)
        replicas = 1
    else:
        with strategy.scope():
            samples = model.predict(latents, batch_size=GLOBAL_BATCH, verbose=0)
        replicas = strategy.num_replicas_in_sync
    report = {"replicas": replicas}
    shards = output + ".shards"
    if mode == "single":
        streaming.refine_to_shards(
            model, shards, NUM_SAMPLES, latent_seed=1, shard_size=20, batch_size=PER_REPLICA, verbose=0
        )
    elif mode == "mirrored":
        with strategy.scope():
            streaming.refine_to_shards(
                model, shards, NUM_SAMPLES, latent_seed=1, shard_size=20, batch_size=PER_REPLICA, verbose=0
            )
    else:
        if kill_after > 0 and index == kill_index == 0:
            _kill_after_writing(streaming, kill_after)
        elif kill_after > 0 and index == kill_index:
            _kill_after_refining(streaming, kill_after, stop_instead)
        with strategy.scope():
            manifest = streaming.refine_to_shards(
                model,
                shared_shards,
                NUM_SAMPLES,
                latent_seed=1,
                shard_size=20,
                batch_size=PER_REPLICA,
                verbose=0,
            )
        report["shards"] = len(manifest["shards"])
    np.save(output, samples)
    with open(output + ".json", "w", encoding="utf-8") as file:
        json.dump(report, file)


def _kill_after_writing(streaming, count):
    """Makes this process SIGKILL itself right after writing its `count`-th shard."""
    import signal

    write = streaming._write_atomically
    written = []

    def write_then_maybe_die(path, data):
        digest = write(path, data)
        written.append(path)
        if len(written) == count:
            os.kill(os.getpid(), signal.SIGKILL)
        return digest

    streaming._write_atomically = write_then_maybe_die


def _kill_after_refining(streaming, count, stop_instead=False):
    """Makes this (non-chief) worker SIGKILL itself once it has refined its part of `count` shards,
    as it starts the next: every collective of those shards is complete on both sides."""
    import signal

    refine = streaming._refine_shard
    calls = []

    def maybe_die_then_refine(*args, **kwargs):
        calls.append(1)
        if len(calls) == count + 1:
            os.kill(os.getpid(), signal.SIGSTOP if stop_instead else signal.SIGKILL)
        return refine(*args, **kwargs)

    streaming._refine_shard = maybe_die_then_refine


if __name__ == "__main__":
    main(*sys.argv[1:])
