"""Refine any number of samples into checksummed `.npy` shards that survive being killed.

`refine_to_shards` refines `N` samples shard by shard, holding one shard in
memory at a time, so memory does not grow with `N`. Each shard is written to
a temporary file, flushed to disk and renamed into place, and only then
recorded, with its SHA-256, in `manifest.json` (itself replaced atomically).
A run that is killed at any moment therefore leaves complete shards and a
manifest that lists exactly those; calling `refine_to_shards` again with the
same arguments verifies them and refines only the rest.

A resumed run equals an uninterrupted one bit for bit: sample `i`'s latent
and noise depend only on the seeds and `i` (see `dgflow_tf.noise`), and every
shard is refined in the same batches. The manifest records what the samples
depend on (seeds, batch size, settings, a digest of the generator's and
critic's weights and of the inputs) and refuses to resume with other values.

Examples:
    >>> manifest = refine_to_shards(model, "refined/", 50_000, shard_size=5_000)  # doctest: +SKIP
    >>> samples = load_shards("refined/")  # verifies every checksum  # doctest: +SKIP
"""

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dgflow_tf.refinement import RefinementModel

import hashlib
import io
import json

import keras
import numpy as np
import tensorflow as tf

from dgflow_tf import distributed, storage
from dgflow_tf import inputs as inputs_lib
from dgflow_tf import manifest as manifest_lib
from dgflow_tf import noise as noise_lib
from dgflow_tf import step_size as step_size_lib
from dgflow_tf._validation import check_non_negative_int, check_positive_int
from dgflow_tf.errors import raise_if_nonfinite
from dgflow_tf.manifest import FORMAT, ManifestError  # noqa: F401  (re-exported)
from dgflow_tf.manifest import NAME as MANIFEST
from dgflow_tf.shards import (  # noqa: F401  (CorruptShardError, load_shards, verify_shards: re-exported)
    CorruptShardError,
    check_shard,
    load_shards,
    read_manifest,
    verify_shards,
)
from dgflow_tf.storage import DirectoryLockedError  # noqa: F401  (re-exported)


def refine_to_shards(
    model: "RefinementModel",
    directory: str | os.PathLike,
    num_samples: int | None = None,
    *,
    latents: np.ndarray | None = None,
    conditions: np.ndarray | None = None,
    latent_seed: int = 0,
    shard_size: int = 1000,
    batch_size: int = 64,
    verbose: int = 1,
) -> dict:
    """Refines `num_samples` samples into `directory`, resuming a run found there.

    Args:
        model: a `RefinementModel` with an integer `seed`.
        directory: where the shards and `manifest.json` go; created if needed.
        num_samples: how many samples to draw from the model's latent prior
            and refine. Leave `None` when passing `latents`.
        latents: optional `[N, ...]` array (a `np.load(..., mmap_mode="r")`
            memory map works) of inputs to refine instead of drawn latents;
            samples in data space without a generator.
        conditions: `[N, ...]` conditions for a conditional model.
        latent_seed: seed of the drawn latents (sample `i` is keyed by it and
            `i`). Defaults to `0`.
        shard_size: samples per shard file. Defaults to `1000`.
        batch_size: samples per refinement batch (per replica inside a
            `MirroredStrategy` or `MultiWorkerMirroredStrategy` scope, whose
            replicas share each shard).
            Defaults to `64`. It must stay the same across a run and its
            resumptions; a run with and without a strategy gives the same
            samples.
        verbose: `1` for a progress bar, `0` for none. Defaults to `1`.

    Returns:
        The manifest, a dict; `manifest["shards"]` lists each shard's `file`,
        `start`, `count`, `sha256` and its `nonfinite` samples (positions
        and steps, under `on_nonfinite="freeze"`). Across workers, every
        worker refines its part of each shard and only the chief writes;
        the others return the chief's manifest once it is written (or,
        if they cannot see `directory`, their own record of the shards).

    Raises:
        WorkerLostError: (a `ConnectionError`) when a multi-worker run loses a
            worker: a refused connection, or no answer within the strategy's
            `CommunicationOptions(timeout_seconds=...)`. It names the lost
            task; finished shards are kept and a restart resumes.
        ValueError: for a model without an integer seed, neither or both of
            `num_samples` and `latents`, bad sizes, or a directory holding a
            run with other settings, model weights or inputs.
        DirectoryLockedError: if another live process streams into `directory`.
        RuntimeError: on a worker other than the chief, when the chief could
            not start (its own error says why).
        CorruptShardError: if a recorded shard's checksum does not match.
        NonFiniteRefinementError: under `on_nonfinite="raise"`, when a shard
            has a NaN or Inf sample; shards finished before it are kept.
    """
    seed = noise_lib.integer_seed(model.seed)
    if seed is None:
        raise ValueError(
            "Streaming needs a fixed integer refinement seed so that a resumed run reproduces the "
            f"interrupted one. Received: model.seed={model.seed!r}. Build the model with seed=0 (or any int)."
        )
    shard_size = check_positive_int(shard_size, "shard_size")
    batch_size = check_positive_int(batch_size, "batch_size")
    latent_seed = check_non_negative_int(latent_seed, "latent_seed")
    if (num_samples is None) == (latents is None):
        raise ValueError(
            "Pass exactly one of `num_samples` (draw latents from the model's prior) and `latents`. "
            f"Received: num_samples={num_samples!r}, latents={'None' if latents is None else 'an array'}."
        )
    if latents is not None:
        num_samples = int(np.shape(latents)[0])
        if conditions is not None and np.shape(conditions)[0] != num_samples:
            raise ValueError(
                f"`conditions` must have one row per latent: {np.shape(conditions)[0]} rows for "
                f"{num_samples} latents."
            )
    else:
        num_samples = check_non_negative_int(num_samples, "num_samples")
        if model.conditional:
            raise ValueError("A conditional model needs `latents` and `conditions`, not `num_samples`.")
    if model.conditional and conditions is None:
        raise ValueError("The model is conditional: pass `conditions` with one row per sample.")
    strategy = tf.distribute.get_strategy() if tf.distribute.has_strategy() else None
    # Under MultiWorkerMirroredStrategy every worker refines its part of each shard; only the chief
    # locks the directory and writes (TensorFlow's chief-writes convention).
    writer = distributed.is_chief(strategy)

    if latents is not None and num_samples:
        # `auto` resolves on the whole input's first rows, as `predict` of the same input would.
        probe = slice(0, step_size_lib.PROBE_SIZE)
        model.resolve_step_size(
            np.asarray(latents[probe]), None if conditions is None else np.asarray(conditions[probe])
        )

    directory = str(directory)
    header = {
        "format": FORMAT,
        "num_samples": num_samples,
        "shard_size": shard_size,
        "batch_size": batch_size,
        "seed": seed,
        "latent_seed": None if latents is not None else latent_seed,
        "settings": _settings(model),
        "weights_sha256": _weights_digest(model),
        "inputs_sha256": None if latents is None else _arrays_digest(latents, conditions),
    }
    num_shards = -(-num_samples // shard_size)
    lock = storage.DirectoryLock(directory)
    manifest, failure = dict(header, shards=[]), None
    if writer:
        try:
            tf.io.gfile.makedirs(directory)
            lock.acquire()
            # Only the lock's holder gets here, so leftover temporary files are a killed writer's.
            storage.remove_partial_files(directory)
            manifest = _resume(directory, header)
        except Exception as error:  # noqa: BLE001  (the other workers hear of it, then it is raised)
            failure = error
    try:
        done = _shards_done(manifest, num_shards, failure, strategy, directory)
        progress = keras.utils.Progbar(num_samples, verbose=verbose if writer else 0, unit_name="sample")
        progress.update(sum(min(shard_size, num_samples - index * shard_size) for index in done))
        refinement_seed = noise_lib.sanitize_seed(seed)
        for index in range(num_shards):
            if index in done:
                continue
            start = index * shard_size
            stop = min(start + shard_size, num_samples)
            if latents is None:
                shard_inputs = model.sample_latents(stop - start, seed=latent_seed, start=start)
            else:
                shard_inputs = np.asarray(latents[start:stop])
            if conditions is not None:
                shard_inputs = (shard_inputs, np.asarray(conditions[start:stop]))
            samples, nonfinite = _refine_shard(
                model, shard_inputs, start, refinement_seed, batch_size, progress
            )
            bad = np.flatnonzero(nonfinite >= 0)
            # Under "raise" the shard is not recorded: the run stops here, and a rerun hits the same
            # samples again rather than silently continuing past them.
            raise_if_nonfinite(nonfinite, offset=start, policy=model.on_nonfinite, samples=samples)
            name = manifest_lib.shard_name(index)
            data = _npy_bytes(samples)
            digest = _write_atomically(storage.join(directory, name), data) if writer else _sha256(data)
            manifest["shards"].append(
                {
                    "index": index,
                    "file": name,
                    "start": start,
                    "count": stop - start,
                    "sha256": digest,
                    "nonfinite": {"positions": (bad + start).tolist(), "steps": nonfinite[bad].tolist()},
                }
            )
            manifest["shards"].sort(key=lambda shard: shard["index"])
            if writer:
                manifest_lib.write(directory, manifest)
                lock.heartbeat()
        if distributed.is_multi_worker(strategy):
            # Every worker waits for the chief's last manifest.
            distributed.agree_with_chief([0], strategy)
    except distributed.PEER_ERRORS as error:
        if not distributed.is_multi_worker(strategy):
            raise
        # A worker is gone: what is written stays written (each shard is recorded after its write).
        raise distributed.worker_lost(error, len(manifest["shards"]), directory) from error
    finally:
        lock.release()
    if not writer and tf.io.gfile.exists(storage.join(directory, MANIFEST)):
        return read_manifest(directory)
    return manifest


# -- internals -----------------------------------------------------------------


def _refine_shard(model, shard_inputs, start, seed, batch_size, progress):
    latents, conditions = inputs_lib.host_inputs(model, shard_inputs)
    # Inside a MirroredStrategy scope each replica refines `batch_size` rows at a time: the same
    # batches, so the same samples, as a single-device run with this batch size.
    callbacks = keras.callbacks.CallbackList([_SampleProgress(progress)])
    return distributed.refine_batches(
        model, latents, conditions, seed, batch_size, start=start, callbacks=callbacks
    )


class _SampleProgress(keras.callbacks.Callback):
    """Advances a whole-run progress bar by each refined batch's samples."""

    def __init__(self, progress):
        super().__init__()
        self.progress = progress

    def on_predict_batch_end(self, batch, logs=None):
        self.progress.add(len(logs["outputs"]))


def _shards_done(manifest, num_shards, failure, strategy, directory):
    """The shard indices the (chief's) manifest lists, agreed on by every worker."""
    flags = np.zeros(num_shards + 1, np.int64)
    flags[0] = failure is not None
    for shard in manifest["shards"]:
        flags[1 + shard["index"]] = 1
    agreed = distributed.agree_with_chief(flags, strategy)
    if failure is not None:
        raise failure
    if agreed[0]:
        raise RuntimeError(
            f"The chief worker could not start streaming into {directory!r}; its error says why. "
            "This worker stops too."
        )
    return {int(index) for index in np.flatnonzero(agreed[1:])}


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _settings(model):
    """What the refined samples depend on besides seeds, weights and inputs, as JSON values."""
    settings = {
        "class": type(model).__name__,
        **model.config.manifest_settings(model.compute_dtype, model.step_size),
    }
    # Round trip through JSON so a resumed run compares like with like.
    return json.loads(json.dumps(settings, default=lambda value: type(value).__qualname__))


def _weights_digest(model):
    digest = hashlib.sha256()
    for part in (model.generator, model.critic):
        for variable in getattr(part, "variables", None) or []:
            digest.update(variable.name.encode())
            digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
    return digest.hexdigest()


def _arrays_digest(*arrays):
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            continue
        array = np.asarray(array)
        digest.update(str((array.shape, array.dtype.str)).encode())
        # In chunks, so memory-mapped inputs are hashed without loading them whole.
        for start in range(0, max(len(array), 1), 4096):
            digest.update(np.ascontiguousarray(array[start : start + 4096]).tobytes())
    return digest.hexdigest()


def _resume(directory, header):
    if not tf.io.gfile.exists(storage.join(directory, MANIFEST)):
        manifest = dict(header, shards=[])
        manifest_lib.write(directory, manifest)
        return manifest
    manifest = read_manifest(directory)
    for key, value in header.items():
        if manifest.get(key) != value:
            raise ValueError(
                f"{directory!r} holds a run with {key}={manifest.get(key)!r}, not {value!r}: resuming "
                "it would mix samples of different runs. Use the original arguments (and model), or a "
                "new directory."
            )
    kept = []
    for shard in manifest["shards"]:
        if not tf.io.gfile.exists(storage.join(directory, shard["file"])):
            continue  # deleted (e.g. after a checksum error): refine it again
        check_shard(directory, shard)
        kept.append(shard)
    if len(kept) != len(manifest["shards"]):
        manifest["shards"] = kept
        manifest_lib.write(directory, manifest)
    return manifest


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _write_atomically(path, data):
    """Writes a shard through `storage.write_atomically`; returns its SHA-256."""
    return storage.write_atomically(path, data)
