import io
import json
import pathlib
import runpy
import subprocess
import sys

import pytest

from dgflow_tf import cli
from dgflow_tf.zoo.dcgan import dcgan_discriminator, dcgan_generator

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.cli_flag("gaussian-demo", "--num-samples", "--seed")
def test_gaussian_demo_prints_a_table_where_kl_refinement_improves_the_fit():
    out = io.StringIO()
    assert cli.main(["gaussian-demo", "--num-samples", "2000", "--seed", "1"], out=out) == 0
    rows = {
        line.split()[0]: line for line in out.getvalue().splitlines() if line.startswith(("base ", "DGflow-"))
    }
    assert set(rows) == {"base", "DGflow-KL", "DGflow-JS", "DGflow-logD", "DGflow-chi2"}
    kl_of = lambda row: float(row.split("]")[-1].split()[0])  # noqa: E731
    assert kl_of(rows["DGflow-KL"]) < 0.2 * kl_of(rows["base"])


def test_demo_rejects_bad_flags():
    with pytest.raises(SystemExit):
        cli.main(["gaussian-demo", "--step-size", "-1"], out=io.StringIO())
    with pytest.raises(SystemExit):
        cli.main(["demo", "--methods", "GAN-X"], out=io.StringIO())
    with pytest.raises(SystemExit):
        cli.main(["demo", "--num-samples", "0"], out=io.StringIO())


def test_console_script_help_explains_defaults():
    result = subprocess.run(
        [sys.executable, "-m", "dgflow_tf.cli", "gaussian-demo", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--step-size" in result.stdout and "(default: 0.01)" in result.stdout


def test_dcgan_shapes():
    generator, critic = dcgan_generator(latent_dim=8, width=4), dcgan_discriminator(width=4)
    assert generator.output_shape == (None, 32, 32, 3)
    assert critic.output_shape == (None, 1)
    with pytest.raises(ValueError, match="`width` must be a positive integer"):
        dcgan_generator(width=0)


def test_step_cost_benchmark_runs_small(tmp_path):
    output = tmp_path / "step_cost.json"
    module = runpy.run_path(str(ROOT / "benchmarks" / "step_cost.py"))
    rows = module["main"](
        [
            "--width",
            "4",
            "--batch-size",
            "4",
            "--num-steps",
            "2",
            "--repeats",
            "1",
            "--no-xla",
            "--latent-dim",
            "8",
            "--output",
            str(output),
        ]
    )
    assert {row["variant"] for row in rows} >= {"floor: one forward+backward", "refine, graph (per step)"}
    assert json.loads(output.read_text())["rows"][0]["ratio_to_floor"] == 1.0


def test_synthetic_benchmark_tunes_on_its_own_seed_then_evaluates(tmp_path, monkeypatch):
    from dgflow_tf.experiments import synthetic

    # Small grids; the tuning seed is 0 here only so that no GAN is trained (the shipped weights).
    monkeypatch.setattr(synthetic, "STEP_SIZES", (0.003, 0.01))
    grids = {
        "DGflow": {"step_size": (0.003, 0.01)},
        "DOT": {"learning_rate": (0.01,), "k_eff": (None,)},
        "DDLS": {"step_size": (0.01,)},
        "DRS": {"gamma_quantile": (0.5,)},
    }
    monkeypatch.setattr(synthetic, "TUNING_GRIDS", grids)
    module = runpy.run_path(str(ROOT / "benchmarks" / "synthetic.py"))
    module["main"].__globals__["STEP_COUNTS"] = (5,)
    common = ["--datasets", "swissroll", "--num-samples", "100", "--mh-chain-length", "5"]
    common += ["--results", str(tmp_path), "--cache", str(tmp_path / "cache")]
    with pytest.raises(SystemExit):  # the tuning seed may not be an evaluation seed
        module["main"](["--tune", "--tuning-seed", "0", "--seeds", "0", *common])
    report = module["main"](["--tune", "--tuning-seed", "0", "--seeds", *common])
    chosen = report["tuning"]["datasets"]["swissroll"]["chosen"]
    assert chosen["DGflow-KL"]["step_size"] in (0.003, 0.01) and set(chosen["DOT"]) == {
        "learning_rate",
        "k_eff",
    }
    assert "**" in (tmp_path / "synthetic_tuning_wgan-gp.md").read_text()
    report = module["main"](["--seeds", "0", *common])
    summary = report["evaluation"]["datasets"]["swissroll"]["summary"]
    assert [row["method"] for row in summary] == list(synthetic.METHODS)
    text = (tmp_path / "synthetic_wgan-gp.md").read_text()
    assert "| DGflow-KL-latent |" in text and "paired comparisons" in text
    assert json.loads((tmp_path / "synthetic_wgan-gp.json").read_text())["command"].startswith(
        "python benchmarks/synthetic.py --seeds 0"
    )


def test_throughput_benchmark_counts_flops_and_times_every_variant():
    module = runpy.run_path(str(ROOT / "benchmarks" / "throughput.py"))
    generator = module["dcgan_generator"](latent_dim=128, width=64)
    critic = module["dcgan_discriminator"](width=64)
    # By hand: the generator's dense layer and three 4x4 transposed convolutions (costed per
    # input position) and a 3x3 output convolution; the discriminator's seven convolutions
    # (per output position) and its logit.
    generator_macs = (
        128 * 8192 + 16 * 512 * 256 * 16 + 64 * 256 * 128 * 16 + 256 * 128 * 64 * 16 + 1024 * 64 * 3 * 9
    )
    critic_macs = (
        1024 * 3 * 64 * 9
        + 256 * 64 * 64 * 16
        + 256 * 64 * 128 * 9
        + 64 * 128 * 128 * 16
        + 64 * 128 * 256 * 9
        + 16 * 256 * 256 * 16
        + 16 * 256 * 512 * 9
        + 8192
    )
    assert module["multiply_adds"](generator) == generator_macs
    assert module["multiply_adds"](critic) == critic_macs
    result = module["measure"](2, 1, 1, None)
    assert set(result["median_seconds"]) == {
        "dgflow_tf predict",
        "dgflow_tf predict, mixed_bfloat16",
        "eager TF loop",
        "tf.function step loop",
        "floor (K x one fwd+bwd)",
    }
    assert result["gflop_per_sample_step"] == pytest.approx(4 * (generator_macs + critic_macs) / 1e9)
