"""Flags of `dgflow-tf demo` and `gaussian-demo`, against the library calls they document.

Each case changes a flag and requires the command's output to equal the library's and to change, so
a flag that is parsed and dropped fails; flags of the 2-D demo given with `--data mnist` (where they
would do nothing) are refused.
"""

import io

import numpy as np
import pytest

from dgflow_tf import RefinementModel, cli
from dgflow_tf.experiments import synthetic
from dgflow_tf.zoo import toy_gans
from dgflow_tf.zoo.gaussian import GaussianPair, gaussian_kl

SMALL = [
    "--datasets",
    "25gaussians",
    "--methods",
    "base",
    "DGflow-KL-latent",
    "--num-samples",
    "120",
    "--quiet",
]


def _demo(tmp_path, *flags):
    out = io.StringIO()
    code = cli.main(["demo", *SMALL, *map(str, flags), "--output-dir", str(tmp_path)], out=out)
    assert code == 0, out.getvalue()
    return np.load(tmp_path / "wgan-gp-25gaussians-samples.npy"), out.getvalue()


def _library(seed, gan_seed=0, directory=None):
    generator, critic = toy_gans.load_toy_gan("25gaussians", "wgan-gp", seed=gan_seed, directory=directory)
    _, samples = synthetic.compare(
        generator,
        critic,
        "25gaussians",
        gan="wgan-gp",
        num_samples=120,
        seed=seed,
        methods=["base", "DGflow-KL-latent"],
    )
    return np.stack(list(samples.values()))


@pytest.mark.cli_flag("demo", "--datasets", "--methods", "--seed", "--num-samples", "--output-dir", "--quiet")
def test_demo_datasets_methods_and_seed_match_the_library(tmp_path):
    samples, text = _demo(tmp_path / "a", "--seed", 3)
    np.testing.assert_allclose(samples, _library(seed=3), rtol=1e-6, atol=1e-6)
    assert "on 25gaussians" in text and "on swissroll" not in text
    assert text.count("| DGflow-KL-latent |") == 1 and "| DOT |" not in text
    assert "G/D evals: generator/critic forward passes per kept sample" in text  # the legend
    assert "Rows without '-latent' refine in data space." in text
    other, _ = _demo(tmp_path / "b", "--seed", 4)
    assert not np.allclose(other, samples), "--seed did not change the samples"


@pytest.mark.cli_flag("demo", "--weights-dir", "--gan-seed", "--train")
def test_demo_trains_missing_weights_into_weights_dir_only_when_asked(tmp_path, monkeypatch, capsys):
    trained = []

    def train(dataset, loss, seed=0, verbose=0):  # the shipped GAN stands in for a fresh training run
        trained.append((dataset, loss, seed))
        generator, critic = toy_gans.load_toy_gan(dataset, loss, seed=0)
        return generator, critic, None

    monkeypatch.setattr(toy_gans, "train_toy_gan", train)
    weights = tmp_path / "weights"
    flags = ["--weights-dir", weights, "--gan-seed", 7]
    argv = ["demo", *SMALL, *map(str, flags), "--output-dir", str(tmp_path / "no")]
    assert cli.main(argv, out=io.StringIO()) != 0  # missing, and --train not given
    assert str(weights) in capsys.readouterr().err and not trained
    samples, _ = _demo(tmp_path / "train", *flags, "--train")
    assert trained == [("25gaussians", "wgan-gp", 7)]
    np.testing.assert_allclose(samples, _library(seed=0), rtol=1e-6, atol=1e-6)
    # Saved under --weights-dir for seed 7: a second run loads them, training nothing.
    again, _ = _demo(tmp_path / "again", *flags)
    assert len(trained) == 1
    np.testing.assert_allclose(
        again, _library(seed=0, gan_seed=7, directory=str(weights)), rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize(
    "flags",
    [
        ["--gans", "nsgan"],
        ["--datasets", "swissroll"],
        ["--methods", "DOT"],
        ["--gan-seed", "1"],
        ["--mh-chain-length", "5"],
        ["--weights-dir", "w"],
        ["--train"],
    ],
)
def test_two_d_flags_are_refused_with_data_mnist(flags, capsys):
    assert cli.main(["demo", "--data", "mnist", *flags], out=io.StringIO()) == 2
    assert f"{flags[0]} applies to the 2-D demo" in capsys.readouterr().err


def test_mnist_models_is_refused_without_data_mnist(capsys):
    assert cli.main(["demo", "--mnist-models", "dcgan"], out=io.StringIO()) == 2
    assert "--mnist-models applies to --data mnist" in capsys.readouterr().err


def _gaussian_demo(*flags):
    out = io.StringIO()
    assert cli.main(["gaussian-demo", "--num-samples", "400", *map(str, flags)], out=out) == 0
    row = next(line for line in out.getvalue().splitlines() if line.startswith("DGflow-KL "))
    return float(row.split("]")[-1].split()[0])  # KL(fit || data)


GAUSSIAN_CASES = {
    "--num-steps": (["--num-steps", "40"], {"num_steps": 40}),
    "--step-size": (["--step-size", "0.03"], {"step_size": 0.03}),
    "--entropy-weight": (["--entropy-weight", "0.3"], {"entropy_weight": 0.3}),
    "--seed": (["--seed", "5"], {"seed": 5}),
    "--num-samples": (["--num-samples", "300"], {"num_samples": 300}),
}


@pytest.mark.parametrize(
    "flag", [pytest.param(flag, marks=pytest.mark.cli_flag("gaussian-demo", flag)) for flag in GAUSSIAN_CASES]
)
def test_gaussian_demo_flag_matches_the_library(flag):
    flags, change = GAUSSIAN_CASES[flag]
    settings = {"num_steps": 25, "step_size": 0.01, "entropy_weight": 0.01, "seed": 0, "num_samples": 400}
    settings.update(change)
    pair = GaussianPair(
        data_mean=[1.0, -0.5], data_std=[0.5, 0.7], model_mean=[0.0, 0.0], model_std=[1.0, 1.0]
    )
    latents = pair.sample_latents(settings.pop("num_samples"), seed=settings["seed"])
    refined = RefinementModel(pair.generator, pair.log_ratio, **settings).predict(
        latents, batch_size=500, verbose=0
    )
    expected = gaussian_kl(refined.mean(axis=0), refined.std(axis=0), pair.data_mean, pair.data_std)
    got = _gaussian_demo(*flags)
    assert got == pytest.approx(expected, abs=1e-4)  # printed with 4 decimals
    assert got != _gaussian_demo(), f"{flag} did not change the result"


@pytest.mark.cli_flag("gaussian-demo", "--batch-size")
def test_gaussian_demo_refines_in_batches_of_batch_size(monkeypatch):
    seen = []
    predict = RefinementModel.predict

    def spy(self, x, batch_size=None, **kwargs):
        seen.append(batch_size)
        return predict(self, x, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(RefinementModel, "predict", spy)
    _gaussian_demo("--batch-size", "70")
    assert seen == [70] * 4  # one run per divergence
