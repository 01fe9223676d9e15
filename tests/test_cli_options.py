"""The CLI's shared option helpers (`dgflow_tf.cli.options`) at their edges."""

import io

import numpy as np
import pytest

from dgflow_tf import cli
from dgflow_tf.cli.files import check_output_directory
from dgflow_tf.zoo import hub_modules


def test_an_object_store_output_dir_is_never_checked_on_the_local_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # A local file whose name is the URL's scheme: read as a local path, ram://runs/out would be
    # "under a file".
    (tmp_path / "ram:").write_text("not a directory")
    check_output_directory("ram://runs/out")
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(NotADirectoryError, match=r"--output-dir file/out: .*file is a file, not a directory"):
        check_output_directory("file/out")
    with pytest.raises(FileExistsError, match=r"--output-dir file is an existing file"):
        check_output_directory("file")
    check_output_directory("new/deeper/out")  # nothing exists yet: fine


def _refine(argv, capsys):
    out = io.StringIO()
    code = cli.main(["refine", *[str(arg) for arg in argv]], out=out)
    return code, out.getvalue() + capsys.readouterr().err


def test_hub_batch_size_picks_the_generators_metagraph_too(tmp_path, capsys):
    weights = hub_modules.compare_gan_mlp_weights(latent_dim=3, image_shape=(2,), seed=0)
    only_four = hub_modules.save_compare_gan_mlp(tmp_path / "four", weights, batch_sizes=(4,))
    four_and_eight = hub_modules.save_compare_gan_mlp(tmp_path / "both", weights, batch_sizes=(4, 8))
    # The critic's module has bs8, the generator's does not: asked for 8, the generator's load must
    # fail (a generator left at its default would take its only MetaGraph, bs4, and run).
    argv = ["--generator", only_four, "--critic", four_and_eight, "--num-samples", 8, "--num-steps", 1]
    code, output = _refine([*argv, "--hub-batch-size", 8, "--output-dir", tmp_path / "out"], capsys)
    assert code != 0 and "no 'gen' MetaGraph for batch_size=8: ['bs4']" in output
    code, output = _refine([*argv, "--hub-batch-size", 4, "--output-dir", tmp_path / "out"], capsys)
    assert code == 0, output
    # And the other way round: the critic's module lacks the size.
    swapped = ["--generator", four_and_eight, "--critic", only_four, "--num-samples", 8, "--num-steps", 1]
    code, output = _refine([*swapped, "--hub-batch-size", 8, "--output-dir", tmp_path / "out2"], capsys)
    assert code != 0 and "no 'gen' MetaGraph for batch_size=8: ['bs4']" in output


def test_a_tf1_hub_modules_family_prior_and_labels_are_read_from_the_loaded_generator(tmp_path, capsys):
    # The TF1 Hub format with generator and discriminator signatures is compare_gan's model_N family,
    # whose z is uniform on [-1, 1] (adapters.hub.family_prior).
    module = hub_modules.save_conditional_sigmoid_gan(tmp_path / "module", tf1_hub_format=True)
    argv = ["--generator", module, "--num-samples", 12, "--output-dir", tmp_path / "out"]
    code, output = _refine(argv, capsys)
    assert code != 0 and "the generator is conditional: pass --labels LABELS.npy" in output
    np.save(tmp_path / "labels.npy", np.arange(12, dtype="int32") % 3)
    steps, step = 5, 0.01
    argv += ["--labels", tmp_path / "labels.npy", "--num-steps", steps, "--step-size", step]
    code, output = _refine([*argv, "--entropy-weight", 0], capsys)
    assert code == 0, output
    # g(z) = z and logit x w + b[label]: the KL drift is w, so the latents drawn were refined - K eta w,
    # and with no --latent-prior they come from the family's uniform prior (24 normal draws would all
    # fall in [-1, 1] with probability 0.68 ** 24, about 1e-4).
    drawn = np.load(tmp_path / "out" / "refined.npy") - steps * step * np.array(
        hub_modules.CONDITIONAL_SIGMOID_WEIGHT
    ).reshape(1, 2)
    assert drawn.shape == (12, 2) and np.all(np.abs(drawn) <= 1.0 + 1e-6)


def test_given_latents_names_the_flag_and_the_path_it_could_not_use(tmp_path):
    from argparse import Namespace

    from dgflow_tf.cli.files import given_latents

    missing = tmp_path / "missing.npy"
    with pytest.raises(FileNotFoundError) as caught:
        given_latents(Namespace(latents=str(missing), num_samples=None))
    assert str(caught.value) == f"--latents {missing}: no such file"
    text = tmp_path / "text.npy"
    text.write_text("not an array")
    with pytest.raises(ValueError) as caught:
        given_latents(Namespace(latents=str(text), num_samples=None))
    assert str(caught.value).startswith(f"--latents {text} is not a readable .npy array (")
    np.save(tmp_path / "z.npy", np.zeros((3, 2), "float32"))
    assert given_latents(Namespace(latents=str(tmp_path / "z.npy"), num_samples=3)).shape == (3, 2)
    assert given_latents(Namespace(latents=None, num_samples=3)) is None


def test_refine_draws_64_samples_unless_told_and_the_command_list_says_what_stream_does():
    parser = cli.build_parser()
    args = parser.parse_args(["refine", "--generator", "g.keras", "--critic", "c.keras"])
    assert args.num_samples is None and args.default_num_samples == 64
    refine_help = parser._subparsers._group_actions[0].choices["refine"].format_help()
    assert "(default: 64, or the rows of --latents)" in " ".join(refine_help.split())
    listing = " ".join(parser.format_help().split())
    stream = "stream refine any number of samples into checksummed .npy shards; rerun to resume after a kill"
    assert stream in listing


def test_the_first_line_states_the_auto_step_resolved_on_the_first_rows_of_the_inputs():
    # Data space without a generator: auto can only resolve on the inputs given, and only their first
    # PROBE_SIZE rows, so the step is the rule's closed form on those rows (d = -2 |x|^2: drift -4 x).
    import tensorflow as tf

    from dgflow_tf import RefinementModel, critics
    from dgflow_tf import step_size as step_size_lib
    from dgflow_tf.cli.options import describe_step_size

    critic = critics.get(lambda x: -2.0 * tf.reduce_sum(tf.square(x), axis=-1))
    model = RefinementModel(None, critic, space="data", num_steps=10, seed=0)
    samples = np.random.default_rng(0).normal(size=(300, 2)).astype("float32") * 4.0
    probe = samples[: step_size_lib.PROBE_SIZE].astype(np.float64)
    norms = 4.0 * np.linalg.norm(probe, axis=1) / np.sqrt(2.0)
    scale = np.sqrt(np.mean(np.var(probe, axis=0)))
    expected = step_size_lib.DATA_DISPLACEMENT * scale / (10 * np.percentile(norms, 90))
    assert expected < step_size_lib.TIME_CAP / 10  # the rule's own value, not the cap
    assert describe_step_size(model, samples) == f"{expected:.4g} (auto)"


def test_models_without_a_critic_or_a_generator_to_take_one_from_are_named_with_the_fix():
    # No command builds this today (each needs --generator), but load_models is the one place every
    # command's models come from, so it names the fix rather than failing on a None path.
    from argparse import Namespace

    from dgflow_tf.cli.options import load_models

    args = Namespace(generator=None, critic=None, critic_scale=1.0, critic_kind="logit")
    message = r"^pass --critic \(or --generator of a GAN module with a discriminator\)$"
    with pytest.raises(ValueError, match=message):
        load_models(args)
