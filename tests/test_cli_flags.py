"""Every flag of `dgflow-tf refine` that changes the samples, against the equivalent library call.

Each case runs the command with one flag changed from its default, recomputes the samples with
`RefinementModel` set up as the flag documents, and requires both that they match bit for bit and
that they differ from the default run, so a flag that is parsed and then dropped fails here.
"""

import io

import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import RefinementModel, cli, critics

NUM_SAMPLES, NUM_STEPS = 24, 4


def _run(folder, output, *flags):
    argv = ["refine", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
    argv += [
        "--num-samples",
        NUM_SAMPLES,
        "--num-steps",
        NUM_STEPS,
        "--output-dir",
        output,
        "--quiet",
        *flags,
    ]
    code = cli.main([str(arg) for arg in argv], out=io.StringIO())
    assert code == 0
    return np.load(output / "latents.npy"), np.load(output / "refined.npy")


# (flags, RefinementModel settings, how latents are drawn, predict's batch size, critic wrapper)
CASES = {
    "--divergence": (["--divergence", "JS"], {"divergence": "JS"}, {}, 64, None),
    "--step-size": (["--step-size", "0.03"], {"step_size": 0.03}, {}, 64, None),
    "--solver": (["--solver", "mala"], {"solver": "mala"}, {}, 64, None),
    "--step-schedule": (["--step-schedule", "linear"], {"step_schedule": "linear"}, {}, 64, None),
    "--noise-distribution": (
        ["--noise-distribution", "rademacher"],
        {"noise_distribution": "rademacher"},
        {},
        64,
        None,
    ),
    "--entropy-weight": (["--entropy-weight", "0"], {"entropy_weight": 0.0}, {}, 64, None),
    "--num-steps": (["--num-steps", "2"], {"num_steps": 2}, {}, 64, None),
    "--space": (["--space", "data"], {"space": "data"}, {}, 64, None),
    "--latent-prior": (["--latent-prior", "uniform"], {"latent_prior": "uniform"}, {}, 64, None),
    "--boundary": (
        ["--latent-prior", "uniform", "--boundary", "clip", "--step-size", "0.5"],
        {"latent_prior": "uniform", "boundary": "clip", "step_size": 0.5},
        {},
        64,
        None,
    ),
    "--seed": (["--seed", "9"], {"seed": 9}, {}, 64, None),
    "--latent-seed": (["--latent-seed", "4"], {}, {"seed": 4}, 64, None),
    "--batch-size": (["--batch-size", "5", "--step-size", "0.03"], {"step_size": 0.03}, {}, 5, None),
    "--critic-kind/--critic-scale": (
        ["--critic-kind", "wasserstein", "--critic-scale", "3"],
        {},
        {},
        64,
        lambda critic: critics.WassersteinCritic(critic, scale=3.0),
    ),
}


@pytest.fixture(scope="module")
def default_run(point_models, tmp_path_factory):
    folder, _, _ = point_models
    return _run(folder, tmp_path_factory.mktemp("default"))


def _marked(command, flags):
    """Parameters `flags`, each marked as the test of its `command` flags (benchmarks/cli_flags.py)."""
    return [pytest.param(flag, marks=pytest.mark.cli_flag(command, *flag.split("/"))) for flag in flags]


@pytest.mark.parametrize("flag", _marked("refine", sorted(CASES)))
def test_refine_flag_matches_the_library(flag, point_models, default_run, tmp_path):
    folder, generator, critic = point_models
    flags, settings, latent_draw, batch_size, wrap = CASES[flag]
    latents, refined = _run(folder, tmp_path, *flags)
    settings = {"num_steps": NUM_STEPS, "seed": 0, **settings}
    model = RefinementModel(generator, wrap(critic) if wrap else critic, **settings)
    expected_latents = model.sample_latents(NUM_SAMPLES, seed=latent_draw.get("seed", 0))
    np.testing.assert_array_equal(latents, expected_latents)
    np.testing.assert_array_equal(refined, model.predict(expected_latents, batch_size=batch_size, verbose=0))
    default_latents, default_refined = default_run
    assert not np.array_equal(refined, default_refined), f"{flag} did not change the samples"


@pytest.mark.cli_flag("refine", "--latents", "--num-samples")
def test_given_latents_and_sample_count(point_models, tmp_path):
    folder, generator, critic = point_models
    given = np.random.default_rng(3).normal(size=(9, 2)).astype("float32")
    np.save(tmp_path / "z.npy", given)
    argv = ["refine", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
    argv += [
        "--latents",
        tmp_path / "z.npy",
        "--num-steps",
        NUM_STEPS,
        "--output-dir",
        tmp_path / "o",
        "--quiet",
    ]
    assert cli.main([str(arg) for arg in argv], out=io.StringIO()) == 0
    model = RefinementModel(generator, critic, num_steps=NUM_STEPS, seed=0)
    np.testing.assert_array_equal(
        np.load(tmp_path / "o" / "refined.npy"), model.predict(given, batch_size=64, verbose=0)
    )
    latents, _ = _run(folder, tmp_path / "n", "--num-samples", "7")
    assert len(latents) == 7


def test_a_scale_without_a_wasserstein_critic_is_refused(point_models, tmp_path, capsys):
    folder, _, _ = point_models
    argv = ["refine", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
    argv += ["--critic-scale", "2", "--output-dir", tmp_path / "o", "--quiet"]
    assert cli.main([str(arg) for arg in argv], out=io.StringIO()) == 2
    assert (
        "--critic-scale scales a WGAN critic's scores: it needs --critic-kind wasserstein"
        in capsys.readouterr().err
    )


@pytest.mark.cli_flag("sweep", "--metric", "--reference")
@pytest.mark.parametrize(("metric", "pick"), [("ot", min), ("kde", max)])
def test_sweep_ranks_by_the_metrics_direction(metric, pick, point_models, tmp_path):
    # OT is a distance (lower is better), KDE a log-likelihood (higher is better): the reported best
    # must be the lowest OT and the highest KDE among the settings that ran.
    import json

    folder, _, _ = point_models
    reference = np.random.default_rng(8).normal(0.5, 0.3, size=(200, 2)).astype("float32")
    np.save(tmp_path / "reference.npy", reference)
    argv = ["sweep", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
    argv += ["--reference", tmp_path / "reference.npy", "--metric", metric, "--num-samples", 60]
    argv += ["--step-sizes", "0.003", "0.03", "0.3", "--num-steps-grid", "5", "--output-dir", tmp_path / "s"]
    out = io.StringIO()
    assert cli.main([str(arg) for arg in argv + ["--quiet"]], out=out) == 0
    rows = [
        row
        for row in json.loads((tmp_path / "s" / "sweep.json").read_text())["rows"]
        if row["status"] == "ok"
    ]
    scores = [row["score"] for row in rows]
    assert len(set(scores)) == len(scores) > 1  # distinct scores: the direction matters
    best = rows[scores.index(pick(scores))]
    assert f"Best: --step-size {best['step_size']:g} --num-steps {best['num_steps']}" in out.getvalue()


# Flags that change what export's SavedModel serves; --seed is an input of serve(z, seed), and the latent
# draw and batch size belong to the caller.
EXPORT_CASES = sorted(flag for flag in CASES if flag not in ("--seed", "--latent-seed", "--batch-size"))
# Inside the box of the uniform prior too.
EXPORT_LATENTS = np.random.default_rng(0).uniform(-0.9, 0.9, size=(NUM_SAMPLES, 2)).astype("float32")


def _export(folder, output, *flags):
    argv = ["export", "--generator", folder / "generator.keras", "--critic", folder / "critic.keras"]
    argv += ["--num-steps", NUM_STEPS, "--step-size", 0.05, *flags, "--output-dir", output / "saved"]
    assert cli.main([str(arg) for arg in argv], out=io.StringIO()) == 0
    loaded = tf.saved_model.load(str(output / "saved"))
    return loaded.serve(tf.constant(EXPORT_LATENTS), tf.constant(0, tf.int64)).numpy()


def _without(flags, flag):
    """`flags` less the flags named in `flag` (e.g. "--critic-kind/--critic-scale") and their values."""
    named = flag.split("/")
    kept = []
    for name, value in zip(flags[::2], flags[1::2], strict=True):
        kept += [] if name in named else [name, value]
    return kept


@pytest.mark.parametrize("flag", _marked("export", EXPORT_CASES))
def test_export_flag_matches_the_library(flag, point_models, tmp_path):
    folder, generator, critic = point_models
    flags, settings, _, _, wrap = CASES[flag]
    if flag == "--latent-prior":  # given latents: the prior matters where a step leaves its box
        flags, settings = [*flags, "--step-size", "0.5"], {**settings, "step_size": 0.5}
    served = _export(folder, tmp_path / "with", *flags)
    settings = {"num_steps": NUM_STEPS, "seed": 0, "step_size": 0.05, **settings}
    model = RefinementModel(generator, wrap(critic) if wrap else critic, **settings)
    np.testing.assert_allclose(served, model.predict(EXPORT_LATENTS, verbose=0), rtol=1e-5, atol=1e-6)
    without = _export(folder, tmp_path / "without", *_without(flags, flag))
    assert not np.allclose(served, without), f"{flag} did not change the SavedModel"
