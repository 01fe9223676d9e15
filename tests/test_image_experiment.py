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


def test_compare_digits_rows_are_the_library_calls_they_name(tmp_path):
    # Each row's samples, re-derived with the library on the model of that seed and the row's latents.
    from dgflow_tf import RefinementModel
    from dgflow_tf.baselines import DDLS, DOT
    from dgflow_tf.zoo import digits_models

    seed, n = 1, 48
    rows, samples = images.compare_digits(
        seed,
        models=("dcgan",),
        num_samples=n,
        cache_dir=str(tmp_path),
        epochs=1,
        methods=["base", "DGflow", "DOT", "DDLS"],
    )
    model = digits_models.load_digits_model("dcgan", seed, str(tmp_path))  # saved by the run, seed 1's
    retrained = digits_models.train_digits_model("dcgan", seed, epochs=1)
    np.testing.assert_allclose(
        model.generator.get_weights()[0], retrained.generator.get_weights()[0], atol=1e-6
    )
    latents = model.sample_latents(n, images._LATENTS + seed)
    np.testing.assert_allclose(samples[("dcgan", "base")], model.generate(latents), atol=1e-6)
    refiner = RefinementModel(model.generator, model.discriminator, seed=seed, **images.DGFLOW_SETTINGS)
    np.testing.assert_allclose(samples[("dcgan", "DGflow")], refiner.predict(latents, verbose=0), atol=1e-5)
    dot = DOT(model.generator, model.discriminator, seed=seed, **images.DOT_SETTINGS).refine(latents)
    np.testing.assert_allclose(samples[("dcgan", "DOT")], dot.samples, atol=1e-5)
    ddls = DDLS(model.generator, model.discriminator, seed=seed, **images.DDLS_SETTINGS)
    np.testing.assert_allclose(samples[("dcgan", "DDLS")], ddls.predict(latents, verbose=0), atol=1e-5)
    by_method = {row["method"]: row for row in rows}
    assert (by_method["base"]["generator_evals"], by_method["base"]["critic_evals"]) == (1.0, 0.0)
    assert (by_method["DOT"]["generator_evals"], by_method["DOT"]["critic_evals"]) == (26.0, 25.0)
    assert by_method["DGflow"]["diverged"] == 0


def test_a_diverged_dgflow_row_has_nan_metrics_and_counts_its_bad_samples(tmp_path, monkeypatch):
    # A refinement that ends in NaN/Inf (here: samples 2 and 5 of 16, reported by the refiner) becomes a
    # row with NaN metrics and the count of bad samples, and the comparison goes on.
    from dgflow_tf.errors import NonFiniteRefinementError

    class Diverging(images.RefinementModel):
        def predict(self, *args, **kwargs):
            raise NonFiniteRefinementError([2, 5], [3, 7], 16)

    monkeypatch.setattr(images, "RefinementModel", Diverging)
    rows, samples = images.compare_digits(
        0, models=("dcgan",), num_samples=16, cache_dir=str(tmp_path), epochs=1, methods=["DGflow", "base"]
    )
    base, row = rows  # in methods_for's order
    assert row["diverged"] == 2 and ("dcgan", "DGflow") not in samples
    assert base["method"] == "base" and np.isfinite(base["fid"])
    for key in ("fid", "kid", "kid_std", "score", "score_std"):
        assert np.isnan(row[key]), key


def test_compare_digits_reads_its_models_from_the_cache_instead_of_training(tmp_path, monkeypatch):
    from dgflow_tf.zoo import digits_models

    saved = digits_models.train_digits_model("dcgan", 3, epochs=1)
    digits_models.save_digits_model(saved, str(tmp_path))

    def refuse(*args, **kwargs):
        raise AssertionError("trained a model the cache holds")

    monkeypatch.setattr(digits_models, "train_digits_model", refuse)
    _, samples = images.compare_digits(
        3, models=("dcgan",), num_samples=16, cache_dir=str(tmp_path), methods=["base"]
    )
    latents = saved.sample_latents(16, images._LATENTS + 3)
    np.testing.assert_allclose(samples[("dcgan", "base")], saved.generate(latents), atol=1e-6)


def test_the_flows_data_space_row_refines_with_its_own_settings_and_the_models_latent_shape(
    tmp_path, monkeypatch
):
    from dgflow_tf.zoo import digits_models

    built = []

    class Recording(images.RefinementModel):
        def __init__(self, *args, **kwargs):
            built.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(images, "RefinementModel", Recording)
    method = "DGflow+corrector (data space)"
    images.compare_digits(
        0,
        models=("flow",),
        num_samples=16,
        cache_dir=str(tmp_path),
        epochs=1,
        corrector_settings={"epochs": 1},
        methods=[method],
    )
    flow = digits_models.load_digits_model("flow", 0, str(tmp_path))
    assert built == [{"seed": 0, "latent_shape": flow.latent_shape, **images.FLOW_DATA_SETTINGS}]
    assert images.FLOW_DATA_SETTINGS["space"] == "data" != images.DGFLOW_SETTINGS["space"]
