"""Load generators and critics from files: `.keras`, SavedModel directories, TF-Hub handles.

One entry point, `load_callable`, serves the command line and notebooks:

- `path.keras`: a Keras 3 model (`keras.saving.load_model` in safe mode, so a
  file cannot run arbitrary Python code such as a serialised `Lambda` unless
  the caller passes `safe_mode=False`);
- a directory or a URL holding a SavedModel or hub module: its signature as a
  Keras 3 layer (`adapters.hub.HubSignature`). For GAN modules
  (compare_gan's tag sets, or `generator`/`discriminator` signatures) the
  `role` picks the generator or the discriminator.

Examples:
    >>> generator = load_callable("generator.keras", role="generator")  # doctest: +SKIP
    >>> critic = load_callable("https://tfhub.dev/...", role="discriminator")  # doctest: +SKIP
"""

import os
import zipfile

import keras

from dgflow_tf import integrity
from dgflow_tf.adapters import hub as hub_adapter
from dgflow_tf.adapters.hub import gan as hub_gan
from dgflow_tf.adapters.hub.resolve import is_url, load_module, resolve
from dgflow_tf.errors import ModelFileError

ROLES = ("generator", "discriminator")


def load_callable(
    path: str,
    role: str,
    signature: str | None = None,
    batch_size: int | None = None,
    safe_mode: bool = True,
):
    """Loads a generator or discriminator from `path`.

    Args:
        path: a `.keras` file, a SavedModel/hub module directory, or a
            TF-Hub URL (needs a network connection once).
        role: `"generator"` or `"discriminator"`.
        signature: for a SavedModel that is not a GAN module, the signature
            to call. Defaults to `serving_default` (or `default`).
        batch_size: for compare_gan modules, the `bs<N>` MetaGraph.
        safe_mode: Keras' safe mode for `.keras` files. Pass `False` only for
            files you trust: it lets them deserialise Python code. Defaults to
            `True`.

    Returns:
        A callable: a Keras 3 model or a `HubSignature` layer.

    Raises:
        ValueError: for an unknown `role`, a legacy `.h5` file, a GAN module
            without the requested part, or a file or directory that cannot be
            read as a model; the message names the path.
        ModelFileError: (a `ValueError`) for a damaged file: truncated,
            zero-filled or with changed bytes; it names the damaged part.
        FileNotFoundError: if a local `path` does not exist.
    """
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}. Expected one of: {list(ROLES)}")
    path = os.fspath(path)
    if path.endswith((".h5", ".hdf5")):
        raise ValueError(
            f"{path!r} is a legacy HDF5 file. Load it with tf_keras and save it as `.keras`, or pass "
            "a SavedModel directory."
        )
    if not is_url(path) and not os.path.exists(path):
        raise FileNotFoundError(f"No model at {path!r}. Pass a .keras file, a SavedModel directory or a URL.")
    if path.endswith(".keras"):
        return _load_keras_file(path, safe_mode)
    if not is_url(path):
        _check_savedmodel_directory(path)
    module = None
    if signature is None:
        gan = _try_gan(path, batch_size)
        if gan is not None and gan.layout != "generator_only":
            return gan.generator if role == "generator" else gan.discriminator
        if gan is not None:
            # A single-signature module: reuse what load_gan loaded rather than load it again.
            module = gan.generator.module
    if module is None:
        try:
            module = load_module(resolve(path))
        except ModelFileError:
            raise
        except Exception as error:  # TF raises several types for unreadable protos and variables
            raise ValueError(
                f"Cannot load the SavedModel at {path!r}: {type(error).__name__}: {error}. It may be "
                "truncated or incomplete; export it again."
            ) from error
    names = sorted(getattr(module, "signatures", {}).keys())
    if signature is None:
        signature = next((name for name in ("serving_default", "default") if name in names), None)
        if signature is None:
            raise ValueError(f"{path!r} has no serving_default or default signature: pass one of {names}.")
    return hub_adapter.HubSignature(module, signature, role=role, name=f"loaded_{role}")


def load_refinement_model(path: str, safe_mode: bool = True):
    """Loads a saved refiner: a `.keras` file of a `RefinementModel`, or the SavedModel of `export`.

    Both are checked for damage first (`dgflow_tf.integrity`): a truncated,
    zero-filled or bit-flipped file raises `ModelFileError` naming the part,
    not the reader's own error.

    Args:
        path: a `.keras` file written by `model.save`, or a directory written
            by `model.export`.
        safe_mode: Keras' safe mode for `.keras` files. Defaults to `True`.

    Returns:
        A `RefinementModel` (from `.keras`), or the loaded SavedModel, whose
        `serve(z, [conditions,] seed)` refines (from a directory).

    Raises:
        ModelFileError: for a damaged file.
        ValueError: for a `.keras` file that holds another kind of model.
        FileNotFoundError: if `path` does not exist.

    Examples:
        >>> model.save("refiner.keras")  # doctest: +SKIP
        >>> refiner = load_refinement_model("refiner.keras")  # doctest: +SKIP
    """
    from dgflow_tf.refinement import RefinementModel

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No saved refiner at {path!r}: pass a .keras file or an exported directory.")
    if not path.endswith(".keras"):
        _check_savedmodel_directory(path)
        return load_module(path)
    loaded = _load_keras_file(path, safe_mode)
    if not isinstance(loaded, RefinementModel):
        raise ValueError(
            f"{path!r} holds a {type(loaded).__name__}, not a RefinementModel: load a generator or critic "
            "with load_callable."
        )
    return loaded


def _try_gan(path, batch_size):
    try:
        return hub_adapter.load_gan(path, batch_size=batch_size, check_gradients=False)
    except (ModelFileError, hub_gan.UnknownBatchSizeError):
        raise  # damaged, or a compare_gan module without that batch size: not merely another layout
    except (ValueError, KeyError):
        return None


def _load_keras_file(path, safe_mode):
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path!r} is not a readable .keras file (not a zip archive): it may be truncated or in "
            "another format. Save the model again with model.save('model.keras').",
            path=path,
            part="zip archive",
        )
    integrity.verify_keras_archive(path)
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=safe_mode)
    except (zipfile.BadZipFile, OSError, KeyError, EOFError) as error:
        # The archive and its JSON are intact (checked above): the weights file is what failed.
        raise ModelFileError(
            f"Cannot read the .keras file {path!r}: {type(error).__name__}: {error}. Its weights "
            "(model.weights.h5) may be damaged; save the model again.",
            path=path,
            part="member 'model.weights.h5'",
        ) from error


def _check_savedmodel_directory(path):
    if not os.path.isdir(path):
        raise ValueError(
            f"{path!r} is neither a .keras file nor a SavedModel directory. Pass a .keras file, a "
            "SavedModel or hub module directory, or a URL."
        )
    if not any(os.path.exists(os.path.join(path, name)) for name in ("saved_model.pb", "saved_model.pbtxt")):
        raise ValueError(f"{path!r} is not a SavedModel directory: it has no saved_model.pb.")
