"""Read and check the shards of a streamed run: its manifest, every checksum, all samples.

`dgflow_tf.streaming.refine_to_shards` writes the shards; this module reads
them back, and never trusts a byte it has not checked: the manifest against
its schema (`dgflow_tf.manifest`), each shard against the SHA-256 recorded
when it was written, and each file name against the directory it must stay
in. `streaming` re-exports these names.

Examples:
    >>> samples = load_shards("refined/")  # verifies every checksum  # doctest: +SKIP
    >>> verify_shards("refined/")  # raises CorruptShardError naming a damaged shard  # doctest: +SKIP
"""

import io
import os

import numpy as np
import tensorflow as tf

from dgflow_tf import manifest as manifest_lib
from dgflow_tf import storage


class CorruptShardError(ValueError):
    """A shard on disk does not match the checksum its manifest recorded."""


def read_manifest(directory):
    """The validated manifest of a shard directory (see `dgflow_tf.manifest`).

    Raises:
        FileNotFoundError: if `directory` has no `manifest.json`.
        ManifestError: (a `ValueError`) if the manifest is not a valid shard manifest.
    """
    return manifest_lib.read(str(directory))


def verify_shards(directory, manifest=None):
    """Checks every recorded shard against its SHA-256.

    Raises:
        CorruptShardError: naming the first shard whose bytes differ.
        FileNotFoundError: if a recorded shard is missing.
    """
    manifest = read_manifest(directory) if manifest is None else manifest
    for shard in manifest["shards"]:
        check_shard(directory, shard)


def load_shards(directory: str | os.PathLike, verify: bool = True) -> np.ndarray:
    """All refined samples of a finished run, in order, as one array.

    Args:
        directory: a `refine_to_shards` output directory.
        verify: check each shard's checksum first. Defaults to `True`.

    Returns:
        `[num_samples, ...]` NumPy array.

    Raises:
        ValueError: if the run is not finished (shards are missing).
        CorruptShardError: if `verify` and a shard's bytes changed, or a shard
            is not a numeric `.npy` array.
    """
    manifest = read_manifest(directory)
    if not manifest_lib.is_complete(manifest):
        listed = sum(shard["count"] for shard in manifest["shards"])
        raise ValueError(
            f"{str(directory)!r} holds {listed} of {manifest['num_samples']} samples: the run is not "
            "finished. Call refine_to_shards again with the same arguments to complete it."
        )
    if verify:
        verify_shards(directory, manifest)
    paths = [
        storage.check_inside(directory, storage.join(str(directory), s["file"])) for s in manifest["shards"]
    ]
    if not paths:
        raise ValueError(
            f"{str(directory)!r} holds a run of 0 samples: there is nothing to load (its sample shape "
            "is unknown)."
        )
    return np.concatenate([_read_shard(path) for path in paths])


def _read_shard(path):
    # Never unpickled: a shard is numbers only, and unpickling runs code chosen by whoever wrote the file.
    try:
        return np.load(io.BytesIO(storage.read_bytes(path)), allow_pickle=False)
    except (ValueError, EOFError) as error:  # EOFError: an empty or truncated file
        raise CorruptShardError(
            f"Shard {path} is not a numeric .npy array ({error}). Delete it and call refine_to_shards "
            "again with the same arguments to refine it again."
        ) from None


def check_shard(directory, shard):
    """Checks one recorded shard of `directory` against its SHA-256.

    Raises:
        FileNotFoundError: if the shard is missing.
        CorruptShardError: if its bytes differ.
    """
    path = storage.join(str(directory), shard["file"])
    storage.check_inside(directory, path)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(
            f"Shard {path} is missing, though its manifest lists it. Call refine_to_shards again with "
            "the same arguments to refine it again."
        )
    if storage.sha256_of(path) != shard["sha256"]:
        raise CorruptShardError(
            f"Shard {path} does not match the SHA-256 in its manifest: the file was changed or damaged. "
            "Delete it and call refine_to_shards again with the same arguments to refine it again."
        )
