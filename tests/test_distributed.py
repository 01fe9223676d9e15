"""tf.distribute: MirroredStrategy (2 logical CPUs) and MultiWorkerMirroredStrategy (2 processes),
with predict and with streaming.

Each configuration runs in fresh processes (logical devices and TF_CONFIG must be set before
TensorFlow starts) and must return exactly the samples of a single-device run.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time

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
                    sys.executable,
                    WORKER,
                    "worker",
                    str(outputs[index]),
                    str(index),
                    str(shards),
                    str(kill_after),
                    *map(str, ports),
                ],
                env=_environment(),
                stdout=logs[index],
                stderr=subprocess.STDOUT,
            )
            for index in range(2)
        ]
        codes = [workers[0].wait(timeout=300)]
        if str(kill_after).endswith(":stop"):
            # The stopped worker never exits by itself: end it once the chief has stopped.
            workers[1].kill()
            codes.append(workers[1].wait())
        elif kill_after and codes[0] == -9:
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


def test_a_lost_worker_stops_the_chief_naming_it_and_a_restart_resumes(tmp_path, single_device):
    shards = tmp_path / "shared-shards"
    started = time.monotonic()
    # Worker 1, not the chief, SIGKILLs itself after refining its part of the first shard.
    codes, texts, _ = _run_workers_retrying(tmp_path, shards, kill_after="1:1")
    elapsed = time.monotonic() - started
    assert codes == [1, -9], [text[-3000:] for text in texts]
    # The chief stops on its own (the run is bounded; on localhost the refused connection is seen
    # at once) with one error that names the lost worker and says how to resume.
    assert elapsed < 240
    error = texts[0][texts[0].index("WorkerLostError") :]
    assert re.search(r"lost contact with worker 1 \(localhost:\d+\)", error), error[:600]
    assert "restart every worker with the same command to resume" in error
    manifest = streaming.read_manifest(shards)
    assert len(manifest["shards"]) == 1
    first = (shards / manifest["shards"][0]["file"]).read_bytes()
    assert not os.path.exists(shards / "lock.json")  # released on the way out
    codes, texts, _ = _run_workers_retrying(tmp_path, shards)
    assert codes == [0, 0], [text[-3000:] for text in texts]
    np.testing.assert_array_equal(streaming.load_shards(shards), single_device)
    # The shard written before the loss was kept, not rewritten.
    assert (shards / manifest["shards"][0]["file"]).read_bytes() == first


def test_a_silent_worker_stops_the_chief_within_a_bound(tmp_path, single_device, monkeypatch):
    # SIGSTOP: the worker's process lives and holds its connections but answers nothing, as a hung
    # or frozen machine does. TensorFlow's coordination service misses its heartbeats, and the
    # collectives' timeout (60 s here; `dgflow-tf stream --collective-timeout`) bounds any wait
    # that the heartbeats do not end.
    monkeypatch.setenv("DGFLOW_TF_TEST_COLLECTIVE_TIMEOUT", "60")
    shards = tmp_path / "shared-shards"
    started = time.monotonic()
    codes, texts, _ = _run_workers_retrying(tmp_path, shards, kill_after="1:1:stop")
    assert codes[0] == 1, texts[0][-3000:]
    assert time.monotonic() - started < 200
    error = texts[0][texts[0].index("WorkerLostError") :]
    assert re.search(r"worker 1 \(localhost:\d+\)", error), error[:600]
    assert len(streaming.read_manifest(shards)["shards"]) == 1
    codes, texts, _ = _run_workers_retrying(tmp_path, shards)
    assert codes == [0, 0], [text[-3000:] for text in texts]
    np.testing.assert_array_equal(streaming.load_shards(shards), single_device)


def test_the_lost_worker_error_names_tasks_from_tf_config(monkeypatch):
    import tensorflow as tf

    from dgflow_tf import distributed

    cluster = {"chief": ["host-a:1"], "worker": ["host-b:2", "host-c:3"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "chief", "index": 0}}))
    refused = tf.errors.UnavailableError(
        None, None, "Graph execution error:\nfrom /job:worker/replica:0/task:1: refused"
    )
    error = distributed.worker_lost(refused, 3, "/runs/a")
    assert error.lost == ["worker 1 (host-c:3)"] and error.shards_done == 3
    assert "lost contact with worker 1 (host-c:3) (UnavailableError: from /job:worker" in str(error)
    assert "3 finished shards are kept in '/runs/a'" in str(error)
    # A timeout names no peer: every other task is listed, never the chief itself.
    silent = tf.errors.DeadlineExceededError(None, None, "Collective has timed out")
    error = distributed.worker_lost(silent, 1, "/runs/a")
    assert error.lost == ["worker 0 (host-b:2)", "worker 1 (host-c:3)"]
    assert str(error).startswith("The multi-worker run timed out waiting for worker 0 (host-b:2), worker 1")
    assert "1 finished shard is kept" in str(error)
