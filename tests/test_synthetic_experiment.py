"""The 2-D comparison, its table and plot, and `dgflow-tf demo`, at small sizes."""

import io

import numpy as np
import pytest

from dgflow_tf import cli
from dgflow_tf.experiments import synthetic
from dgflow_tf.plotting import scatter_grid
from dgflow_tf.zoo import toy_gans


@pytest.fixture(scope="module")
def gan():
    return toy_gans.load_toy_gan("25gaussians")


def test_compare_runs_every_method_and_counts_evaluations(gan):
    rows, samples = synthetic.compare(*gan, "25gaussians", num_samples=300, seed=1, mh_chain_length=20)
    assert [row["method"] for row in rows] == list(synthetic.METHODS)
    by_method = {row["method"]: row for row in rows}
    assert by_method["DGflow-KL"]["generator_evals"] == 1 and by_method["DGflow-KL"]["critic_evals"] == 25
    assert by_method["DGflow-KL-latent"]["generator_evals"] == 26
    assert by_method["MH-GAN"]["critic_evals"] == 20
    assert by_method["DRS"]["generator_evals"] >= 1
    for method, points in samples.items():
        assert points.shape == (300, 2), method
        assert np.all(np.isfinite(points))
    table = synthetic.format_table(rows)
    assert table.count("\n") == len(rows) + 1 and "| HQ % |" in table


def test_refinement_moves_samples_onto_modes(gan):
    # The shipped GAN's samples off the modes are pulled onto them by the data-space KL flow.
    rows, _ = synthetic.compare(*gan, "25gaussians", num_samples=1000, seed=2, methods=["base", "DGflow-KL"])
    base, refined = rows
    assert refined["hq"] > base["hq"] + 3.0


def test_compare_is_seeded(gan):
    first = synthetic.compare(*gan, "swissroll", num_samples=100, seed=3, methods=["DGflow-KL", "DOT"])[1]
    again = synthetic.compare(*gan, "swissroll", num_samples=100, seed=3, methods=["DGflow-KL", "DOT"])[1]
    for method in first:
        np.testing.assert_array_equal(first[method], again[method])


def test_compare_rejects_unknown_methods(gan):
    with pytest.raises(ValueError, match="Unknown methods"):
        synthetic.compare(*gan, "25gaussians", methods=["GAN-X"])


def test_scatter_grid_writes_png(tmp_path):
    path = scatter_grid({"a": np.zeros((5, 2)), "b": np.ones((5, 2))}, str(tmp_path / "plot.png"))
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="shape \\[n, 2\\]"):
        scatter_grid({"a": np.zeros((5, 3))}, str(tmp_path / "bad.png"))


def test_demo_prints_both_tables_and_writes_plots(tmp_path):
    out = io.StringIO()
    argv = [
        "demo",
        "--num-samples",
        "200",
        "--mh-chain-length",
        "10",
        "--output-dir",
        str(tmp_path),
        "--quiet",
    ]
    assert cli.main(argv, out=out) == 0
    text = out.getvalue()
    assert "25gaussians" in text and "swissroll" in text
    assert text.count("| DGflow-KL |") == 2 and text.count("| MH-GAN |") == 2
    assert (tmp_path / "25gaussians.png").exists() and (tmp_path / "swissroll.png").exists()
    assert np.load(tmp_path / "swissroll-samples.npy").shape == (len(synthetic.METHODS), 200, 2)
