"""Weights and their training record on disk, for every reference model that ships or is cached.

A model is saved as `NAME.weights.h5` (the weights of an uncompiled copy, so no optimiser state)
and `NAME.json` (how it was trained). The weights are written under a temporary name and renamed,
so an interrupted save never leaves a truncated file that a later load would take for the model.

Examples:
    >>> import keras, tempfile
    >>> build = lambda info: keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> path = os.path.join(tempfile.mkdtemp(), "m.weights.h5")
    >>> save(build(None), build, path, {"seed": 0})
    >>> model, info = load(path, build, f"No model at {path}: train it first.")
    >>> info
    {'seed': 0}
"""

import json
import os

SUFFIX = ".weights.h5"


def info_path(weights_path):
    """The JSON record beside `weights_path`."""
    return weights_path[: -len(SUFFIX)] + ".json"


def save(model, build, weights_path, info):
    """Writes `model`'s weights through `build(info)`, an uncompiled copy, and `info` as JSON.

    Args:
        model: the trained Keras model (compiled or not).
        build: callable `info -> keras.Model` of the same architecture.
        weights_path: a path ending in `.weights.h5`.
        info: a JSON-serialisable dict, written beside the weights.
    """
    copy = build(info)
    copy.set_weights(model.get_weights())
    temporary = weights_path[: -len(SUFFIX)] + ".tmp" + SUFFIX
    copy.save_weights(temporary)
    os.replace(temporary, weights_path)
    with open(info_path(weights_path), "w", encoding="utf-8") as file:
        json.dump(info, file, indent=2, sort_keys=True)


def load(weights_path, build, missing_message):
    """`(model, info)` restored from `weights_path` and its JSON record.

    Args:
        weights_path: a path ending in `.weights.h5`.
        build: callable `info -> keras.Model` of the saved architecture.
        missing_message: the error's text when a file is missing: what was
            looked for and the command that makes it.

    Raises:
        FileNotFoundError: with `missing_message`, if either file is missing.
    """
    if not (os.path.exists(weights_path) and os.path.exists(info_path(weights_path))):
        raise FileNotFoundError(missing_message)
    with open(info_path(weights_path), encoding="utf-8") as file:
        info = json.load(file)
    model = build(info)
    model.load_weights(weights_path)
    return model, info
