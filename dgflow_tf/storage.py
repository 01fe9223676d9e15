"""Files through TensorFlow's filesystems: local paths, `gs://`, `s3://`, HDFS, `ram://`.

Everything streaming and the command line write goes through `tf.io.gfile`, so the same code writes to a
local disk or to shared storage wherever TensorFlow has the filesystem (GCS is built in; S3 and others
come with `tensorflow-io`).

What holds where:

- **Atomic files.** `write_atomically` writes a uniquely named temporary file beside the target, then
  renames it into place. On local disks and HDFS a rename is atomic, so a reader sees the old file or the
  new one, never half of one, and a killed writer leaves only a `*.partial` file that the next run
  removes. Object stores (GCS, S3) have no atomic rename: gfile copies the object, then deletes the
  temporary one. There, each object is still written whole (an upload becomes visible only once it
  completes), so a killed writer leaves at worst a complete copy under the final name whose manifest
  entry is missing, and the resumed run writes it again.
- **One writer per directory.** `DirectoryLock` creates a `lock.json` recording the writer's host, process
  id and a heartbeat. On a local disk it is created exclusively (`O_EXCL`); elsewhere it is written and
  read back, which leaves a short race between two writers that start in the same instant. A lock is
  stale, and taken over, when its process no longer exists on this host, or when its heartbeat (renewed
  after every shard) is older than `stale_after` seconds.

Examples:
    >>> digest = write_atomically("ram://example/hello.txt", b"hello")
    >>> tf.io.gfile.GFile("ram://example/hello.txt", "rb").read()
    b'hello'
"""

import hashlib
import json
import os
import socket
import time
import uuid

import tensorflow as tf

PARTIAL = ".partial"


def join(directory, name):
    """`directory/name` for any filesystem."""
    return tf.io.gfile.join(os.fspath(directory), name)


def is_local(path):
    """Whether `path` is on the local filesystem (no `scheme://`, or `file://`)."""
    path = os.fspath(path)
    return "://" not in path or path.startswith("file://")


class PathEscapeError(ValueError):
    """A path that should be inside a directory leads outside it (a symbolic link, `..`, an absolute path)."""


def check_inside(directory, path):
    """Returns `path` if it stays inside `directory` once links are followed (local paths); else raises.

    Raises:
        PathEscapeError: naming the path and where it leads.
    """
    if not is_local(path):
        return path  # object stores have no links; names are checked by the manifest's schema
    root = os.path.realpath(_local(directory))
    target = os.path.realpath(_local(path))
    if os.path.commonpath([root, target]) != root:
        raise PathEscapeError(
            f"{path} leads outside {directory} (to {target}): refusing to read or write it. A shard must "
            "be a regular file inside its directory; remove the link and run refine_to_shards again."
        )
    return path


def read_bytes(path, limit=None):
    """The bytes of `path`; with `limit`, `ValueError` if the file is larger (checked before reading)."""
    if limit is not None:
        size = tf.io.gfile.stat(path).length
        if size > limit:
            raise ValueError(
                f"{path} is {size} bytes, more than the {limit} this file may have: it is not ours."
            )
    with tf.io.gfile.GFile(path, "rb") as handle:
        return handle.read()


def sha256_of(path):
    """The SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with tf.io.gfile.GFile(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _local(path):
    path = os.fspath(path)
    return path[len("file://") :] if path.startswith("file://") else path


def write_atomically(path, data):
    """Writes `data` to `path` via a temporary file named for this process, and a rename.

    The temporary name (`path.<host>-<pid>-<random>.partial`) is unique, so two processes writing into
    one directory never touch each other's temporary files. On a local disk the temporary file is
    flushed to the device (`fsync`) before the rename. Returns the data's SHA-256.
    """
    path = os.fspath(path)
    temporary = f"{path}.{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}{PARTIAL}"
    if is_local(path):
        with open(_local(temporary), "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(_local(temporary), _local(path))
    else:
        with tf.io.gfile.GFile(temporary, "wb") as handle:
            handle.write(data)
        tf.io.gfile.rename(temporary, path, overwrite=True)
    return hashlib.sha256(data).hexdigest()


def remove_if_present(path):
    """Deletes `path`; one that is already gone is fine.

    On object stores `exists` and `remove` are separate requests (another process may delete in
    between), and some filesystems answer `exists` for a name that only prefixes others (`ram://`).
    """
    try:
        tf.io.gfile.remove(path)
    except tf.errors.NotFoundError:
        pass


def remove_partial_files(directory, mine_only=False):
    """Deletes the `*.partial` files a killed writer left in `directory` (only this process's with
    `mine_only`)."""
    prefix = f"{socket.gethostname()}-{os.getpid()}-"
    for name in tf.io.gfile.listdir(directory):
        if name.endswith(PARTIAL) and (not mine_only or prefix in name):
            remove_if_present(join(directory, name))


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


class DirectoryLockedError(FileExistsError):
    """Another live process is writing into the directory (its `lock.json` exists and is fresh)."""


class DirectoryLock:
    """A lock file, `lock.json`, for the one process that writes into a directory.

    Args:
        directory: the directory.
        stale_after: seconds after the last heartbeat at which a lock of another host counts as
            abandoned. Defaults to 600.

    Raises (on `acquire`):
        DirectoryLockedError: if a live writer holds it, naming the host and process.
    """

    NAME = "lock.json"

    def __init__(self, directory, stale_after=600.0):
        self.path = join(directory, self.NAME)
        self.stale_after = stale_after
        self.token = uuid.uuid4().hex
        self.held = False

    def _record(self):
        return json.dumps(
            {"host": socket.gethostname(), "pid": os.getpid(), "token": self.token, "heartbeat": time.time()}
        ).encode()

    def _holder(self):
        try:
            return json.loads(read_bytes(self.path, limit=1 << 16))
        except (tf.errors.NotFoundError, ValueError):
            return None

    def _is_stale(self, holder):
        if holder is None or not isinstance(holder, dict):
            return True
        if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
            return not _process_exists(holder["pid"])
        heartbeat = holder.get("heartbeat")
        return not isinstance(heartbeat, (int, float)) or time.time() - heartbeat > self.stale_after

    def acquire(self):
        holder = self._holder() if tf.io.gfile.exists(self.path) else None
        if holder is not None and not self._is_stale(holder):
            raise DirectoryLockedError(
                f"{os.path.dirname(self.path)} is being written by process {holder.get('pid')} on "
                f"{holder.get('host')} (lock file {self.path}). Wait for it to finish, or use another "
                "directory. A lock of a process that no longer runs on this host is taken over at once; "
                f"one of another host once its heartbeat is {self.stale_after:.0f} s old."
            )
        if tf.io.gfile.exists(self.path):
            remove_if_present(self.path)  # a stale lock: its process is gone
        if is_local(self.path):
            try:
                descriptor = os.open(_local(self.path), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return self.acquire()  # another process took it in between: check it again
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(self._record())
        else:
            write_atomically(self.path, self._record())
            holder = self._holder()
            if not holder or holder.get("token") != self.token:
                return self.acquire()
        self.held = True
        return self

    def heartbeat(self):
        """Renews the heartbeat (call it after each unit of work)."""
        if self.held:
            write_atomically(self.path, self._record())

    def release(self):
        if self.held:
            holder = self._holder()
            if holder and holder.get("token") == self.token:
                remove_if_present(self.path)
            self.held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
