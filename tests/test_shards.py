"""Reading a streamed run back (`dgflow_tf.shards`): each failure says what is wrong and what to do."""

import hashlib
import json
import re

import keras
import numpy as np
import pytest

from dgflow_tf import RefinementModel, shards, streaming


def _run(directory, num_samples=10):
    keras.utils.set_random_seed(0)
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model = RefinementModel(generator, critic, latent_shape=(2,), num_steps=1, step_size=0.05, seed=0)
    return streaming.refine_to_shards(model, directory, num_samples, shard_size=5, verbose=0)


def _full(message):
    return "^" + re.escape(message) + "$"


def test_an_unfinished_run_says_how_far_it_got_and_how_to_finish(tmp_path):
    _run(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["num_samples"] = 15  # as if stopped after 2 of 3 shards
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    expected = (
        f"{str(tmp_path)!r} holds 10 of 15 samples: the run is not finished. Call refine_to_shards "
        "again with the same arguments to complete it."
    )
    with pytest.raises(ValueError, match=_full(expected)):
        shards.load_shards(tmp_path)


def test_a_run_of_no_samples_names_its_directory(tmp_path):
    _run(tmp_path, num_samples=0)
    expected = (
        f"{str(tmp_path)!r} holds a run of 0 samples: there is nothing to load (its sample shape is unknown)."
    )
    with pytest.raises(ValueError, match=_full(expected)):
        shards.load_shards(tmp_path)


def test_a_missing_or_changed_shard_is_named_with_the_fix(tmp_path):
    _run(tmp_path)
    shard = tmp_path / "shard-00001.npy"
    shard.write_bytes(shard.read_bytes()[:-4] + b"\0\0\0\0")
    changed = (
        f"Shard {shard} does not match the SHA-256 in its manifest: the file was changed or damaged. "
        "Delete it and call refine_to_shards again with the same arguments to refine it again."
    )
    with pytest.raises(shards.CorruptShardError, match=_full(changed)):
        shards.load_shards(tmp_path)
    shard.unlink()
    missing = (
        f"Shard {shard} is missing, though its manifest lists it. Call refine_to_shards again with the "
        "same arguments to refine it again."
    )
    with pytest.raises(FileNotFoundError, match=_full(missing)):
        shards.verify_shards(tmp_path)


@pytest.mark.parametrize("verify", [True, False])
def test_a_shard_of_python_objects_is_refused_even_with_a_matching_checksum(tmp_path, verify):
    # Whoever can write the shard can also rewrite its checksum: the file is still never unpickled.
    _run(tmp_path)
    shard = tmp_path / "shard-00000.npy"
    np.save(shard, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["shards"][0]["sha256"] = hashlib.sha256(shard.read_bytes()).hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        shards.CorruptShardError, match=rf"^Shard {re.escape(str(shard))} is not a numeric \.npy"
    ):
        shards.load_shards(tmp_path, verify=verify)


def test_an_emptied_shard_read_without_verifying_is_named(tmp_path):
    _run(tmp_path)
    shard = tmp_path / "shard-00001.npy"
    shard.write_bytes(b"")
    with pytest.raises(
        shards.CorruptShardError, match=rf"^Shard {re.escape(str(shard))} is not a numeric \.npy"
    ):
        shards.load_shards(tmp_path, verify=False)
