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


def _run_workers(tmp_path, attempt):
    """Starts the two workers on two free ports; returns their exit codes, logs and outputs."""
    ports = _free_ports(2)
    outputs = [tmp_path / f"worker{index}-{attempt}.npy" for index in range(2)]
    log_paths = [tmp_path / f"worker{index}-{attempt}.log" for index in range(2)]
    logs = [open(path, "w") for path in log_paths]
    try:
        workers = [
            subprocess.Popen(
                [sys.executable, WORKER, "worker", str(outputs[index]), str(index), *map(str, ports)],
                env=_environment(),
                stdout=logs[index],
                stderr=subprocess.STDOUT,
            )
            for index in range(2)
        ]
        codes = [worker.wait(timeout=300) for worker in workers]
    finally:
        for log in logs:
            log.close()
    return codes, [path.read_text() for path in log_paths], outputs


def test_two_worker_processes_match_one_device_exactly(tmp_path, single_device):
    # The ports are free when chosen but released before the workers bind them, so another process
    # may take one in between: a worker that cannot bind is retried on new ports (3 tries).
    for attempt in range(3):
        codes, texts, outputs = _run_workers(tmp_path, attempt)
        if codes == [0, 0] or not any("address already in use" in text.lower() for text in texts):
            break
    assert codes == [0, 0], [text[-3000:] for text in texts]
    for output in outputs:
        samples, replicas = _load(output)
        assert replicas == 2
        # Every worker receives all samples, each equal to the single-device run.
        np.testing.assert_array_equal(samples, single_device)
        assert "Across workers, give each worker its own slice" in _report(output)["stream_error"]
