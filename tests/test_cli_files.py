"""The `.npy` inputs of the CLI (`dgflow_tf.cli.files`): memory-mapped only when asked, never unpickled."""

from argparse import Namespace

import numpy as np
import pytest

from dgflow_tf.cli.files import given_latents, load_array


def _saved(tmp_path, name="z.npy"):
    array = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.save(tmp_path / name, array)
    return str(tmp_path / name), array


def test_an_array_is_memory_mapped_read_only_only_when_asked(tmp_path):
    path, array = _saved(tmp_path)
    mapped = load_array(path, "--latents", memory_map=True)
    assert isinstance(mapped, np.memmap) and not mapped.flags.writeable
    np.testing.assert_array_equal(mapped, array)
    loaded = load_array(path, "--latents")
    assert not isinstance(loaded, np.memmap) and loaded.flags.writeable
    np.testing.assert_array_equal(loaded, array)


def test_given_latents_are_read_into_memory_unless_a_stream_asks_for_a_memory_map(tmp_path):
    path, array = _saved(tmp_path)
    args = Namespace(latents=path, num_samples=None)
    assert not isinstance(given_latents(args), np.memmap)
    mapped = given_latents(args, memory_map=True)
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped, array)


def test_an_array_of_python_objects_is_refused_not_unpickled(tmp_path):
    # Unpickling a file runs code chosen by whoever wrote it; a .npy input is numbers only.
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"^--latents .*objects\.npy is not a readable \.npy array"):
        load_array(str(tmp_path / "objects.npy"), "--latents")


def test_an_empty_file_is_named_with_its_flag(tmp_path):
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(ValueError, match=r"^--latents .*empty\.npy is not a readable \.npy array"):
        load_array(str(tmp_path / "empty.npy"), "--latents")
