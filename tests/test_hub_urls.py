"""`load_gan(url)`: modules served over HTTP as .tar.gz, as TF-Hub serves them, without tensorflow_hub.

A server on 127.0.0.1 serves archives that the tests make from small modules on disk, so nothing
leaves the machine.
"""

import hashlib
import http.server
import io
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import threading

import numpy as np
import pytest

from dgflow_tf.adapters import hub as hub_adapter
from dgflow_tf.adapters.hub import resolve as hub_resolve
from dgflow_tf.zoo import hub_modules


class _Archives(http.server.BaseHTTPRequestHandler):
    """Serves `routes[path]` (bytes) for GET `path` (with its query); 404 otherwise; logs each path."""

    def do_GET(self):  # noqa: N802 - the name BaseHTTPRequestHandler calls
        self.server.requested.append(self.path)
        if self.server.on_request is not None:  # a test's look at the client's side mid-download
            self.server.on_request()
        body = self.server.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Archives)  # port 0: the OS picks a free one
    httpd.routes, httpd.requested, httpd.on_request = {}, [], None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _tar_gz(directory=None, extra=()):
    """The bytes of a .tar.gz holding `directory`'s files at its top level, plus `(name, bytes)` members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        if directory is not None:
            for path in sorted(directory.rglob("*")):
                bundle.add(path, arcname=str(path.relative_to(directory)), recursive=False)
        for name, data in extra:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory):
    import tensorflow as tf

    weight = tf.constant([[1.0, -0.5], [0.25, 2.0]])
    path = tmp_path_factory.mktemp("module") / "gan"
    hub_modules.save_gan_module(
        str(path),
        lambda z: tf.matmul(z, weight),
        lambda x: -tf.reduce_sum(tf.square(x - 1.0), axis=-1, keepdims=True),
        latent_shape=(2,),
    )
    return path


def _refined(gan):
    model = hub_adapter.hub_refinement_model(gan, seed=3, step_size=0.05, num_steps=4)
    return model.predict(model.sample_latents(16, seed=1), verbose=0)


def test_a_tar_gz_url_loads_like_the_directory_and_is_cached(server, module_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    server.routes["/gan.tar.gz"] = _tar_gz(module_dir)
    gan = hub_adapter.load_gan(f"{server.url}/gan.tar.gz")
    np.testing.assert_array_equal(_refined(gan), _refined(hub_adapter.load_gan(str(module_dir))))
    assert server.requested == ["/gan.tar.gz"]
    # Cached under the URL's SHA-1, as tensorflow_hub names it: a second load downloads nothing.
    hub_adapter.load_gan(f"{server.url}/gan.tar.gz")
    assert server.requested == ["/gan.tar.gz"]
    expected = hashlib.sha1(f"{server.url}/gan.tar.gz".encode()).hexdigest()
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [expected]


def test_a_hub_style_url_asks_for_the_compressed_format(server, module_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    server.routes["/google/gan/1?tf-hub-format=compressed"] = _tar_gz(module_dir)
    gan = hub_adapter.load_gan(f"{server.url}/google/gan/1")
    assert gan.layout == "signatures" and server.requested == ["/google/gan/1?tf-hub-format=compressed"]


def test_bad_downloads_are_named_and_leave_no_cache_entry(server, module_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(OSError, match=r"Could not download the module .*/missing.tar.gz.*404"):
        hub_adapter.load_gan(f"{server.url}/missing.tar.gz")
    server.routes["/evil.tar.gz"] = _tar_gz(module_dir, extra=[("../outside.txt", b"x")])
    with pytest.raises(ValueError, match="has a member that leaves its directory"):
        hub_adapter.load_gan(f"{server.url}/evil.tar.gz")
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "cache" / "outside.txt").exists()
    server.routes["/html.tar.gz"] = b"<html>not an archive</html>"
    with pytest.raises(ValueError, match="did not serve a module archive"):
        hub_adapter.load_gan(f"{server.url}/html.tar.gz")
    server.routes["/empty.tar.gz"] = _tar_gz(extra=[("README", b"no model here")])
    with pytest.raises(ValueError, match="holds no saved_model.pb"):
        hub_adapter.load_gan(f"{server.url}/empty.tar.gz")
    # Only scratch directories were ever made, and they are gone.
    assert list((tmp_path / "cache").iterdir()) == []


def test_urls_load_without_tensorflow_hub(server, module_dir, tmp_path):
    # tensorflow_hub's import needs pkg_resources, which setuptools >= 82 (a fresh Python 3.12 venv)
    # lacks: a URL must load without importing it.
    server.routes["/gan.tar.gz"] = _tar_gz(module_dir)
    code = (
        "import sys; from dgflow_tf.adapters import hub; "
        f"gan = hub.load_gan({server.url + '/gan.tar.gz'!r}); "
        "print(gan.layout, 'tensorflow_hub' in sys.modules)"
    )
    env = {"TFHUB_CACHE_DIR": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split()[-2:] == ["signatures", "False"]


def test_a_conditional_module_loads_by_url_and_refines_to_its_closed_form(server, tmp_path):
    # S3GAN's layout (labels in, only sigmoid out) served as a .tar.gz, loaded and refined in a fresh
    # interpreter that never imports tensorflow_hub. With g(z) = z and logit x w + b[label] the KL
    # drift is w for every label, so the deterministic flow is z + K eta w: an independent closed form
    # that holds only if the adapter refines the logit (the probability's gradient would be
    # p(1-p) w, different per label and vanishing for the saturated ones).
    module = hub_modules.save_conditional_sigmoid_gan(tmp_path / "conditional")
    server.routes["/s3gan.tar.gz"] = _tar_gz(pathlib.Path(module))
    code = (
        "import sys, numpy as np; from dgflow_tf.adapters import hub; "
        f"gan = hub.load_gan({server.url + '/s3gan.tar.gz'!r}); "
        "model = hub.hub_refinement_model(gan, step_size=0.01, num_steps=5, entropy_weight=0.0, seed=0); "
        "z = np.array([[0.1, 0.2], [3.0, -1.0], [-1.0, 1.0]], 'float32'); "
        "labels = np.array([0, 1, 2], 'int32'); "
        "print(gan.conditional, 'tensorflow_hub' in sys.modules, *model.refine((z, labels)).samples.ravel())"
    )
    env = {"TFHUB_CACHE_DIR": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    words = completed.stdout.split()
    assert words[-8:-6] == ["True", "False"]
    expected = np.array([[0.1, 0.2], [3.0, -1.0], [-1.0, 1.0]]) + 5 * 0.01 * np.array(
        hub_modules.CONDITIONAL_SIGMOID_WEIGHT
    ).reshape(1, 2)
    np.testing.assert_allclose(np.array(words[-6:], float).reshape(3, 2), expected, rtol=1e-5, atol=1e-6)


def test_download_url_follows_the_compressed_format_rule():
    assert (
        hub_resolve.download_url("https://tfhub.dev/a/b/1")
        == "https://tfhub.dev/a/b/1?tf-hub-format=compressed"
    )
    assert hub_resolve.download_url("https://x.org/m.tgz") == "https://x.org/m.tgz"
    assert hub_resolve.download_url("https://x.org/m?v=2") == "https://x.org/m?v=2&tf-hub-format=compressed"
    assert (
        hub_resolve.is_url("https://a/b")
        and not hub_resolve.is_url("/a")
        and not hub_resolve.is_url("gs://b/m")
    )


def test_the_default_cache_is_under_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("TFHUB_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert hub_resolve.cache_directory() == str(tmp_path / ".cache" / "dgflow_tf" / "hub")
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert hub_resolve.cache_directory() == str(tmp_path / "elsewhere")


@pytest.mark.parametrize("scheme", ["file", "ram", "gs", "s3", "hdfs"])
def test_file_system_paths_are_not_downloaded(scheme):
    # tf.io.gfile reads these in place; only other schemes (http, https) are fetched into the cache.
    assert not hub_resolve.is_url(f"{scheme}://bucket/models/gan")
    assert hub_resolve.is_url("http://bucket/models/gan") and hub_resolve.is_url("https://bucket/m")


def test_a_download_unpacks_inside_the_cache_so_the_module_appears_in_one_rename(
    server, module_dir, tmp_path, monkeypatch
):
    # os.rename is atomic only within one file system: the scratch directory must be in the cache,
    # not in the system's temporary directory (often another mount).
    cache = tmp_path / "cache"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    seen = []
    server.on_request = lambda: seen.extend(path.name for path in cache.iterdir())
    server.routes["/gan.tar.gz"] = _tar_gz(module_dir)
    hub_resolve.resolve(f"{server.url}/gan.tar.gz")
    assert len(seen) == 1 and seen[0].startswith(".download-")
    assert [path.name for path in cache.iterdir()] == [
        hashlib.sha1(f"{server.url}/gan.tar.gz".encode()).hexdigest()
    ]


def test_a_concurrent_download_that_finished_first_is_kept(server, module_dir, tmp_path, monkeypatch):
    # Another process completes the same module while this one downloads: the rename into place
    # fails on the existing directory, and the complete module found there is used, not an error.
    cache = tmp_path / "cache"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    url = f"{server.url}/gan.tar.gz"
    target = cache / hashlib.sha1(url.encode()).hexdigest()
    server.on_request = lambda: shutil.copytree(module_dir, target)
    server.routes["/gan.tar.gz"] = _tar_gz(module_dir)
    assert hub_resolve.resolve(url) == str(target)
    assert (target / "saved_model.pb").read_bytes() == (module_dir / "saved_model.pb").read_bytes()
    assert [path.name for path in cache.iterdir()] == [target.name]  # the scratch copy is gone


def test_a_fingerprint_that_differs_only_in_its_variables_hash_warns_naming_the_module(module_dir, tmp_path):
    from tensorflow.core.protobuf import fingerprint_pb2

    damaged = tmp_path / "damaged"
    shutil.copytree(module_dir, damaged)
    fingerprint = fingerprint_pb2.FingerprintDef()
    fingerprint.ParseFromString((damaged / "fingerprint.pb").read_bytes())
    fingerprint.checkpoint_hash += 1  # the graph's checksum still matches, so the module loads
    (damaged / "fingerprint.pb").write_bytes(fingerprint.SerializeToString())
    expected = (
        f"The SavedModel at {str(damaged)!r}: fingerprint.pb does not match the model in ['checkpoint_hash']"
    )
    with pytest.warns(UserWarning, match=re.escape(expected)):
        hub_resolve.load_module(str(damaged))
