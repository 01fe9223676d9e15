"""Storage at its edges: confinement against prefix-sharing siblings and every path form, and the
stale-heartbeat rule for a lock held on another host."""

import json
import os
import time

import pytest
import tensorflow as tf

from dgflow_tf import storage


@pytest.mark.parametrize("form", ["plain", "file://", "relative"])
def test_a_sibling_whose_name_extends_the_directory_is_outside_it(tmp_path, monkeypatch, form):
    # "run" and "run-2": a string-prefix comparison would take run-2/shard.npy for a file inside run.
    (tmp_path / "run").mkdir()
    (tmp_path / "run-2").mkdir()
    monkeypatch.chdir(tmp_path)
    directory, outside, inside = (
        tmp_path / "run",
        tmp_path / "run-2" / "shard.npy",
        tmp_path / "run" / "a.npy",
    )
    if form == "file://":
        directory, outside, inside = (f"file://{path}" for path in (directory, outside, inside))
    elif form == "relative":
        directory, outside, inside = "run", os.path.join("run-2", "shard.npy"), os.path.join("run", "a.npy")
    with pytest.raises(storage.PathEscapeError, match="shard.npy leads outside"):
        storage.check_inside(str(directory), str(outside))
    assert storage.check_inside(str(directory), str(inside)) == str(inside)


def test_a_link_inside_the_directory_to_a_sibling_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run-2").mkdir()
    (tmp_path / "run-2" / "shard.npy").write_bytes(b"x")
    os.symlink(tmp_path / "run-2" / "shard.npy", tmp_path / "run" / "shard-00000.npy")
    with pytest.raises(storage.PathEscapeError, match="run-2"):
        storage.check_inside(str(tmp_path / "run"), str(tmp_path / "run" / "shard-00000.npy"))


def _other_hosts_lock(directory, age):
    record = {"host": "another-host.example", "pid": 1, "token": "theirs", "heartbeat": time.time() - age}
    (directory / "lock.json").write_text(json.dumps(record))


def test_another_hosts_fresh_lock_is_respected_and_a_stale_one_taken_over(tmp_path):
    # The pid of another host cannot be checked here: only its heartbeat's age decides.
    _other_hosts_lock(tmp_path, age=60.0)
    with pytest.raises(storage.DirectoryLockedError, match="on another-host.example"):
        storage.DirectoryLock(str(tmp_path), stale_after=600.0).acquire()
    assert json.loads((tmp_path / "lock.json").read_text())["token"] == "theirs"  # untouched
    _other_hosts_lock(tmp_path, age=601.0)
    lock = storage.DirectoryLock(str(tmp_path), stale_after=600.0).acquire()
    assert json.loads((tmp_path / "lock.json").read_text())["token"] == lock.token
    lock.release()
    assert not (tmp_path / "lock.json").exists()


def test_a_lock_without_a_heartbeat_from_another_host_is_stale(tmp_path):
    (tmp_path / "lock.json").write_text(json.dumps({"host": "another-host.example", "pid": 1}))
    with storage.DirectoryLock(str(tmp_path)) as lock:
        assert lock.held


def _dead_pid():
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_lock_a_writer_leaves_is_read_back_by_the_rules_it_was_written_for(tmp_path):
    # The record our own writer leaves, moved to another host: its fresh heartbeat keeps it held.
    writer = storage.DirectoryLock(str(tmp_path)).acquire()
    record = json.loads((tmp_path / "lock.json").read_text())
    (tmp_path / "lock.json").write_text(json.dumps({**record, "host": "another-host.example"}))
    with pytest.raises(storage.DirectoryLockedError) as error:
        storage.DirectoryLock(str(tmp_path)).acquire()
    assert (
        "A lock of a process that no longer runs on this host is taken over at once; one of another "
        in str(error.value)
    )
    # The same record on this host, of a process that has exited: taken over at once.
    (tmp_path / "lock.json").write_text(json.dumps({**record, "pid": _dead_pid()}))
    taker = storage.DirectoryLock(str(tmp_path)).acquire()
    assert json.loads((tmp_path / "lock.json").read_text())["token"] == taker.token != writer.token


def test_a_released_lock_is_not_renewed_and_never_removes_a_successors(tmp_path):
    first = storage.DirectoryLock(str(tmp_path)).acquire()
    first.release()
    first.heartbeat()  # after release: writes nothing
    assert not (tmp_path / "lock.json").exists()
    # A second writer's lock survives a late release by a first one that lost it.
    first = storage.DirectoryLock(str(tmp_path)).acquire()
    (tmp_path / "lock.json").unlink()  # e.g. removed by an operator as stale
    second = storage.DirectoryLock(str(tmp_path)).acquire()
    first.release()
    assert json.loads((tmp_path / "lock.json").read_text())["token"] == second.token


def test_on_an_object_store_a_lock_lost_to_a_concurrent_writer_is_not_held(monkeypatch):
    # Object stores have no exclusive create: the writer reads its lock back, and another writer's
    # record found there is a live lock.
    directory = "ram://lock-race"
    tf.io.gfile.makedirs(directory)
    theirs = {"host": "another-host.example", "pid": 1, "token": "theirs", "heartbeat": time.time()}
    write = storage.write_atomically

    def lose_the_race(path, data):
        write(path, json.dumps(theirs).encode())

    monkeypatch.setattr(storage, "write_atomically", lose_the_race)
    with pytest.raises(storage.DirectoryLockedError, match="another-host.example"):
        storage.DirectoryLock(directory).acquire()
