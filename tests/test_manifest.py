"""The shard manifest (`dgflow_tf.manifest`): what `read` and `validate` refuse, and how they say it."""

import json

import pytest

from dgflow_tf import manifest as manifest_lib
from dgflow_tf.manifest import ManifestError


def _shard(index, start, count):
    return {
        "index": index,
        "file": manifest_lib.shard_name(index),
        "start": start,
        "count": count,
        "sha256": "a" * 64,
        "nonfinite": {"positions": [], "steps": []},
    }


def _manifest(num_samples=11, shards=((0, 0, 5), (1, 5, 5), (2, 10, 1))):
    return {
        "format": manifest_lib.FORMAT,
        "num_samples": num_samples,
        "shard_size": 5,
        "batch_size": 5,
        "seed": 0,
        "latent_seed": 0,
        "settings": {},
        "weights_sha256": "0" * 64,
        "inputs_sha256": None,
        "shards": [_shard(*shard) for shard in shards],
    }


def test_a_last_shard_of_one_sample_is_valid_and_a_shard_past_the_end_is_not():
    manifest_lib.validate(_manifest())  # 5 + 5 + 1 samples
    past_the_end = _manifest(num_samples=10, shards=((0, 0, 5), (1, 5, 5), (2, 10, 0)))
    with pytest.raises(
        ManifestError, match=r"shard entry 2 \(index 2\) covers samples 10 to 10, not 10 to 10"
    ):
        manifest_lib.validate(past_the_end)


def test_validate_names_the_format_and_a_shard_entry_that_is_not_an_object():
    with pytest.raises(ManifestError, match=r"its format is 'other/1', not 'dgflow_tf.shards/1'"):
        manifest_lib.validate({**_manifest(), "format": "other/1"})
    broken = _manifest()
    broken["shards"][0] = ["not", "an", "object"]
    with pytest.raises(ManifestError, match=r"shard entry 0 is not an object"):
        manifest_lib.validate(broken)


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"\xff\xfe not text", "it is not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "its JSON is nested too deeply"),
        (b"{not json", "it is not valid JSON"),
    ],
)
def test_read_says_what_is_wrong_with_the_file(tmp_path, content, problem):
    (tmp_path / manifest_lib.NAME).write_bytes(content)
    with pytest.raises(ManifestError, match=rf"manifest.json is not a valid shard manifest: {problem}"):
        manifest_lib.read(str(tmp_path))


def test_read_names_a_directory_without_a_manifest_and_returns_a_valid_one(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=rf"No manifest.json in '{tmp_path}': it is not a refine_to_shards"
    ):
        manifest_lib.read(str(tmp_path))
    (tmp_path / manifest_lib.NAME).write_text(json.dumps(_manifest()))
    assert manifest_lib.read(str(tmp_path))["num_samples"] == 11
