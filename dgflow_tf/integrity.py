"""Damaged model files: find the part that is broken and say so in one error.

A truncated download, a disk that zero-filled a block or a flipped bit
reaches TensorFlow and Keras as whatever their readers happen to raise:
`IndexError: Read less bytes than requested`, an `OpError` about checksums,
a `JSONDecodeError` at some column, or a `KeyError` from a graph whose bytes
still parse. This module turns each into `ModelFileError`, which names the
path, the damaged part and what to do, and keeps the reader's exception as
its `__cause__`:

- SavedModels (and TF-Hub modules): `verify_savedmodel` compares
  `saved_model.pb` with the checksum that `fingerprint.pb` recorded when it
  was written (TensorFlow >= 2.12 writes one), so a graph whose damaged bytes
  still parse does not load silently; `diagnose_savedmodel`, after a failed
  load, reads the graph, the variables' index and every variable (their
  CRC32C checksums) to find the part at fault.
- `.keras` archives: `verify_keras_archive` checks the zip structure, every
  member's CRC-32 and the JSON members.

Examples:
    >>> verify_keras_archive("model.keras")  # doctest: +SKIP
    >>> verify_savedmodel("saved_model_dir")  # doctest: +SKIP
"""

import json
import os
import warnings
import zipfile

import tensorflow as tf

from dgflow_tf.errors import ModelFileError, caller_stacklevel

_FIX = (
    "Copy or export the model again; if it was downloaded, delete the downloaded copy (for TF-Hub, "
    "the module's folder under TFHUB_CACHE_DIR) and load it again."
)


def damaged(path, part, cause):
    """The `ModelFileError` for `part` of the model at `path`, whose reader raised `cause`."""
    return ModelFileError(
        f"The model at {path!r} is damaged: its {part} cannot be read "
        f"({type(cause).__name__}: {cause}). {_FIX}",
        path=path,
        part=part,
    )


def verify_keras_archive(path):
    """Raises `ModelFileError` if the `.keras` file at `path` is not an intact zip of valid JSON members.

    Raises:
        ModelFileError: naming the archive, or the member whose CRC-32 or
            JSON is bad.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            if bad is not None:
                cause = zipfile.BadZipFile(f"Bad CRC-32 for {bad!r}")
                raise damaged(path, f"member {bad!r}", cause) from cause
            for name in archive.namelist():
                if name.endswith(".json"):
                    try:
                        json.loads(archive.read(name).decode("utf-8"))
                    except (UnicodeDecodeError, json.JSONDecodeError) as error:
                        raise damaged(path, f"member {name!r}", error) from error
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise damaged(path, "zip archive (truncated, or not a .keras file)", error) from error


def _fingerprint_module():
    try:
        from tensorflow.core.protobuf import fingerprint_pb2
        from tensorflow.python.saved_model.pywrap_saved_model import fingerprinting
    except ImportError:  # a TensorFlow without SavedModel fingerprints: nothing to compare with
        return None, None
    return fingerprint_pb2, fingerprinting


def verify_savedmodel(path):
    """Compares `saved_model.pb` with the checksum in `fingerprint.pb`, when the directory has one.

    Returns:
        The names of the fingerprint's other hashes that differ from the
        model's (the variables' `checkpoint_hash` among them): for
        `warn_fingerprint_mismatch` once the model has loaded.

    Raises:
        ModelFileError: if the graph's checksum differs from the recorded one.

    Warns:
        UserWarning: if `fingerprint.pb` itself cannot be read (the model may
            still be intact, but cannot be verified).
    """
    recorded_path = os.path.join(path, "fingerprint.pb")
    fingerprint_pb2, fingerprinting = _fingerprint_module()
    if fingerprinting is None or not tf.io.gfile.exists(recorded_path):
        return []
    recorded = fingerprint_pb2.FingerprintDef()
    try:
        recorded.ParseFromString(tf.io.gfile.GFile(recorded_path, "rb").read())
        if not recorded.saved_model_checksum:
            raise ValueError("no saved_model_checksum in it")
    except Exception as error:  # protobuf raises its own DecodeError
        warnings.warn(
            f"The SavedModel at {path!r} has an unreadable fingerprint.pb ({type(error).__name__}: {error}), "
            "so its graph cannot be checked against the checksum recorded when it was saved.",
            stacklevel=caller_stacklevel(),
        )
        return []
    try:
        actual = fingerprint_pb2.FingerprintDef()
        actual.ParseFromString(fingerprinting.CreateFingerprintDef(path))
    except Exception as error:  # the graph itself is unreadable: let the load name it
        del error
        return []
    if actual.saved_model_checksum != recorded.saved_model_checksum:
        cause = ValueError(
            f"checksum {actual.saved_model_checksum} differs from {recorded.saved_model_checksum}, "
            "recorded in fingerprint.pb when the model was saved"
        )
        raise damaged(path, "graph (saved_model.pb)", cause) from cause
    others = ("graph_def_program_hash", "signature_def_hash", "saved_object_graph_hash", "checkpoint_hash")
    return [name for name in others if getattr(actual, name) != getattr(recorded, name)]


def warn_fingerprint_mismatch(path, differing):
    """After a successful load: warns that fingerprint.pb, not the model, is probably damaged."""
    if differing:
        warnings.warn(
            f"The SavedModel at {path!r}: fingerprint.pb does not match the model in {differing}. The "
            "model loaded (its graph matches the recorded checksum, and its variables passed their own "
            "checksums), so fingerprint.pb itself is probably damaged.",
            stacklevel=caller_stacklevel(),
        )


def diagnose_savedmodel(path, error):
    """After `tf.saved_model.load(path)` raised `error`: a `ModelFileError` naming the damaged part, or
    `None` if the graph and every variable read back intact (the error has another cause)."""
    from tensorflow.core.protobuf import saved_model_pb2

    graph = os.path.join(path, "saved_model.pb")
    if tf.io.gfile.exists(graph):
        try:
            saved_model_pb2.SavedModel().ParseFromString(tf.io.gfile.GFile(graph, "rb").read())
        except Exception as cause:  # protobuf's DecodeError
            return damaged(path, "graph (saved_model.pb)", cause)
    prefix = os.path.join(path, "variables", "variables")
    if not tf.io.gfile.exists(prefix + ".index"):
        return None
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as cause:  # TF's OpError family
        return damaged(path, "variables index (variables/variables.index)", cause)
    for name in reader.get_variable_to_shape_map():
        try:
            reader.get_tensor(name)
        except Exception as cause:  # IndexError on truncation, OpError on a checksum mismatch
            return damaged(path, f"variables data (variables/variables.data-*, variable {name!r})", cause)
    if isinstance(error, (IndexError, tf.errors.DataLossError)):
        return damaged(path, "variables", error)
    return None
