"""MNIST from its IDX files: values, checks of damaged or foreign files, and where it is looked for."""

import gzip

import numpy as np
import pytest

from dgflow_tf import datasets


def _write_idx(path, array, magic):
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def test_test_split_values_match_the_published_checks(mnist_dir, mnist_test):
    images, labels = mnist_test
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.float32
    np.testing.assert_array_equal(labels[:8], [7, 2, 1, 0, 4, 1, 4, 9])
    levels = (images.astype(np.float64) + 1.0) * 255.0 / 2.0
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-4)
    assert float(images.min()) == -1.0 and float(images.max()) == 1.0
    # The README's SHA-256 of the decompressed test images, computed independently of the reader.
    import hashlib

    digest = hashlib.sha256(gzip.open(f"{mnist_dir}/t10k-images-idx3-ubyte.gz").read()).hexdigest()
    assert digest == "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    rebuilt = np.rint(levels).astype(np.uint8).reshape(-1)
    raw = np.frombuffer(gzip.open(f"{mnist_dir}/t10k-images-idx3-ubyte.gz").read()[16:], np.uint8)
    np.testing.assert_array_equal(rebuilt, raw)


def test_training_split_counts_and_mean(mnist_dir):
    images, labels = datasets.mnist("train", mnist_dir, return_labels=True)
    assert images.shape == (60000, 28, 28, 1)
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    # The README's mean pixel, 33.318 on 0..255.
    assert float(((images.astype(np.float64) + 1.0) * 127.5).mean()) == pytest.approx(33.318, abs=1e-3)


def test_dequantised_pixels_stay_in_their_bins(mnist_dir):
    exact = datasets.mnist("test", mnist_dir)[:50]
    noisy = datasets.mnist("test", mnist_dir, dtype="float64", dequantize_seed=3)[:50]
    np.testing.assert_array_equal(np.floor((noisy + 1.0) * 128.0), np.rint((exact + 1.0) * 127.5))
    again = datasets.mnist("test", mnist_dir, dtype="float64", dequantize_seed=3)[:50]
    np.testing.assert_array_equal(noisy, again)


def test_environment_variable_is_the_default_folder(mnist_dir, monkeypatch):
    monkeypatch.setenv(datasets.MNIST_DIR_VARIABLE, mnist_dir)
    np.testing.assert_array_equal(datasets.mnist("test")[:3], datasets.mnist("test", mnist_dir)[:3])
    monkeypatch.setenv(datasets.MNIST_DIR_VARIABLE, "/nonexistent/mnist")
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        datasets.mnist("test")


def test_without_a_folder_each_split_comes_from_keras_datasets(mnist_dir, monkeypatch):
    # Online, with no folder given, MNIST comes from keras.datasets.mnist; here its download is
    # replaced by the IDX files, so nothing is fetched. Each split must be the one asked for.
    import keras

    def idx(stem, rank):
        return datasets._read_idx(mnist_dir, stem, rank)[0]

    def load_data():
        return (
            (idx("train-images-idx3-ubyte", 3), idx("train-labels-idx1-ubyte", 1)),
            (idx("t10k-images-idx3-ubyte", 3), idx("t10k-labels-idx1-ubyte", 1)),
        )

    monkeypatch.delenv(datasets.MNIST_DIR_VARIABLE, raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", load_data)
    for split in ("test", "train"):
        images, labels = datasets.mnist(split, return_labels=True)
        expected_images, expected_labels = datasets.mnist(split, mnist_dir, return_labels=True)
        np.testing.assert_array_equal(images, expected_images)
        np.testing.assert_array_equal(labels, expected_labels)

    def offline():
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(
        FileNotFoundError, match=rf"\(no network\)\. Offline, pass `path`.*{datasets.MNIST_DIR_VARIABLE}"
    ):
        datasets.mnist("test")


def test_bad_split_and_missing_files_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="`split` must be one of"):
        datasets.mnist("validation", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte\[\.gz\] not found"):
        datasets.mnist("test", tmp_path)


def test_damaged_and_foreign_files_are_named(tmp_path):
    levels = np.zeros((10000, 28, 28), np.uint8)
    labels = np.repeat(np.arange(10), 1000)  # 1,000 a class: not MNIST's test counts
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, 0x801)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", levels, 0x801)  # a label magic on images
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz.* has IDX magic 0x00000801"):
        datasets.mnist("test", tmp_path)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", levels, 0x803)
    with pytest.raises(ValueError, match=r"count \(1000, 1000.*MNIST has \(980, 1135"):
        datasets.mnist("test", tmp_path)
    # Truncated: the header promises 10,000 images, the file holds fewer bytes.
    payload = gzip.decompress((tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(payload[:-100]))
    with pytest.raises(ValueError, match="truncated or damaged"):
        datasets.mnist("test", tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="not a valid gzip file"):
        datasets.mnist("test", tmp_path)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", levels[:500], 0x803)
    with pytest.raises(ValueError, match=r"images \(500, 28, 28\).*expected \(10000, 28, 28\)"):
        datasets.mnist("test", tmp_path)


def test_uncompressed_files_are_read_too(tmp_path, mnist_dir):
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / stem).write_bytes(gzip.open(f"{mnist_dir}/{stem}.gz").read())
    np.testing.assert_array_equal(datasets.mnist("test", tmp_path)[:5], datasets.mnist("test", mnist_dir)[:5])
