"""tf.distribute: MirroredStrategy (2 logical CPUs) and MultiWorkerMirroredStrategy (2 processes),
with predict and with streaming.

Each configuration runs in fresh processes (logical devices and TF_CONFIG must be set before
TensorFlow starts) and must return exactly the samples of a single-device run.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from dgflow_tf import streaming

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_worker.py")


def _environment():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def _run(*arguments):
    done = subprocess.run(
        [sys.executable, WORKER, *map(str, arguments)],
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _load(path):
    with open(str(path) + ".json", encoding="utf-8") as file:
        return np.load(path), json.load(file)["replicas"]


def _report(path):
    with open(str(path) + ".json", encoding="utf-8") as file:
        return json.load(file)


@pytest.fixture(scope="module")
def single_device(tmp_path_factory):
    path = tmp_path_factory.mktemp("single") / "single.npy"
    _run("single", path)
    samples = _load(path)[0]
    # Streaming on one device gives the samples predict gives with the same batches.
    np.testing.assert_array_equal(streaming.load_shards(str(path) + ".shards"), samples)
    return samples


def test_mirrored_strategy_on_two_devices_matches_one_device_exactly(tmp_path, single_device):
    _run("mirrored", tmp_path / "mirrored.npy")
    samples, replicas = _load(tmp_path / "mirrored.npy")
    assert replicas == 2
    np.testing.assert_array_equal(samples, single_device)
    # Streaming with the replicas sharing each shard writes the same samples.
    np.testing.assert_array_equal(streaming.load_shards(str(tmp_path / "mirrored.npy.shards")), single_device)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _run_workers(tmp_path, attempt, shards, kill_after=0):
    """Starts the two workers on two free ports; returns their exit codes, logs and outputs.

    With `kill_after`, the chief SIGKILLs itself after that many shards; the other worker, left
    waiting in a collective, is killed once the chief is gone (as a cluster manager would).
    """
    ports = _free_ports(2)
    outputs = [tmp_path / f"worker{index}-{attempt}.npy" for index in range(2)]
    log_paths = [tmp_path / f"worker{index}-{attempt}.log" for index in range(2)]
    logs = [open(path, "w") for path in log_paths]
    try:
        workers = [
            subprocess.Popen(
                [
                    sys.executable, WORKER, "worker", str(outputs[index]), str(index), str(shards),
                    str(kill_after), *map(str, ports),
                ],
                env=_environment(),
                stdout=logs[index],
                stderr=subprocess.STDOUT,
            )
            for index in range(2)
        ]
        codes = [workers[0].wait(timeout=300)]
        if kill_after and codes[0] == -9:
            try:
                codes.append(workers[1].wait(timeout=10))
            except subprocess.TimeoutExpired:
                workers[1].kill()
                codes.append(workers[1].wait())
        else:
            codes.append(workers[1].wait(timeout=300))
    finally:
        for log in logs:
            log.close()
    return codes, [path.read_text() for path in log_paths], outputs


def _run_workers_retrying(tmp_path, shards, kill_after=0):
    # The ports are free when chosen but released before the workers bind them, so another process
    # may take one in between: a worker that cannot bind is retried on new ports (3 tries).
    for attempt in range(3):
        codes, texts, outputs = _run_workers(tmp_path, f"{kill_after}-{attempt}", shards, kill_after)
        if not any("address already in use" in text.lower() for text in texts):
            break
    return codes, texts, outputs


def test_two_worker_processes_match_one_device_exactly(tmp_path, single_device):
    shards = tmp_path / "shared-shards"
    codes, texts, outputs = _run_workers_retrying(tmp_path, shards)
    assert codes == [0, 0], [text[-3000:] for text in texts]
    for output in outputs:
        samples, replicas = _load(output)
        assert replicas == 2
        # Every worker receives all samples, each equal to the single-device run.
        np.testing.assert_array_equal(samples, single_device)
        # Every worker returns the chief's manifest: 3 shards of 45 samples.
        assert _report(output)["shards"] == 3
    # The chief alone wrote the shards, the same bytes a single device writes.
    np.testing.assert_array_equal(streaming.load_shards(shards), single_device)
    assert sorted(os.listdir(shards)) == ["manifest.json", *(f"shard-{i:05d}.npy" for i in range(3))]


def test_two_workers_killed_mid_stream_resume_to_the_single_device_shards(tmp_path, single_device):
    shards = tmp_path / "shared-shards"
    codes, texts, _ = _run_workers_retrying(tmp_path, shards, kill_after=2)
    assert codes[0] == -9, texts[0][-3000:]
    # Killed right after writing its second shard, before recording it: the manifest lists the
    # first, and the chief's lock was left behind.
    assert len(streaming.read_manifest(shards)["shards"]) == 1
    assert os.path.exists(shards / "lock.json")
    codes, texts, _ = _run_workers_retrying(tmp_path, shards)
    assert codes == [0, 0], [text[-3000:] for text in texts]
    np.testing.assert_array_equal(streaming.load_shards(shards), single_device)
    assert not os.path.exists(shards / "lock.json")
