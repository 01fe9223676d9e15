"""Storage at its edges: confinement against prefix-sharing siblings and every path form, and the
stale-heartbeat rule for a lock held on another host."""

import json
import os
import time

import pytest

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
