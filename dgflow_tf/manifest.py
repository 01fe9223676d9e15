"""The manifest of a shard directory: its format, and the checks every read makes.

`manifest.json` records a streamed run's settings and, for each finished shard, its index, file, first
sample, sample count, SHA-256 and non-finite samples. Every read checks it against this explicit schema
before any of it is used, so a damaged or hand-edited manifest (not JSON, a list, missing keys, wrong
types, a shard listed twice or out of order, counts that do not add up, a file name that points outside
the directory) is an error naming the file and what is wrong, never samples in the wrong order. A
manifest larger than `MAX_BYTES` is refused before it is parsed.

Examples:
    >>> manifest = read("refined/")  # doctest: +SKIP
    >>> sorted(shard["file"] for shard in manifest["shards"])  # doctest: +SKIP
    ['shard-00000.npy', 'shard-00001.npy']
"""

import json
import re

import tensorflow as tf

from dgflow_tf import storage

NAME = "manifest.json"
FORMAT = "dgflow_tf.shards/1"
#: A manifest of 100,000 shards is about 30 MB; anything larger is not one of ours.
MAX_BYTES = 64 << 20
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

_HEADER_TYPES = {
    "format": str,
    "num_samples": int,
    "shard_size": int,
    "batch_size": int,
    "seed": int,
    "latent_seed": (int, type(None)),
    "settings": dict,
    "weights_sha256": str,
    "inputs_sha256": (str, type(None)),
    "shards": list,
}
_SHARD_TYPES = {"index": int, "file": str, "start": int, "count": int, "sha256": str, "nonfinite": dict}


class ManifestError(ValueError):
    """A manifest that is not a valid shard manifest; the message names the file and the problem."""


def shard_name(index):
    """The file name of shard `index`: `shard-NNNNN.npy`, inside the directory by construction."""
    return f"shard-{index:05d}.npy"


def _is(value, kinds):
    # bool is an int in Python; no field here may be one.
    return isinstance(value, kinds) and not isinstance(value, bool)


def validate(manifest, path="manifest"):
    """Checks a parsed manifest against the schema; returns it.

    Raises:
        ManifestError: naming `path` and the first problem found.
    """

    def fail(problem):
        raise ManifestError(
            f"{path} is not a valid shard manifest: {problem}. It was damaged or edited by hand; "
            "delete the directory (or the manifest) and run refine_to_shards again."
        )

    if not isinstance(manifest, dict):
        fail(f"it holds a {type(manifest).__name__}, not an object")
    for key, kinds in _HEADER_TYPES.items():
        if key not in manifest:
            fail(f"the key {key!r} is missing")
        if not _is(manifest[key], kinds):
            fail(f"{key!r} is {manifest[key]!r}, not of type {getattr(kinds, '__name__', kinds)}")
    if manifest["format"] != FORMAT:
        fail(f"its format is {manifest['format']!r}, not {FORMAT!r}")
    for key in ("num_samples", "shard_size", "batch_size"):
        if manifest[key] < (0 if key == "num_samples" else 1):
            fail(f"{key!r} is {manifest[key]}")
    num_samples, shard_size = manifest["num_samples"], manifest["shard_size"]
    previous = -1
    for position, shard in enumerate(manifest["shards"]):
        where = f"shard entry {position}"
        if not isinstance(shard, dict):
            fail(f"{where} is not an object")
        for key, kinds in _SHARD_TYPES.items():
            if key not in shard or not _is(shard[key], kinds):
                fail(f"{where} has no valid {key!r} (received {shard.get(key)!r})")
        index = shard["index"]
        if index <= previous:
            fail(f"{where} has index {index} after {previous}: shards must be listed once each, in order")
        previous = index
        if shard["file"] != shard_name(index):
            # Also what keeps every file inside the directory: no path separators, no `..`.
            fail(f"{where} names the file {shard['file']!r}, not {shard_name(index)!r}")
        start, expected = index * shard_size, min(shard_size, num_samples - index * shard_size)
        if shard["start"] != start or shard["count"] != expected or expected <= 0:
            fail(
                f"{where} (index {index}) covers samples {shard['start']} to "
                f"{shard['start'] + shard['count']}, not {start} to {start + max(expected, 0)} "
                f"of {num_samples}"
            )
        if not _HEX64.match(shard["sha256"]):
            fail(f"{where} has no SHA-256 (received {shard['sha256']!r})")
        nonfinite = shard["nonfinite"]
        positions, steps = nonfinite.get("positions"), nonfinite.get("steps")
        if not (isinstance(positions, list) and isinstance(steps, list) and len(positions) == len(steps)):
            fail(f"{where} has no valid 'nonfinite' positions and steps")
        if not all(_is(p, int) and start <= p < start + expected for p in positions):
            fail(f"{where} flags positions outside its samples")
    return manifest


def is_complete(manifest):
    """Whether every shard of the run is listed (then their counts add up to `num_samples`)."""
    return sum(shard["count"] for shard in manifest["shards"]) == manifest["num_samples"]


def read(directory):
    """The validated manifest of a shard directory.

    Raises:
        FileNotFoundError: if `directory` has no manifest.
        ManifestError: if the manifest is too large, not JSON, or fails `validate`.
    """
    path = storage.join(directory, NAME)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(
            f"No {NAME} in {str(directory)!r}: it is not a refine_to_shards output directory."
        )
    problem = None
    try:
        manifest = json.loads(storage.read_bytes(path, limit=MAX_BYTES).decode("utf-8"))
    except json.JSONDecodeError as error:
        problem = f"it is not valid JSON ({error})"
    except UnicodeDecodeError:
        problem = "it is not UTF-8 text"
    except RecursionError:
        problem = "its JSON is nested too deeply"
    except ValueError as error:  # larger than MAX_BYTES
        problem = str(error)
    if problem is not None:
        raise ManifestError(
            f"{path} is not a valid shard manifest: {problem}. Delete it (or the directory) and rerun."
        )
    return validate(manifest, path)


def write(directory, manifest):
    """Validates `manifest` and replaces `directory`'s manifest with it atomically."""
    path = storage.join(directory, NAME)
    validate(manifest, path)
    storage.write_atomically(path, json.dumps(manifest, indent=1, sort_keys=True).encode())
