"""Damaged model files: each truncated, zero-filled or bit-flipped part of a SavedModel or a `.keras`
archive raises one `ModelFileError` that names the path and the part, with the reader's error as cause."""

import io
import os
import re
import shutil
import struct
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import cli, loading
from dgflow_tf.adapters import hub as hub_adapter
from dgflow_tf.errors import ModelFileError

DAMAGES = ("truncate", "zero", "flip")


def _damage_bytes(data, how, start=0, end=None):
    """`data` with the span [start, end) truncated away (and all after it), zeroed, or one bit flipped."""
    data = bytearray(data)
    end = len(data) if end is None else end
    middle = (start + end) // 2
    if how == "truncate":
        return bytes(data[:middle])
    if how == "zero":
        data[start:end] = bytes(end - start)
        return bytes(data)
    data[middle] ^= 0x10
    return bytes(data)


class _Doubler(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(2.0 * tf.eye(2))

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def __call__(self, z):
        return z @ self.w


@pytest.fixture(scope="module")
def savedmodel(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "doubler"
    module = _Doubler()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.__call__})
    return path


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("saved_model.pb", "graph (saved_model.pb)"),
        ("variables/variables.index", "variables index"),
        ("variables/variables.data-00000-of-00001", "variables data"),
    ],
)
def test_every_damaged_savedmodel_part_is_named(savedmodel, tmp_path, how, name, part):
    damaged = tmp_path / "damaged"
    shutil.copytree(savedmodel, damaged)
    target = damaged / name
    target.write_bytes(_damage_bytes(target.read_bytes(), how))
    for load in (lambda: loading.load_callable(damaged, "generator"), lambda: hub_adapter.load_gan(damaged)):
        with pytest.raises(ModelFileError) as caught:
            load()
        assert caught.value.path == str(damaged)
        assert caught.value.part.startswith(part)
        assert str(damaged) in str(caught.value) and "export the model again" in str(caught.value)
        assert caught.value.__cause__ is not None


@pytest.mark.parametrize("how", ["truncate", "zero"])
def test_a_damaged_graph_without_a_fingerprint_is_named_with_the_parsers_error(savedmodel, tmp_path, how):
    # SavedModels written before TF 2.9 (and TF1 hub modules) have no fingerprint.pb, so only parsing
    # the graph can tell that it is damaged; the message carries the protobuf parser's reason.
    damaged = tmp_path / "damaged"
    shutil.copytree(savedmodel, damaged)
    (damaged / "fingerprint.pb").unlink()
    graph = damaged / "saved_model.pb"
    graph.write_bytes(_damage_bytes(graph.read_bytes(), how))
    # Loaded as a refiner, the graph is parsed by nothing before tf.saved_model.load.
    with pytest.raises(ModelFileError) as caught:
        loading.load_refinement_model(damaged)
    assert caught.value.part == "graph (saved_model.pb)"
    assert re.search(r"its graph \(saved_model\.pb\) cannot be read \(DecodeError: .+\)", str(caught.value))


def test_the_intact_savedmodel_loads_and_computes(savedmodel):
    np.testing.assert_array_equal(
        loading.load_callable(savedmodel, "generator")(tf.ones([1, 2])), [[2.0, 2.0]]
    )


def test_a_damaged_fingerprint_warns_but_the_intact_model_loads(savedmodel, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(savedmodel, damaged)
    (damaged / "fingerprint.pb").write_bytes(b"\x00" * 20)
    with pytest.warns(UserWarning, match="fingerprint.pb"):
        generator = loading.load_callable(damaged, "generator")
    np.testing.assert_array_equal(generator(tf.ones([1, 2])), [[2.0, 2.0]])


def test_the_cli_names_the_damaged_part(savedmodel, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    shutil.copytree(savedmodel, damaged)
    data = damaged / "variables" / "variables.data-00000-of-00001"
    data.write_bytes(_damage_bytes(data.read_bytes(), "truncate"))
    argv = [
        "refine",
        "--generator",
        damaged,
        "--critic",
        damaged,
        "--output-dir",
        tmp_path / "out",
        "--quiet",
    ]
    code = cli.main([str(arg) for arg in argv], out=io.StringIO())
    assert code == 2
    error = capsys.readouterr().err
    assert "is damaged: its variables data" in error and "IndexError" in error


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    path = tmp_path_factory.mktemp("keras") / "generator.keras"
    model.save(path)
    return path


def _member_span(path, name):
    """The byte span of a member's stored data inside the zip archive."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    raw = path.read_bytes()
    name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    return start, start + info.compress_size


@pytest.mark.parametrize("how", ["zero", "flip"])
@pytest.mark.parametrize("member", ["config.json", "metadata.json", "model.weights.h5"])
def test_every_damaged_keras_member_is_named(keras_file, tmp_path, how, member):
    start, end = _member_span(keras_file, member)
    damaged = tmp_path / "damaged.keras"
    damaged.write_bytes(_damage_bytes(keras_file.read_bytes(), how, start, end))
    with pytest.raises(ModelFileError) as caught:
        loading.load_callable(damaged, "generator")
    assert member in caught.value.part
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_keras_archive_is_named(keras_file, tmp_path, how):
    damaged = tmp_path / "damaged.keras"
    raw = keras_file.read_bytes()
    # Damage the zip's central directory at the end, which every reader needs.
    damaged.write_bytes(_damage_bytes(raw, how, len(raw) - 60, len(raw)))
    with pytest.raises(ModelFileError, match=os.path.basename(damaged)):
        loading.load_callable(damaged, "generator")


def test_broken_json_written_into_an_intact_zip_is_named(keras_file, tmp_path):
    # A config.json that was broken before it was zipped: the CRC is valid, the JSON is not.
    damaged = tmp_path / "damaged.keras"
    with zipfile.ZipFile(keras_file) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, data[: len(data) // 2] if item.filename == "config.json" else data)
    with pytest.raises(ModelFileError, match="member 'config.json'") as caught:
        loading.load_callable(damaged, "generator")
    assert type(caught.value.__cause__).__name__ == "JSONDecodeError"


@pytest.fixture(scope="module")
def saved_refiner(tmp_path_factory):
    from dgflow_tf import RefinementModel

    keras.utils.set_random_seed(1)
    generator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model = RefinementModel(generator, critic, num_steps=3, seed=0, step_size=0.05)
    folder = tmp_path_factory.mktemp("refiner")
    model.save(folder / "refiner.keras")
    model.export(folder / "exported", verbose=False)
    return folder, model


def test_a_saved_refiner_loads_from_keras_and_from_its_export(saved_refiner):
    folder, model = saved_refiner
    z = model.sample_latents(5, seed=2)
    loaded = loading.load_refinement_model(folder / "refiner.keras")
    np.testing.assert_array_equal(loaded.predict(z, verbose=0), model.predict(z, verbose=0))
    exported = loading.load_refinement_model(folder / "exported")  # held: serve needs its variables
    served = exported.serve(z, tf.constant(0, tf.int64))
    np.testing.assert_array_equal(served.numpy(), model.refine(z, seed=0).samples)


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5"])
def test_a_damaged_saved_refiner_is_named(saved_refiner, tmp_path, member):
    folder, _ = saved_refiner
    source = folder / "refiner.keras"
    start, end = _member_span(source, member)
    damaged = tmp_path / "refiner.keras"
    damaged.write_bytes(_damage_bytes(source.read_bytes(), "flip", start, end))
    with pytest.raises(ModelFileError, match=f"member '{member}'"):
        loading.load_refinement_model(damaged)
    exported = tmp_path / "exported"
    shutil.copytree(folder / "exported", exported)
    data = exported / "variables" / "variables.data-00000-of-00001"
    data.write_bytes(_damage_bytes(data.read_bytes(), "truncate"))
    with pytest.raises(ModelFileError, match="variables data"):
        loading.load_refinement_model(exported)


def test_a_keras_file_of_another_model_is_not_a_refiner(keras_file):
    with pytest.raises(ValueError, match="not a RefinementModel"):
        loading.load_refinement_model(keras_file)


def test_a_graph_that_differs_from_its_fingerprint_is_named_with_both_checksums(savedmodel, tmp_path):
    # An intact, parseable saved_model.pb of another model: only the fingerprint tells.
    class _Tripler(_Doubler):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(3.0 * tf.eye(2))

    other = tmp_path / "other"
    module = _Tripler()
    tf.saved_model.save(
        module, str(other), signatures={"serving_default": module.__call__.get_concrete_function()}
    )
    swapped = tmp_path / "swapped"
    shutil.copytree(savedmodel, swapped)
    shutil.copy(other / "saved_model.pb", swapped / "saved_model.pb")
    with pytest.raises(ModelFileError, match=r"its graph \(saved_model.pb\) cannot be read") as caught:
        loading.load_callable(swapped, "generator")
    assert caught.value.part == "graph (saved_model.pb)"
    assert isinstance(caught.value.__cause__, ValueError)
    assert re.fullmatch(
        r"checksum \d+ differs from \d+, recorded in fingerprint.pb when the model was saved",
        str(caught.value.__cause__),
    )


def test_the_fingerprint_warning_points_at_the_callers_line(savedmodel, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(savedmodel, damaged)
    (damaged / "fingerprint.pb").write_bytes(b"\x00" * 20)
    with pytest.warns(UserWarning, match="fingerprint.pb") as record:
        loading.load_callable(damaged, "generator")
    # The caller's line, not the library's internals (mutmut's trampolines, when it runs, are callers too).
    assert not record[0].filename.startswith(os.path.dirname(loading.__file__))


def test_a_damaged_archive_names_the_readers_error(keras_file, tmp_path):
    damaged = tmp_path / "damaged.keras"
    raw = keras_file.read_bytes()
    # The central directory's last entry zeroed, its end record intact: a zip reader starts and fails.
    damaged.write_bytes(_damage_bytes(raw, "zero", len(raw) - 60, len(raw) - 22))
    with pytest.raises(
        ModelFileError, match=r"its zip archive \(truncated, or not a .keras file\)"
    ) as caught:
        loading.load_callable(damaged, "generator")
    cause = caught.value.__cause__
    assert f"({type(cause).__name__}: {cause})" in str(caught.value)
