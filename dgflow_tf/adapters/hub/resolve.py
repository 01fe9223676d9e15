"""Find and load hub modules: local directories and URLs, through TensorFlow and the standard library.

`hub.load` is `tf.saved_model.load` plus handle resolution (a URL to a
downloaded, cached directory) and, for the TF1 Hub format (a
`tfhub_module.pb` beside `saved_model.pb`), the untagged MetaGraph by default.
Both are done here without `tensorflow_hub`, whose import needs
`pkg_resources`, which setuptools 82 and newer (what a fresh Python 3.12 or
3.13 virtual environment installs) no longer ship.

A URL is resolved as `tensorflow_hub` resolves it: a URL ending in `.tar.gz`
or `.tgz` is downloaded as it is; any other http(s) URL (tfhub.dev, Kaggle
Models) with `tf-hub-format=compressed` added to its query, which makes the
server send the module as a .tar.gz. The archive is unpacked with `tarfile`'s
`data` filter (no member may leave the directory, no links out, no device
files) into the cache, `$TFHUB_CACHE_DIR` or
`~/.cache/dgflow_tf/hub`, under the SHA-1 of the URL as `tensorflow_hub`
names it, so the two share a cache. The directory appears only once
complete: an interrupted download leaves nothing that a later call would
take for the module.
"""

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request

import tensorflow as tf

TF1_HUB_PROTO = "tfhub_module.pb"


def is_url(handle):
    """Whether `handle` is a URL to download rather than a path (local or a `tf.io.gfile` file system)."""
    return "://" in handle and not handle.startswith(("file://", "ram://", "gs://", "s3://", "hdfs://"))


def cache_directory():
    """Where downloaded modules go: `$TFHUB_CACHE_DIR`, else `~/.cache/dgflow_tf/hub`."""
    return os.environ.get("TFHUB_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "dgflow_tf", "hub"
    )


def download_url(handle):
    """The URL that serves `handle` as a .tar.gz (`tensorflow_hub`'s compressed-format rule)."""
    parsed = urllib.parse.urlparse(handle)
    if parsed.path.endswith((".tar.gz", ".tgz")):
        return handle
    query = urllib.parse.parse_qsl(parsed.query) + [("tf-hub-format", "compressed")]
    return urllib.parse.urlunparse(parsed._replace(query=urllib.parse.urlencode(query)))


def resolve(handle, timeout=600):
    """The local directory of `handle`: the path itself, or the cached download of a URL.

    Args:
        handle: a directory path, or an http(s) URL of a module.
        timeout: seconds a stalled download may wait for the server.

    Returns:
        The directory holding the module's `saved_model.pb`.

    Raises:
        OSError: if the URL cannot be fetched (the message names it).
        ValueError: if the download is not a .tar.gz of a SavedModel, or a
            member would be written outside the module's directory.
    """
    if not is_url(handle):
        return handle
    target = os.path.join(cache_directory(), hashlib.sha1(handle.encode("utf-8")).hexdigest())
    if os.path.exists(os.path.join(target, "saved_model.pb")):
        return target
    os.makedirs(cache_directory(), exist_ok=True)
    url = download_url(handle)
    with tempfile.TemporaryDirectory(dir=cache_directory(), prefix=".download-") as scratch:
        archive = os.path.join(scratch, "module.tar.gz")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(archive, "wb") as file:
                shutil.copyfileobj(response, file)
        except OSError as error:  # URLError and HTTPError are OSErrors
            raise OSError(f"Could not download the module {handle!r} from {url}: {error}") from error
        unpacked = os.path.join(scratch, "module")
        try:
            with tarfile.open(archive, "r:*") as bundle:
                bundle.extractall(unpacked, filter="data")
        except tarfile.FilterError as error:
            raise ValueError(
                f"The archive of {handle!r} has a member that leaves its directory: {error}"
            ) from error
        except tarfile.TarError as error:
            raise ValueError(f"{url} did not serve a module archive (.tar.gz): {error}") from error
        if not os.path.exists(os.path.join(unpacked, "saved_model.pb")):
            raise ValueError(f"The archive of {handle!r} holds no saved_model.pb at its top level.")
        try:
            os.rename(unpacked, target)  # atomic: the module appears complete or not at all
        except OSError:
            if not os.path.exists(os.path.join(target, "saved_model.pb")):  # not a concurrent download
                raise
    return target


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
