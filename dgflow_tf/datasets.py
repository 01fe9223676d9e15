"""Embedded data sets: nothing is downloaded.

The 2-D benchmarks of DOT (Tanaka, 2019) and DGflow (Ansari et al., 2021):

- 25 Gaussians: a 5x5 grid of means at `{-4, -2, 0, 2, 4}^2` with standard
  deviation 0.05, everything divided by 2.828.
- Swiss roll: `sklearn.datasets.make_swiss_roll(noise=0.25)`, columns 0 and
  2, divided by 7.5.

two image data sets: scikit-learn's handwritten digits (`digits`), 1,797
grey 8x8 images used at their native size, and MNIST (`mnist`), 60,000
training and 10,000 test images of 28x28, read from its IDX files on disk
(or from Keras's loader, which downloads them once); both are scaled to
`[-1, 1]`. And one text corpus (`python_docs_text`): the documentation
topics that ship with CPython (`pydoc_data.topics`, the text of `help()`).

Examples:
    >>> x = twenty_five_gaussians(1000, seed=0)
    >>> x.shape, x.dtype
    ((1000, 2), dtype('float32'))
"""

import gzip
import numbers
import os
import re

import numpy as np

from dgflow_tf._validation import check_positive_int

_GRID = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
_SCALE = 2.828

#: The 25 means, `[25, 2]`, in the scaled coordinates the samples use.
TWENTY_FIVE_GAUSSIANS_MODES = (
    np.stack(np.meshgrid(_GRID, _GRID, indexing="ij"), axis=-1).reshape(-1, 2) / _SCALE
)
#: Standard deviation of each of the 25 Gaussians, in scaled coordinates.
TWENTY_FIVE_GAUSSIANS_STD = 0.05 / _SCALE

SWISS_ROLL_NOISE = 0.25
SWISS_ROLL_SCALE = 7.5


def _check_seed(seed):
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"`seed` must be None or an integer >= 0. Received: seed={seed!r}")
    return int(seed)


def twenty_five_gaussians(num_samples: int, seed: int | None = None, dtype: str = "float32") -> np.ndarray:
    """Samples the 25 Gaussians data set.

    Each sample picks one of the 25 modes uniformly at random and adds
    isotropic Gaussian noise of standard deviation `TWENTY_FIVE_GAUSSIANS_STD`.

    Args:
        num_samples: positive int.
        seed: `None` (fresh randomness) or an int >= 0; the same seed gives
            the same samples. Defaults to `None`.
        dtype: NumPy dtype of the result. Defaults to `"float32"`.

    Returns:
        `[num_samples, 2]` NumPy array.

    Raises:
        ValueError: for a non-positive `num_samples` or a bad `seed`.
    """
    num_samples = check_positive_int(num_samples, "num_samples")
    rng = np.random.default_rng(_check_seed(seed))
    modes = rng.integers(len(TWENTY_FIVE_GAUSSIANS_MODES), size=num_samples)
    noise = rng.standard_normal((num_samples, 2)) * TWENTY_FIVE_GAUSSIANS_STD
    return (TWENTY_FIVE_GAUSSIANS_MODES[modes] + noise).astype(dtype)


def swiss_roll(num_samples: int, seed: int | None = None, dtype: str = "float32") -> np.ndarray:
    """Samples the 2-D Swiss roll of DOT and DGflow.

    Args:
        num_samples: positive int.
        seed: `None` or an int >= 0; the same seed gives the same samples.
            Defaults to `None`.
        dtype: NumPy dtype of the result. Defaults to `"float32"`.

    Returns:
        `[num_samples, 2]` NumPy array.

    Raises:
        ValueError: for a non-positive `num_samples` or a bad `seed`.
    """
    from sklearn.datasets import make_swiss_roll

    num_samples = check_positive_int(num_samples, "num_samples")
    points, _ = make_swiss_roll(num_samples, noise=SWISS_ROLL_NOISE, random_state=_check_seed(seed))
    return (points[:, [0, 2]] / SWISS_ROLL_SCALE).astype(dtype)


DIGITS_LEVELS = 17  # pixel values in sklearn's digits are the integers 0..16


def _scaled(levels, num_levels, dequantize_seed, dtype):
    """Integer levels `v` in `0..num_levels-1` as `2 v / (num_levels - 1) - 1`, or dequantised
    with seeded uniform noise as `2 (v + u) / num_levels - 1`."""
    levels = np.asarray(levels, dtype="float64")
    if dequantize_seed is None:
        images = 2.0 * levels / (num_levels - 1) - 1.0
    else:
        rng = np.random.default_rng(_check_seed(dequantize_seed))
        images = 2.0 * (levels + rng.uniform(size=levels.shape)) / num_levels - 1.0
    return images.astype(dtype)


def digits(dtype: str = "float32", dequantize_seed: int | None = None, return_labels: bool = False):
    """scikit-learn's handwritten digits as `[1797, 8, 8, 1]` images in `[-1, 1]`.

    The pixels are integers `v` in `0..16`, mapped to `2 v / 16 - 1`. With
    `dequantize_seed`, uniform noise spreads each level over its bin,
    `2 (v + u) / 17 - 1` with `u ~ U(0, 1)`, which likelihood models (flows)
    need so that the data have a density.

    Args:
        dtype: NumPy dtype of the images. Defaults to `"float32"`.
        dequantize_seed: `None` for the exact levels, or an int >= 0 for
            seeded uniform dequantisation. Defaults to `None`.
        return_labels: also return the `[1797]` int labels. Defaults to
            `False`.

    Returns:
        The images, or `(images, labels)` with `return_labels=True`.

    Raises:
        ValueError: for a bad `dequantize_seed`.

    Examples:
        >>> images = digits()
        >>> images.shape, float(images.min()), float(images.max())
        ((1797, 8, 8, 1), -1.0, 1.0)
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = _scaled(bunch.images[..., None], DIGITS_LEVELS, dequantize_seed, dtype)
    return (images, bunch.target.astype("int64")) if return_labels else images


def digits_split(test_fraction: float = 0.2, seed: int = 0, dtype: str = "float32"):
    """A stratified, seeded train/test split of `digits()` with labels.

    Args:
        test_fraction: fraction of images held out, in `(0, 1)`. Defaults to
            `0.2` (360 images).
        seed: int >= 0 for the shuffle. Defaults to `0`.
        dtype: NumPy dtype of the images.

    Returns:
        `(train_images, train_labels, test_images, test_labels)`.

    Raises:
        ValueError: for `test_fraction` outside `(0, 1)` or a bad `seed`.
    """
    from sklearn.model_selection import train_test_split

    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"`test_fraction` must be in (0, 1). Received: test_fraction={test_fraction!r}")
    images, labels = digits(dtype=dtype, return_labels=True)
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=test_fraction, random_state=_check_seed(seed), stratify=labels
    )
    return train_x, train_y, test_x, test_y


#: Environment variable naming the folder of MNIST's four IDX files.
MNIST_DIR_VARIABLE = "DGFLOW_TF_MNIST_DIR"
MNIST_SPLITS = {
    # split: (image file, label file, number of images, images per class 0..9)
    "train": (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        60000,
        (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    ),
    "test": (
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        10000,
        (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
    ),
}
MNIST_LEVELS = 256
_IDX_MAGIC = {3: 0x00000803, 1: 0x00000801}  # unsigned bytes, 3 or 1 dimensions


def _read_idx(folder, stem, dimensions):
    """The array in `folder/stem` or `folder/stem.gz`, checked against IDX's header."""
    import tensorflow as tf

    candidates = [os.path.join(folder, stem + suffix) for suffix in (".gz", "")]
    path = next((candidate for candidate in candidates if tf.io.gfile.exists(candidate)), None)
    if path is None:
        raise FileNotFoundError(
            f"MNIST file {stem}[.gz] not found in {folder!r}. The folder must hold the four IDX files "
            "of https://yann.lecun.com/exdb/mnist/ (gzip-compressed or not)."
        )
    with tf.io.gfile.GFile(path, "rb") as file:
        raw = file.read()
    try:
        data = gzip.decompress(raw) if path.endswith(".gz") else raw
    except (OSError, EOFError) as error:
        raise ValueError(f"MNIST file {path!r} is not a valid gzip file ({error}).") from error
    header = 4 * (1 + dimensions)
    if len(data) < header:
        raise ValueError(f"MNIST file {path!r} is {len(data)} bytes long, shorter than its IDX header.")
    magic, *shape = np.frombuffer(data[:header], dtype=">u4").tolist()
    if magic != _IDX_MAGIC[dimensions]:
        raise ValueError(
            f"MNIST file {path!r} has IDX magic {magic:#010x}; expected {_IDX_MAGIC[dimensions]:#010x} "
            f"({'images' if dimensions == 3 else 'labels'}). Is it the right file?"
        )
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(
            f"MNIST file {path!r} holds {len(data)} bytes; its header {shape} needs {expected}. "
            "The file is truncated or damaged: download it again."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape), path


def _mnist_from_keras(split):
    import keras

    try:
        train, test = keras.datasets.mnist.load_data()
    except Exception as error:  # noqa: BLE001 - any download failure gets the same advice
        raise FileNotFoundError(
            f"MNIST could not be loaded through keras.datasets.mnist ({error}). Offline, pass `path`, the "
            f"folder of the four IDX files, or set {MNIST_DIR_VARIABLE}."
        ) from error
    return train if split == "train" else test


def mnist(
    split: str = "train",
    path: str | os.PathLike | None = None,
    dtype: str = "float32",
    dequantize_seed: int | None = None,
    return_labels: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """MNIST's training or test images as `[n, 28, 28, 1]` in `[-1, 1]`.

    The images come from `path`, a folder (local or any `tf.io.gfile`
    file system) of the four IDX files under their original names, gzip-
    compressed or not; else from the folder in the environment variable
    `DGFLOW_TF_MNIST_DIR`; else from `keras.datasets.mnist.load_data()`,
    which downloads them once. Whatever the source, the number of images and
    of each label are checked against MNIST's own, so a truncated, damaged
    or different file is named rather than used.

    Pixels `v` in `0..255` map to `2 v / 255 - 1`. With `dequantize_seed`,
    uniform noise spreads each level over its bin, `2 (v + u) / 256 - 1`,
    which likelihood models (flows) need.

    Args:
        split: `"train"` (60,000 images) or `"test"` (10,000). Defaults to
            `"train"`.
        path: folder of the IDX files, or `None`. Defaults to `None`.
        dtype: NumPy dtype of the images. Defaults to `"float32"`.
        dequantize_seed: `None`, or an int >= 0 for seeded dequantisation.
            Defaults to `None`.
        return_labels: also return the int64 labels. Defaults to `False`.

    Returns:
        The images, or `(images, labels)` with `return_labels=True`.

    Raises:
        ValueError: for an unknown `split`, or files whose header, size or
            label counts are not MNIST's (the message names the file).
        FileNotFoundError: if a file is missing from `path`, or no `path`
            is given, the variable is unset and Keras cannot download.

    Examples:
        >>> images, labels = mnist("test", return_labels=True)  # doctest: +SKIP
        >>> images.shape, labels[:5]  # doctest: +SKIP
        ((10000, 28, 28, 1), array([7, 2, 1, 0, 4]))
    """
    if split not in MNIST_SPLITS:
        raise ValueError(f"`split` must be one of {sorted(MNIST_SPLITS)}. Received: split={split!r}")
    image_stem, label_stem, count, class_counts = MNIST_SPLITS[split]
    folder = path if path is not None else os.environ.get(MNIST_DIR_VARIABLE) or None
    if folder is None:
        levels, labels = _mnist_from_keras(split)
        source = "keras.datasets.mnist"
    else:
        levels, source = _read_idx(os.fspath(folder), image_stem, 3)
        labels, label_source = _read_idx(os.fspath(folder), label_stem, 1)
        source = f"{source} and {label_source}"
    if levels.shape != (count, 28, 28) or labels.shape != (count,):
        raise ValueError(
            f"MNIST {split} split from {source} has images {levels.shape} and labels {labels.shape}; "
            f"expected ({count}, 28, 28) and ({count},)."
        )
    found_counts = tuple(np.bincount(labels, minlength=10).tolist())
    if found_counts != class_counts:
        raise ValueError(
            f"MNIST {split} labels from {source} count {found_counts} images per class; MNIST has "
            f"{class_counts}. The file is not MNIST's {split} split."
        )
    images = _scaled(levels[..., None], MNIST_LEVELS, dequantize_seed, dtype)
    return (images, labels.astype("int64")) if return_labels else images


def python_docs_text(held_out_fraction: float = 0.1):
    """CPython's documentation topics as one text, split into train and held-out parts.

    The topics of `pydoc_data.topics` (part of the standard library, so
    nothing is downloaded) are joined in sorted order, characters outside
    printable ASCII are dropped, and every run of whitespace becomes one
    space. The last `held_out_fraction` of the text is held out. The text
    comes with the running Python, so its size varies slightly across Python
    versions (433,000 characters on 3.11).

    Args:
        held_out_fraction: float in `(0, 1)`. Defaults to `0.1`.

    Returns:
        A tuple `(train_text, held_out_text, alphabet)`, `alphabet` the sorted
        string of the characters that occur.

    Raises:
        ValueError: if `held_out_fraction` is not in `(0, 1)`.
    """
    from pydoc_data import topics

    if not 0.0 < float(held_out_fraction) < 1.0:
        raise ValueError(f"`held_out_fraction` must be in (0, 1). Received: {held_out_fraction!r}")
    text = " ".join(topics.topics[key] for key in sorted(topics.topics))
    text = "".join(character for character in text if " " <= character <= "~" or character.isspace())
    text = re.sub(r"\s+", " ", text)
    split = int(round(len(text) * (1.0 - float(held_out_fraction))))
    return text[:split], text[split:], "".join(sorted(set(text)))


def character_windows(text: str, alphabet: str, length: int = 32, stride: int = 1) -> np.ndarray:
    """Every `length`-character window of `text` (every `stride`), as alphabet indices.

    Args:
        text: a string over `alphabet`.
        alphabet: the string of allowed characters; a character's index in it
            is its code.
        length: window length. Defaults to `32`.
        stride: distance between window starts. Defaults to `1`.

    Returns:
        An int32 array `[num_windows, length]`.

    Raises:
        ValueError: for characters outside `alphabet` or text shorter than
            `length`.
    """
    length, stride = check_positive_int(length, "length"), check_positive_int(stride, "stride")
    lookup = {character: index for index, character in enumerate(alphabet)}
    unknown = sorted(set(text) - set(lookup))
    if unknown:
        raise ValueError(f"`text` has characters outside `alphabet`: {unknown[:10]}")
    if len(text) < length:
        raise ValueError(f"`text` has {len(text)} characters, fewer than length={length}.")
    codes = np.fromiter((lookup[character] for character in text), dtype=np.int32, count=len(text))
    starts = np.arange(0, len(codes) - length + 1, stride)
    return codes[starts[:, None] + np.arange(length)[None, :]]


_DATASETS = {"25gaussians": twenty_five_gaussians, "swissroll": swiss_roll}


def names():
    """The names `load` accepts."""
    return sorted(_DATASETS)


def canonical_name(name):
    """`name` as `names()` spells it (case, `_`, `-` and spaces ignored).

    Raises:
        ValueError: for an unknown `name`, listing the known ones.
    """
    key = str(name).lower().replace("_", "").replace("-", "").replace(" ", "")
    if key not in _DATASETS:
        raise ValueError(f"Unknown dataset {name!r}. Expected one of: {names()}")
    return key


def load(name, num_samples, seed=None, dtype="float32"):
    """Samples a data set by name (`"25gaussians"` or `"swissroll"`).

    Raises:
        ValueError: for an unknown `name`, listing the known ones.
    """
    return _DATASETS[canonical_name(name)](num_samples, seed=seed, dtype=dtype)
