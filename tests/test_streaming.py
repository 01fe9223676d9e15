"""Streaming refinement: atomic checksummed shards, resume after interruption or SIGKILL."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import NonFiniteRefinementError, RefinementModel, cli, streaming
from dgflow_tf.errors import NonFiniteRefinementWarning

LATENT = 4


def _networks(seed=0):
    keras.utils.set_random_seed(seed)
    generator = keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(12, activation="tanh")])
    critic = keras.Sequential(
        [keras.Input((12,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)]
    )
    return generator, critic


def _model(seed=7, **kwargs):
    generator, critic = _networks()
    settings = dict(step_size=0.05, entropy_weight=0.05, num_steps=6, seed=seed)
    settings.update(kwargs)
    return RefinementModel(generator, critic, **settings)


def test_shards_equal_one_predict_call_bit_for_bit(tmp_path):
    model = _model()
    manifest = streaming.refine_to_shards(
        model, tmp_path, 70, latent_seed=3, shard_size=20, batch_size=10, verbose=0
    )
    assert [shard["count"] for shard in manifest["shards"]] == [20, 20, 20, 10]
    assert sorted(os.listdir(tmp_path)) == ["manifest.json"] + [f"shard-0000{i}.npy" for i in range(4)]
    # The same latents and batches through predict: shard i's samples are the same numbers.
    latents = model.sample_latents(70, seed=3)
    np.testing.assert_array_equal(
        streaming.load_shards(tmp_path), model.predict(latents, batch_size=10, verbose=0)
    )


def test_given_latents_are_refined_in_order(tmp_path):
    model = _model()
    latents = np.random.default_rng(0).normal(size=(30, LATENT)).astype("float32")
    path = tmp_path / "latents.npy"
    np.save(path, latents)
    streaming.refine_to_shards(
        model, tmp_path / "out", latents=np.load(path, mmap_mode="r"), shard_size=10, batch_size=5, verbose=0
    )
    np.testing.assert_array_equal(
        streaming.load_shards(tmp_path / "out"), model.predict(latents, batch_size=5, verbose=0)
    )


class _Interrupt(Exception):
    pass


def test_a_worker_that_is_not_the_chief_writes_nothing_and_returns_the_chiefs_manifest(tmp_path, monkeypatch):
    from dgflow_tf import distributed

    model, out = _model(), tmp_path / "out"
    monkeypatch.setattr(distributed, "is_chief", lambda strategy=None: False)
    # Before the chief has written: nothing appears, and the worker's own record of the shards comes back.
    own = streaming.refine_to_shards(model, out, 30, shard_size=10, batch_size=10, verbose=0)
    assert not out.exists() and len(own["shards"]) == 3
    monkeypatch.undo()
    written = streaming.refine_to_shards(model, out, 30, shard_size=10, batch_size=10, verbose=0)
    assert [shard["sha256"] for shard in own["shards"]] == [shard["sha256"] for shard in written["shards"]]
    # After it: the worker returns the manifest on disk and leaves every file as the chief wrote it.
    (out / "manifest.json").write_text(
        json.dumps(dict(json.loads((out / "manifest.json").read_text()), note="written by the chief"))
    )
    before = {name: os.stat(out / name).st_mtime_ns for name in os.listdir(out)}
    monkeypatch.setattr(distributed, "is_chief", lambda strategy=None: False)
    assert streaming.refine_to_shards(model, out, 30, shard_size=10, batch_size=10, verbose=0)["note"] == (
        "written by the chief"
    )
    assert {name: os.stat(out / name).st_mtime_ns for name in os.listdir(out)} == before


def test_interrupted_run_resumes_without_recomputing_finished_shards(tmp_path, monkeypatch):
    reference = streaming.refine_to_shards(
        _model(), tmp_path / "ref", 100, shard_size=10, batch_size=5, verbose=0
    )
    write, written, stop_after = streaming._write_atomically, [], [4]

    def write_then_stop(path, data):
        digest = write(path, data)
        written.append(os.path.basename(path))
        if len([name for name in written if name.startswith("shard")]) == stop_after[0]:
            raise _Interrupt
        return digest

    monkeypatch.setattr(streaming, "_write_atomically", write_then_stop)
    with pytest.raises(_Interrupt):
        streaming.refine_to_shards(_model(), tmp_path / "run", 100, shard_size=10, batch_size=5, verbose=0)
    # The 4th shard was renamed into place but not yet recorded: the manifest lists 3.
    assert len(streaming.read_manifest(tmp_path / "run")["shards"]) == 3
    written.clear()
    stop_after[0] = None
    manifest = streaming.refine_to_shards(
        _model(), tmp_path / "run", 100, shard_size=10, batch_size=5, verbose=0
    )
    assert [name for name in written if name.startswith("shard")] == [
        f"shard-{i:05d}.npy" for i in range(3, 10)
    ]
    assert [s["sha256"] for s in manifest["shards"]] == [s["sha256"] for s in reference["shards"]]
    np.testing.assert_array_equal(
        streaming.load_shards(tmp_path / "run"), streaming.load_shards(tmp_path / "ref")
    )


def test_corrupt_shard_is_detected_then_refined_again_once_deleted(tmp_path):
    streaming.refine_to_shards(_model(), tmp_path, 40, shard_size=10, batch_size=5, verbose=0)
    expected = streaming.load_shards(tmp_path)
    shard = tmp_path / "shard-00002.npy"
    data = bytearray(shard.read_bytes())
    data[-3] ^= 0xFF  # one flipped byte inside the last sample
    shard.write_bytes(bytes(data))
    with pytest.raises(streaming.CorruptShardError, match="shard-00002.npy does not match the SHA-256"):
        streaming.load_shards(tmp_path)
    with pytest.raises(streaming.CorruptShardError, match="Delete it and call refine_to_shards again"):
        streaming.refine_to_shards(_model(), tmp_path, 40, shard_size=10, batch_size=5, verbose=0)
    shard.unlink()
    with pytest.raises(FileNotFoundError, match="shard-00002.npy is missing"):
        streaming.load_shards(tmp_path)
    streaming.refine_to_shards(_model(), tmp_path, 40, shard_size=10, batch_size=5, verbose=0)
    np.testing.assert_array_equal(streaming.load_shards(tmp_path), expected)


def test_leftover_partial_file_is_removed_on_resume(tmp_path):
    streaming.refine_to_shards(_model(), tmp_path, 20, shard_size=10, batch_size=5, verbose=0)
    (tmp_path / "shard-00002.npy.partial").write_bytes(b"half a shard")
    streaming.refine_to_shards(_model(), tmp_path, 20, shard_size=10, batch_size=5, verbose=0)
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    "change, key",
    [
        (dict(model=dict(num_steps=7)), "settings"),
        (dict(model=dict(step_schedule="linear")), "settings"),
        (dict(model=dict(noise_distribution="rademacher")), "settings"),
        (dict(model=dict(seed=8)), "seed"),
        (dict(call=dict(batch_size=4)), "batch_size"),
        (dict(call=dict(latent_seed=1)), "latent_seed"),
        (dict(call=dict(num_samples=30)), "num_samples"),
    ],
)
def test_resuming_with_other_arguments_is_refused(tmp_path, change, key):
    call = dict(num_samples=20, shard_size=10, batch_size=5, verbose=0)
    streaming.refine_to_shards(_model(), tmp_path, **call)
    call.update(change.get("call", {}))
    refused = (
        rf"^'{re.escape(str(tmp_path))}' holds a run with {key}=.+, not .+: resuming it would mix samples "
        r"of different runs\. Use the original arguments \(and model\), or a new directory\.$"
    )
    with pytest.raises(ValueError, match=refused):
        streaming.refine_to_shards(_model(**change.get("model", {})), tmp_path, **call)


def test_resuming_with_other_weights_is_refused(tmp_path):
    model = _model()
    streaming.refine_to_shards(model, tmp_path, 20, shard_size=10, verbose=0)
    model.critic.variables[0].assign_add(tf.ones_like(model.critic.variables[0]))
    with pytest.raises(ValueError, match="weights_sha256"):
        streaming.refine_to_shards(model, tmp_path, 20, shard_size=10, verbose=0)


def test_bad_arguments_are_errors_naming_them(tmp_path):
    with pytest.raises(ValueError, match="fixed integer refinement seed.*seed=None"):
        streaming.refine_to_shards(_model(seed=None), tmp_path, 10)
    with pytest.raises(ValueError, match="exactly one of `num_samples`"):
        streaming.refine_to_shards(_model(), tmp_path)
    with pytest.raises(ValueError, match="`shard_size`"):
        streaming.refine_to_shards(_model(), tmp_path, 10, shard_size=0)
    with pytest.raises(FileNotFoundError, match="No manifest.json"):
        streaming.load_shards(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        streaming.load_shards(tmp_path / "bad")


def _breaking_generator(z):
    # NaN for latents with z_0 > 1.5 (about 7 % of N(0, 1) draws), finite elsewhere.
    return tf.where(z[:, :1] > 1.5, tf.math.log(-z[:, :1]), z)


def test_nonfinite_policy_in_streams(tmp_path):
    critic = lambda x: -tf.reduce_sum(tf.square(x), -1)  # noqa: E731
    frozen = RefinementModel(
        _breaking_generator, critic, num_steps=3, seed=1, latent_shape=(2,), on_nonfinite="freeze"
    )
    with pytest.warns(NonFiniteRefinementWarning):
        manifest = streaming.refine_to_shards(
            frozen, tmp_path / "freeze", 40, shard_size=10, batch_size=5, verbose=0
        )
    latents = frozen.sample_latents(40, seed=0)
    flagged = [p for shard in manifest["shards"] for p in shard["nonfinite"]["positions"]]
    assert flagged == np.flatnonzero(latents[:, 0] > 1.5).tolist() and flagged
    raising = RefinementModel(_breaking_generator, critic, num_steps=3, seed=1, latent_shape=(2,))
    with pytest.raises(NonFiniteRefinementError) as caught:
        streaming.refine_to_shards(raising, tmp_path / "raise", 40, shard_size=10, batch_size=5, verbose=0)
    first_bad_shard = flagged[0] // 10
    np.testing.assert_array_equal(
        caught.value.sample_indices, [p for p in flagged if p // 10 == first_bad_shard]
    )
    # Shards before the bad one are kept; the bad one is not recorded.
    assert len(streaming.read_manifest(tmp_path / "raise")["shards"]) == first_bad_shard


def _save_networks(directory):
    generator, critic = _networks()
    generator.save(directory / "generator.keras")
    critic.save(directory / "critic.keras")
    return [
        "stream",
        "--generator",
        str(directory / "generator.keras"),
        "--critic",
        str(directory / "critic.keras"),
        "--num-steps",
        "10",
        "--step-size",
        "0.05",
        "--seed",
        "5",
        "--num-samples",
        "6000",
        "--shard-size",
        "20",
        "--batch-size",
        "10",
        "--quiet",
    ]


def test_sigkill_during_streaming_then_resume_matches_an_uninterrupted_run(tmp_path):
    arguments = _save_networks(tmp_path)
    killed_dir, reference_dir = tmp_path / "killed", tmp_path / "reference"
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "dgflow_tf.cli", *arguments, "--output-dir", str(killed_dir)]
    log = tmp_path / "killed.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=stderr)
    manifest_path = killed_dir / "manifest.json"
    deadline = time.monotonic() + 240
    listed = 0
    while process.poll() is None and time.monotonic() < deadline:
        if manifest_path.exists():
            listed = len(json.loads(manifest_path.read_text())["shards"])
            if listed >= 5:
                break
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, log.read_text()[-2000:]
    survivors = {shard["file"]: shard["sha256"] for shard in streaming.read_manifest(killed_dir)["shards"]}
    assert 5 <= len(survivors) < 300, "the run must be killed part way through"
    before = {name: os.stat(killed_dir / name).st_mtime_ns for name in survivors}

    resumed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # The finished shards were verified, not rewritten.
    assert {name: os.stat(killed_dir / name).st_mtime_ns for name in survivors} == before
    with open(os.devnull, "w") as devnull:
        assert cli.main([*arguments, "--output-dir", str(reference_dir)], out=devnull) == 0
    np.testing.assert_array_equal(streaming.load_shards(killed_dir), streaming.load_shards(reference_dir))
    assert not list(killed_dir.glob("*.partial"))
