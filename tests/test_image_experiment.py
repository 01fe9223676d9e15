"""The digits comparison and its benchmark script, at a tiny size."""

import json
import pathlib
import runpy

import numpy as np
import pytest

from dgflow_tf import plotting
from dgflow_tf.experiments import images

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_methods_per_model():
    assert images.methods_for("dcgan") == ["base", "DGflow", "DGflow+corrector", "DOT", "DDLS"]
    assert images.methods_for("flow")[-1] == "DGflow+corrector (data space)"
    assert "DOT" not in images.methods_for("vae")


def test_image_benchmark_runs_small_and_resumes(tmp_path):
    module = runpy.run_path(str(ROOT / "benchmarks" / "images.py"))
    argv = [
        "--seeds", "0", "1",
        "--models", "dcgan", "flow",
        "--num-samples", "120",
        "--epochs", "1",
        "--corrector-epochs", "2",
        "--cache-dir", str(tmp_path / "cache"),
        "--output", str(tmp_path / "out"),
        "--quiet",
    ]  # fmt: skip
    report = module["main"](argv)
    rows = report["per_seed"][0]
    assert [(r["model"], r["method"]) for r in rows] == [
        ("dcgan", m) for m in images.methods_for("dcgan")
    ] + [("flow", m) for m in images.methods_for("flow")]
    for row in rows:
        assert np.isfinite([row["fid"], row["kid"], row["score"]]).all()
        assert row["kid_std"] > 0  # subsets that differ give a spread
    dgflow = next(r for r in rows if r["method"] == "DGflow")
    assert (dgflow["generator_evals"], dgflow["critic_evals"]) == (26.0, 25.0)
    assert (tmp_path / "out" / "images" / "dcgan.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "out" / "images.json").read_text())
    first = saved["summary"][0]
    fids = [rows[0]["fid"] for rows in saved["per_seed"]]
    assert len(fids) == 2 and first["fid_seed_std"] == pytest.approx(np.std(fids))
    assert "| dcgan | DGflow |" in (tmp_path / "out" / "images.md").read_text()

    # A second run resumes from the finished seeds' files instead of recomputing them.
    seed_file = next((tmp_path / "cache").glob("quick-*/seed1-n120.json"))
    before = seed_file.stat().st_mtime_ns
    again = module["main"](argv)
    assert seed_file.stat().st_mtime_ns == before
    assert again["per_seed"][1] == report["per_seed"][1]


def test_image_grid_tiles_in_range(tmp_path):
    images_ = np.linspace(-2, 2, 3 * 4 * 4).reshape(3, 4, 4, 1)
    tile = plotting.tile_images(images_, columns=2, padding=0)
    assert tile.shape == (8, 8, 1) and tile.min() == 0.0 and tile.max() == 1.0
    np.testing.assert_array_equal(tile[4:, 4:], 1.0)  # the empty fourth cell stays white
    np.testing.assert_array_equal(tile[:4, :4], (np.clip(images_[0], -1, 1) + 1) / 2)
    padded = plotting.tile_images(images_, columns=2, padding=1)
    assert padded.shape == (9, 9, 1) and np.all(padded[4, :] == 0.5) and np.all(padded[:, 4] == 0.5)
    path = plotting.image_grid({"a": images_, "b": images_}, str(tmp_path / "g.png"))
    assert pathlib.Path(path).stat().st_size > 0
