"""`dgflow-tf evaluate` and `sweep` at their edges: image seeds and subset sizes, the sweep's metric
for each reference shape, its progress lines and files."""

import argparse
import io
import json
import re

import numpy as np
import pytest

from dgflow_tf import cli, datasets
from dgflow_tf.cli.evaluate import _load_reference, _sweep_score


def _evaluate(*argv):
    out = io.StringIO()
    assert cli.main(["evaluate", *[str(arg) for arg in argv]], out=out) == 0
    return json.loads(out.getvalue())


@pytest.mark.cli_flag("evaluate", "--seed")
def test_evaluate_digits_uses_the_seed_for_its_subsets(tmp_path):
    from dgflow_tf.metrics import images as image_metrics
    from dgflow_tf.zoo import digits_classifier

    digits = datasets.digits()
    samples = np.clip(digits[:400] + np.random.default_rng(0).normal(0, 0.3, digits[:400].shape), -1, 1)
    np.save(tmp_path / "digits.npy", samples.astype("float32"))
    extractor = digits_classifier.feature_extractor(digits_classifier.load_digits_classifier()[0])
    for seed in (0, 5):
        expected = image_metrics.image_metrics(
            samples.astype("float32"), digits, extractor, subset_size=400, seed=seed
        )
        measured = _evaluate(tmp_path / "digits.npy", "--seed", seed)
        assert measured["kid"] == pytest.approx(expected["kid"], rel=1e-9)
    assert _evaluate(tmp_path / "digits.npy", "--seed", 5)["kid"] != _evaluate(tmp_path / "digits.npy")["kid"]


@pytest.mark.cli_flag("evaluate", "--reference")
def test_evaluate_mnist_subsets_fit_a_small_reference(tmp_path, mnist_test):
    from dgflow_tf.metrics.mnist import mnist_metrics

    images = mnist_test[0]
    np.save(tmp_path / "samples.npy", images[:1200])
    np.save(tmp_path / "reference.npy", images[5000:5250])
    measured = _evaluate(tmp_path / "samples.npy", "--reference", tmp_path / "reference.npy")
    expected = mnist_metrics(images[:1200], images[5000:5250], subset_size=250, seed=0)
    for key, value in expected.items():
        assert measured[key] == pytest.approx(value, rel=1e-9), key


def test_sweep_fid_names_the_classifier_for_each_image_shape(mnist_test):
    args = argparse.Namespace(metric="fid")
    mnist = mnist_test[0][:200]
    name, score, higher_is_better = _sweep_score(args, mnist)
    assert name == "FID (MNIST classifier)" and higher_is_better is False
    assert score(mnist) == pytest.approx(0.0, abs=1e-3)  # a set against itself
    assert score(mnist_test[0][200:400]) > score(mnist)
    name, _, _ = _sweep_score(args, datasets.digits()[:100])
    assert name == "FID (digits classifier)"
    with pytest.raises(ValueError, match=r"the reference has shape \[5, 4, 4, 1\]\. Use --metric ot or kde"):
        _sweep_score(args, np.zeros((5, 4, 4, 1), "float32"))


def test_sweep_reference_mnist_is_the_test_split(mnist_dir, monkeypatch):
    monkeypatch.setenv("DGFLOW_TF_MNIST_DIR", mnist_dir)
    loaded = _load_reference(argparse.Namespace(reference="mnist"))
    np.testing.assert_array_equal(loaded, datasets.mnist("test", mnist_dir))


@pytest.mark.cli_flag("sweep", "--quiet")
def test_sweep_reports_each_setting_unless_quiet_and_writes_its_files(point_models, tmp_path, capsys):
    folder, _, _ = point_models
    np.save(tmp_path / "reference.npy", np.random.default_rng(8).normal(0.5, 0.3, (150, 2)).astype("float32"))
    argv = ["sweep", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
    argv += ["--reference", tmp_path / "reference.npy", "--num-samples", 30, "--metric", "ot"]
    argv += ["--step-sizes", 0.01, 0.05, "--num-steps-grid", 2, 4]
    for quiet in (False, True):
        output = tmp_path / f"quiet-{quiet}"
        flags = ["--quiet"] if quiet else []
        assert cli.main([str(arg) for arg in [*argv, "--output-dir", output, *flags]], out=io.StringIO()) == 0
        captured = capsys.readouterr()
        lines = [line for line in captured.err.splitlines() if line.startswith("  step size ")]
        # One line per setting of the 2 x 2 grid, nothing when quiet; never a Keras progress bar.
        assert len(lines) == (0 if quiet else 4), captured.err
        assert "━" not in captured.err + captured.out
        assert (output / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert {path.name for path in output.iterdir()} == {"sweep.png", "sweep.md", "sweep.json"}


def test_unreadable_samples_and_references_are_one_line_naming_the_argument(tmp_path, capsys):
    (tmp_path / "empty.npy").write_bytes(b"")
    np.save(tmp_path / "points.npy", np.zeros((4, 2), np.float32))
    for argv, expected in (
        ([tmp_path / "missing.npy"], "samples .*missing.npy: no such file"),
        ([tmp_path / "empty.npy"], "samples .*empty.npy is not a readable .npy array"),
        (
            [tmp_path / "points.npy", "--reference", tmp_path / "empty.npy"],
            "--reference .*empty.npy is not a",
        ),
    ):
        code = cli.main(["evaluate", *[str(arg) for arg in argv]], out=io.StringIO())
        error = capsys.readouterr().err
        assert code != 0 and "Traceback" not in error
        assert re.search(f"^dgflow-tf evaluate: error: {expected}", error, re.MULTILINE), error
