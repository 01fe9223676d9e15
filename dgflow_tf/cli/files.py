"""The files the `dgflow-tf` commands read and write: `.npy` inputs, output directories and arrays.

Inputs are checked before any work, and every error names the flag and the file, so a run that
cannot finish fails before it writes anything.
"""

import os


def load_array(path, flag, memory_map=False):
    """A `.npy` file given to `flag`, as an array (memory-mapped with `memory_map`, so that only the
    rows used are read); errors name the flag and the file."""
    import numpy as np

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{flag} {path}: no such file")
    try:
        return np.load(path, mmap_mode="r" if memory_map else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:  # EOFError: an empty or truncated file
        raise ValueError(f"{flag} {path} is not a readable .npy array ({error})") from None


def given_latents(args, memory_map=False):
    """The --latents array, or `None`; refuses a --num-samples that disagrees with it."""
    if args.latents is None:
        return None
    latents = load_array(args.latents, "--latents", memory_map=memory_map)
    if args.num_samples is not None and args.num_samples != len(latents):
        raise ValueError(
            f"--num-samples {args.num_samples} disagrees with --latents {args.latents}, which holds "
            f"{len(latents)}: pass one of them"
        )
    return latents


def check_output_directory(path):
    """Raises before any work if `path` cannot be an output directory (an existing file, or a file on
    the way to it), so that a failed run leaves nothing behind."""
    import tensorflow as tf

    if tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path):
        raise FileExistsError(f"--output-dir {path} is an existing file, not a directory: pass another path")
    if "://" not in str(path):
        parent = os.path.dirname(os.path.abspath(path))
        while parent and not os.path.exists(parent):
            parent = os.path.dirname(parent)
        if parent and not os.path.isdir(parent):
            raise NotADirectoryError(f"--output-dir {path}: {parent} is a file, not a directory")


def save_array(path, array):
    """Saves a `.npy` file through `storage` (any TensorFlow filesystem), atomically."""
    import io

    import numpy as np

    from dgflow_tf import storage

    buffer = io.BytesIO()
    np.save(buffer, array)
    storage.write_atomically(path, buffer.getvalue())
