"""The edges a careful user meets: malformed manifests, paths that leave their directory, two writers,
empty input, NumPy seeds, shared-storage paths, and the command line's one-line errors and exit codes."""

import io
import json
import os
import subprocess
import sys

import hypothesis
import hypothesis.strategies as st
import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel, cli, manifest, storage, streaming


def _model(seed=0, **kwargs):
    generator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="tanh")])
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    generator.set_weights([np.full((3, 2), 0.3, "float32"), np.zeros(2, "float32")])
    critic.set_weights([np.array([[1.0], [-0.5]], "float32"), np.zeros(1, "float32")])
    return RefinementModel(generator, critic, step_size=0.05, num_steps=3, seed=seed, **kwargs)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    directory = tmp_path_factory.mktemp("finished")
    streaming.refine_to_shards(_model(), directory, 25, shard_size=10, batch_size=5, verbose=0)
    return directory


def _with_manifest(tmp_path, finished, edit):
    directory = tmp_path / "copy"
    directory.mkdir()
    for name in os.listdir(finished):
        (directory / name).write_bytes((finished / name).read_bytes())
    data = json.loads((directory / "manifest.json").read_text())
    (directory / "manifest.json").write_text(edit(data) if callable(edit) else edit)
    return directory


def _edit(function):
    def apply(data):
        function(data)
        return json.dumps(data)

    return apply


MALFORMED = {
    "not JSON": ("{not json", "not valid JSON"),
    "a list": ("[1, 2]", "holds a list, not an object"),
    "deeply nested": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "missing key": (_edit(lambda d: d.pop("shard_size")), "'shard_size' is missing"),
    "string count": (_edit(lambda d: d.update(num_samples="40")), "'num_samples' is '40'"),
    "duplicated shard": (_edit(lambda d: d["shards"].append(d["shards"][0])), "listed once each, in order"),
    "swapped shards": (
        _edit(lambda d: d["shards"].__setitem__(slice(0, 2), d["shards"][1::-1])),
        "listed once each, in order",
    ),
    "relative escape": (_edit(lambda d: d["shards"][0].update(file="../x.npy")), "names the file '../x.npy'"),
    "absolute path": (
        _edit(lambda d: d["shards"][0].update(file="/etc/passwd")),
        "names the file '/etc/passwd'",
    ),
    "wrong count": (_edit(lambda d: d["shards"][1].update(count=3)), "covers samples 10 to 13, not 10 to 20"),
    "bad checksum": (_edit(lambda d: d["shards"][0].update(sha256="abc")), "has no SHA-256"),
    "bool seed": (_edit(lambda d: d.update(seed=True)), "'seed' is True"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_manifests_name_the_file_and_the_problem_and_never_yield_data(tmp_path, finished, case):
    content, message = MALFORMED[case]
    directory = _with_manifest(tmp_path, finished, content)
    for read in (streaming.load_shards, streaming.verify_shards, streaming.read_manifest):
        with pytest.raises(
            manifest.ManifestError, match="manifest.json is not a valid shard manifest"
        ) as error:
            read(directory)
        assert message in str(error.value)
    with pytest.raises(ValueError, match="not a valid shard manifest"):  # a resume refuses it too
        streaming.refine_to_shards(_model(), directory, 25, shard_size=10, batch_size=5, verbose=0)


def test_a_manifest_larger_than_the_limit_is_refused_before_parsing(tmp_path, finished, monkeypatch):
    directory = _with_manifest(tmp_path, finished, lambda data: json.dumps(data))
    monkeypatch.setattr(manifest, "MAX_BYTES", 100)
    with pytest.raises(manifest.ManifestError, match="more than the 100 this file may have"):
        streaming.load_shards(directory)


@hypothesis.settings(max_examples=2000, deadline=None, derandomize=True)
@hypothesis.given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-5, 200) | st.text(max_size=20) | st.floats(allow_nan=True),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
        ),
        max_leaves=40,
    )
)
def test_fuzzed_manifests_are_valid_or_a_manifest_error(document):
    # Random JSON documents, and random documents grafted onto a valid header: the validator either
    # accepts them or raises ManifestError, never another exception.
    header = {
        "format": manifest.FORMAT,
        "num_samples": 20,
        "shard_size": 10,
        "batch_size": 5,
        "seed": 0,
        "latent_seed": 0,
        "settings": {},
        "weights_sha256": "0" * 64,
        "inputs_sha256": None,
        "shards": [],
    }
    candidates = [document, {**header, "shards": document}, {**header, "shards": [document]}]
    if isinstance(document, dict):
        candidates.append({**header, **document})
    for candidate in candidates:
        try:
            manifest.validate(candidate, "fuzzed.json")
        except manifest.ManifestError:
            pass


def test_a_shard_that_is_a_link_out_of_the_directory_is_refused(tmp_path, finished):
    directory = _with_manifest(tmp_path, finished, lambda data: json.dumps(data))
    outside = tmp_path / "elsewhere.npy"
    outside.write_bytes((directory / "shard-00000.npy").read_bytes())
    (directory / "shard-00000.npy").unlink()
    (directory / "shard-00000.npy").symlink_to(outside)
    with pytest.raises(storage.PathEscapeError, match="leads outside"):
        streaming.load_shards(directory)


def test_a_second_writer_is_refused_and_a_dead_writers_lock_is_taken_over(tmp_path, finished):
    directory = _with_manifest(tmp_path, finished, lambda data: json.dumps(data))
    before = {name: (directory / name).read_bytes() for name in os.listdir(directory)}
    with storage.DirectoryLock(str(directory)):
        with pytest.raises(storage.DirectoryLockedError, match=f"being written by process {os.getpid()}"):
            streaming.refine_to_shards(_model(), directory, 25, shard_size=10, batch_size=5, verbose=0)
    assert {name: (directory / name).read_bytes() for name in os.listdir(directory)} == before
    # A lock left by a process that has exited is stale: the next run takes it over and finishes.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    record = {"host": os.uname().nodename, "pid": int(dead.stdout), "token": "x", "heartbeat": 0.0}
    (directory / "lock.json").write_text(json.dumps(record))
    streaming.refine_to_shards(_model(), directory, 25, shard_size=10, batch_size=5, verbose=0)
    assert not (directory / "lock.json").exists()
    np.testing.assert_array_equal(streaming.load_shards(directory), streaming.load_shards(finished))


def test_temporary_names_are_unique_per_process(tmp_path, monkeypatch):
    names = []
    rename = tf.io.gfile.rename
    monkeypatch.setattr(storage.os, "replace", lambda src, dst: (names.append(src), os.rename(src, dst)))
    storage.write_atomically(str(tmp_path / "a.bin"), b"1")
    storage.write_atomically(str(tmp_path / "a.bin"), b"2")
    assert len(set(names)) == 2 and all(f"-{os.getpid()}-" in name for name in names)
    assert (tmp_path / "a.bin").read_bytes() == b"2" and rename is tf.io.gfile.rename


def test_streaming_to_tensorflows_ram_filesystem_resumes_after_an_interruption(monkeypatch):
    directory = "ram://dgflow-tests/stream"
    write, calls = streaming._write_atomically, []

    def write_then_stop(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return write(path, data)

    monkeypatch.setattr(streaming, "_write_atomically", write_then_stop)
    with pytest.raises(KeyboardInterrupt):
        streaming.refine_to_shards(_model(), directory, 25, shard_size=10, batch_size=5, verbose=0)
    monkeypatch.setattr(streaming, "_write_atomically", write)
    assert len(streaming.read_manifest(directory)["shards"]) == 1
    streaming.refine_to_shards(_model(), directory, 25, shard_size=10, batch_size=5, verbose=0)
    expected = _model().predict(_model().sample_latents(25, seed=0), batch_size=5, verbose=0)
    np.testing.assert_array_equal(streaming.load_shards(directory), expected)


def test_numpy_integer_seeds_and_empty_runs(tmp_path):
    manifest_ = streaming.refine_to_shards(_model(seed=np.int64(3)), tmp_path / "np", 5, verbose=0)
    assert manifest_["seed"] == 3
    empty = streaming.refine_to_shards(_model(), tmp_path / "empty", 0, verbose=0)
    assert empty["shards"] == [] and empty["num_samples"] == 0
    with pytest.raises(ValueError, match="holds a run of 0 samples: there is nothing to load"):
        streaming.load_shards(tmp_path / "empty")
    model = _model()
    assert model.generate(np.zeros((0, 3), "float32")).shape == (0, 2)
    assert model.predict(np.zeros((0, 3), "float32"), verbose=0).shape == (0, 2)
    assert model.refine(np.zeros((0, 3), "float32")).samples.shape == (0, 2)
    assert model.sample_latents(0).shape == (0, 3)
    # The same rule for the exported SavedModel's signature.
    model.export(str(tmp_path / "served"))
    loaded = tf.saved_model.load(str(tmp_path / "served"))
    served = loaded.serve(tf.zeros((0, 3)), tf.constant(0, tf.int64))
    assert served.shape == (0, 2) and served.dtype == tf.float32


def _run(*argv):
    stderr = io.StringIO()
    real = sys.stderr
    sys.stderr = stderr
    try:
        code = cli.main([str(arg) for arg in argv], out=io.StringIO())
    finally:
        sys.stderr = real
    return code, stderr.getvalue()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    directory = tmp_path_factory.mktemp("nets")
    model = _model()
    model.generator.save(directory / "g.keras")
    model.critic.discriminator.save(directory / "d.keras")
    return ["--generator", directory / "g.keras", "--critic", directory / "d.keras", "--quiet"]


def test_help_works_for_the_program_and_every_command(capsys):
    # The entry point once, in a fresh process (python -m dgflow_tf.cli); every command's help through
    # the same parser in this one, since each fresh process costs a TensorFlow import (~10 s).
    completed = subprocess.run(
        [sys.executable, "-m", "dgflow_tf.cli", "--help"], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-1000:]
    assert "usage: dgflow-tf" in completed.stdout
    parser = cli.build_parser()
    commands = next(
        action for action in parser._actions if isinstance(action, type(parser._subparsers._group_actions[0]))
    )
    assert {"refine", "stream", "sweep", "evaluate", "export", "demo"} <= set(commands.choices)
    for name in commands.choices:
        with pytest.raises(SystemExit) as exited:
            cli.build_parser().parse_args([name, "--help"])
        assert exited.value.code == 0, name
        assert f"usage: dgflow-tf {name}" in capsys.readouterr().out, name


def test_cli_errors_are_one_line_with_documented_exit_codes_and_leave_nothing_behind(tmp_path, saved):
    out = tmp_path / "out"
    code, text = _run("refine", *saved, "--latents", tmp_path / "missing.npy", "--output-dir", out)
    # The flag as typed, then the path: the message names what to fix.
    assert code == 2 and f" --latents {tmp_path / 'missing.npy'}: no such file" in text
    assert len(text.strip().splitlines()) == 1
    assert not out.exists()
    np.save(tmp_path / "z.npy", np.zeros((4, 3), "float32"))
    code, text = _run(
        "refine", *saved, "--latents", tmp_path / "z.npy", "--num-samples", 5, "--output-dir", out
    )
    assert code == 2 and "disagrees with --latents" in text and not out.exists()
    (tmp_path / "a_file").write_text("x")
    code, text = _run("refine", *saved, "--num-samples", 4, "--output-dir", tmp_path / "a_file")
    assert code == 2 and "is an existing file" in text
    code, text = _run("refine", *saved, "--num-samples", 4, "--output-dir", tmp_path / "a_file" / "below")
    assert code == 2 and "is a file, not a directory" in text
    code, text = _run("refine", *saved, "--labels", tmp_path / "z.npy", "--output-dir", out)
    assert code == 2 and "drop --labels" in text and not out.exists()
    locked = tmp_path / "locked"
    locked.mkdir()
    with storage.DirectoryLock(str(locked)):
        code, text = _run("stream", *saved, "--num-samples", 10, "--output-dir", locked)
    assert code == 1 and "being written by process" in text
    code, text = _run("refine", *saved, "--num-samples", 0, "--output-dir", tmp_path / "empty")
    assert code == 0 and np.load(tmp_path / "empty" / "refined.npy").shape == (0, 2)
