"""A process of the tf.distribute tests (tests/test_distributed.py); not collected by pytest.

    python distributed_worker.py single OUT.npy
    python distributed_worker.py mirrored OUT.npy
    python distributed_worker.py worker OUT.npy INDEX SHARDS KILL_AFTER PORT0 PORT1

`single` refines on one device, `mirrored` under MirroredStrategy on two logical CPU devices,
`worker` as worker INDEX of a two-worker MultiWorkerMirroredStrategy on localhost. Each also
streams the samples to shards (`OUT.npy.shards/`; the workers share the directory SHARDS, and
when KILL_AFTER > 0 the chief SIGKILLs itself once it has written that many shards).
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
        index, shared_shards, kill_after, ports = int(rest[0]), rest[1], int(rest[2]), rest[3:]
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
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
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
        if kill_after > 0 and index == 0:
            _kill_after_writing(streaming, kill_after)
        with strategy.scope():
            manifest = streaming.refine_to_shards(
                model, shared_shards, NUM_SAMPLES, latent_seed=1, shard_size=20,
                batch_size=PER_REPLICA, verbose=0,
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


if __name__ == "__main__":
    main(*sys.argv[1:])
