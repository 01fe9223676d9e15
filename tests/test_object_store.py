"""What the docs claim for object stores, with their behaviour injected into `tf.io.gfile`.

No S3 or GCS emulator is reachable here: TensorFlow's GCS filesystem has its endpoint compiled in
(`https://www.googleapis.com/storage/v1/`, no emulator variable), and S3 needs the tensorflow-io
plug-in built for another TensorFlow. So a `ram://` directory stands in for a bucket, and the two
behaviours the docs name are injected where streaming meets them:

- a non-atomic rename: `tf.io.gfile.rename` copies and then deletes, and a writer killed during the
  copy leaves a half-written object under the final name;
- delayed listings: `tf.io.gfile.listdir` does not yet show recently written objects.
"""

import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel, storage, streaming
from dgflow_tf.streaming import CorruptShardError


class _Killed(BaseException):
    """A writer killed mid-operation (a BaseException, so no `except Exception` swallows it)."""


@pytest.fixture()
def model():
    generator = lambda z: tf.tanh(z)  # noqa: E731
    critic = lambda x: -tf.reduce_sum(tf.square(x - 0.5), axis=-1)  # noqa: E731
    return RefinementModel(generator, critic, latent_shape=(3,), step_size=0.05, num_steps=4, seed=5)


def _directory(name):
    path = f"ram://object-store-tests/{name}"
    if tf.io.gfile.exists(path):
        tf.io.gfile.rmtree(path)
    return path


def _copy_then_delete(crash_on=None):
    """A rename as object stores do it: copy (half of it, then killed, for the `crash_on`-th shard),
    then delete the source."""
    renamed = []

    def rename(source, target, overwrite=False):
        data = tf.io.gfile.GFile(source, "rb").read()
        # An object is replaced whole, never written into (TensorFlow's ram:// appends on reopen).
        storage.remove_if_present(target)
        if target.endswith(".npy"):
            renamed.append(target)
            if len(renamed) == crash_on:
                with tf.io.gfile.GFile(target, "wb") as handle:
                    handle.write(data[: len(data) // 2])
                raise _Killed(target)
        with tf.io.gfile.GFile(target, "wb") as handle:
            handle.write(data)
        storage.remove_if_present(source)

    return rename


def test_a_writer_killed_mid_copy_leaves_an_unrecorded_shard_that_resume_refines_again(model, monkeypatch):
    whole = _directory("whole")
    reference = streaming.refine_to_shards(model, whole, 50, shard_size=20, batch_size=10, verbose=0)
    expected = streaming.load_shards(whole)
    directory = _directory("killed")
    with monkeypatch.context() as patch:
        patch.setattr(tf.io.gfile, "rename", _copy_then_delete(crash_on=2))
        with pytest.raises(_Killed):
            streaming.refine_to_shards(model, directory, 50, shard_size=20, batch_size=10, verbose=0)
    # The half-copied second shard is under its final name, but the manifest does not list it.
    assert len(streaming.read_manifest(directory)["shards"]) == 1
    half = tf.io.gfile.GFile(f"{directory}/shard-00001.npy", "rb").read()
    assert 0 < len(half) < len(tf.io.gfile.GFile(f"{whole}/shard-00001.npy", "rb").read())
    with monkeypatch.context() as patch:
        patch.setattr(tf.io.gfile, "rename", _copy_then_delete())
        manifest = streaming.refine_to_shards(model, directory, 50, shard_size=20, batch_size=10, verbose=0)
    assert [s["sha256"] for s in manifest["shards"]] == [s["sha256"] for s in reference["shards"]]
    np.testing.assert_array_equal(streaming.load_shards(directory), expected)


def test_a_recorded_shard_overwritten_by_a_half_copy_fails_its_checksum(model):
    directory = _directory("overwritten")
    streaming.refine_to_shards(model, directory, 40, shard_size=20, batch_size=10, verbose=0)
    path = f"{directory}/shard-00001.npy"
    data = tf.io.gfile.GFile(path, "rb").read()
    storage.remove_if_present(path)
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(data[: len(data) // 2])
    with pytest.raises(CorruptShardError, match="shard-00001.npy"):
        streaming.refine_to_shards(model, directory, 40, shard_size=20, batch_size=10, verbose=0)
    with pytest.raises(CorruptShardError, match="shard-00001.npy"):
        streaming.load_shards(directory)


def test_delayed_listings_leave_a_killed_writers_leftovers_harmless(model, monkeypatch):
    directory = _directory("listing")
    expected = model.predict(model.sample_latents(40, seed=0), batch_size=10, verbose=0)
    written = []
    write = tf.io.gfile.GFile

    class RecordingFile(write):
        def __init__(self, name, mode="r"):
            if "w" in mode:
                written.append(str(name).rsplit("/", 1)[-1])
            super().__init__(name, mode)

    def delayed_listdir(path, listdir=tf.io.gfile.listdir):
        # Objects written since the first listing are not shown yet.
        return [name for name in listdir(path) if name not in written[-3:]]

    # A writer killed after writing its temporary object, before the rename.
    def killed_rename(source, target, overwrite=False):
        raise _Killed(source)

    with monkeypatch.context() as patch:
        patch.setattr(tf.io.gfile, "GFile", RecordingFile)
        patch.setattr(tf.io.gfile, "rename", killed_rename)
        with pytest.raises(_Killed):
            streaming.refine_to_shards(model, directory, 40, shard_size=20, batch_size=10, verbose=0)
    leftovers = [name for name in tf.io.gfile.listdir(directory) if name.endswith(".partial")]
    assert leftovers  # the killed writer's temporary object
    with monkeypatch.context() as patch:
        patch.setattr(tf.io.gfile, "GFile", RecordingFile)
        patch.setattr(tf.io.gfile, "listdir", delayed_listdir)
        patch.setattr(tf.io.gfile, "rename", _copy_then_delete())
        streaming.refine_to_shards(model, directory, 40, shard_size=20, batch_size=10, verbose=0)
    # A leftover the listing did not show may stay behind, but the result is the uninterrupted one.
    np.testing.assert_array_equal(streaming.load_shards(directory), expected)
    streaming.verify_shards(directory)  # raises on a bad shard
