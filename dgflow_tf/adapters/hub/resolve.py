"""Find and load hub modules: local directories through TensorFlow alone, URLs through `tensorflow_hub`.

`hub.load` is `tf.saved_model.load` plus handle resolution (a URL to a
downloaded, cached directory) and, for the TF1 Hub format (a
`tfhub_module.pb` beside `saved_model.pb`), the untagged MetaGraph by default.
Local modules are loaded here the same way without importing
`tensorflow_hub`, whose import needs `pkg_resources`: setuptools 82 and newer
(what a fresh Python 3.12 or 3.13 virtual environment installs) no longer
ship it. Only a URL needs `tensorflow_hub`, and then a missing
`pkg_resources` is named with its fix.
"""

import tensorflow as tf

TF1_HUB_PROTO = "tfhub_module.pb"


def is_url(handle):
    """Whether `handle` is a URL (to resolve with `tensorflow_hub`) rather than a path."""
    return "://" in handle and not handle.startswith(("file://", "ram://", "gs://", "s3://", "hdfs://"))


def resolve(handle):
    """The local directory of `handle`: the path itself, or `tensorflow_hub`'s download of a URL.

    Raises:
        ImportError: for a URL when `tensorflow_hub` cannot be imported,
            saying how to fix it.
    """
    if not is_url(handle):
        return handle
    try:
        import tensorflow_hub as hub
    except ModuleNotFoundError as error:
        if error.name != "pkg_resources":
            raise
        raise ImportError(
            f"Loading {handle!r} needs tensorflow_hub, which needs pkg_resources: setuptools 82 and newer "
            "do not ship it. Install an older setuptools (pip install 'setuptools<82') or download the "
            "module and pass its directory."
        ) from error
    return hub.resolve(handle)


def load_module(path, tags=None):
    """`tf.saved_model.load(path, tags)`, with the TF1 Hub format's default (untagged) MetaGraph.

    The graph is first checked against its recorded fingerprint, and a load
    that fails on a damaged file raises `ModelFileError` naming the part
    (`dgflow_tf.integrity`).
    """
    from dgflow_tf import integrity

    if tags is None and tf.io.gfile.exists(tf.io.gfile.join(path, TF1_HUB_PROTO)):
        tags = []
    differing = integrity.verify_savedmodel(path)
    try:
        module = tf.saved_model.load(path, tags=tags)
    except Exception as error:  # TF raises IndexError, OpErrors, KeyError... for damaged files
        damaged = integrity.diagnose_savedmodel(path, error)
        if damaged is None:
            raise
        raise damaged from error
    integrity.warn_fingerprint_mismatch(path, differing)
    return module
