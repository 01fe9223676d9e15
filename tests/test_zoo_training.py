"""The MNIST trainers and their commands on a few hundred real images: seeded, recorded, reloadable.

Training on all 70,000 images takes minutes to an hour (the slow tests and the benchmarks do it);
here `datasets.mnist` is narrowed to the first images of each split, so each trainer runs an epoch
or a few in seconds and what it records can be checked against the model it returns.
"""

import json
import re

import numpy as np
import pytest

from dgflow_tf import datasets
from dgflow_tf.zoo import digits_classifier, mnist_classifier, mnist_models, toy_gans

# The trainers write the package's own weights by default: none of these tests may.
pytestmark = pytest.mark.usefixtures("package_weights_untouched")

TRAIN_IMAGES, TEST_IMAGES = 512, 200


@pytest.fixture(scope="module")
def first_of_each_split(mnist_dir):
    counts = {"train": TRAIN_IMAGES, "test": TEST_IMAGES}
    return {
        split: tuple(array[:count] for array in datasets.mnist(split, mnist_dir, return_labels=True))
        for split, count in counts.items()
    }


@pytest.fixture
def few_images(first_of_each_split, monkeypatch):
    """`datasets.mnist` cut to the first images of each split; the folders it was asked for are kept."""
    asked = []

    def first_images(split="train", path=None, return_labels=False, **kwargs):
        asked.append(path)
        images, labels = first_of_each_split[split]
        return (images, labels) if return_labels else images

    monkeypatch.setattr(datasets, "mnist", first_images)
    return asked


def _weights(model):
    return np.concatenate([w.ravel() for w in model.get_weights()])


def test_classifier_trainer_is_seeded_and_records_what_it_did(few_images):
    model, info = mnist_classifier.train_mnist_classifier(seed=1, epochs=3, batch_size=64, data_path="here")
    again, _ = mnist_classifier.train_mnist_classifier(seed=1, epochs=3, batch_size=64)
    other, _ = mnist_classifier.train_mnist_classifier(seed=2, epochs=3, batch_size=64)
    np.testing.assert_allclose(_weights(again), _weights(model), atol=1e-6)
    assert np.max(np.abs(_weights(other) - _weights(model))) > 1e-2
    assert few_images[:2] == ["here", "here"]  # both splits from the folder given
    test_x, test_y = datasets.mnist("test", return_labels=True)
    accuracy = np.mean(np.argmax(np.asarray(model(test_x)), axis=1) == test_y)
    assert accuracy > 0.4  # chance is 0.1: images, labels and loss are wired together
    seconds = info.pop("train_seconds")
    assert 0 <= seconds < 600
    assert info == {
        "seed": 1,
        "epochs": 3,
        "batch_size": 64,
        "test_accuracy": pytest.approx(accuracy),
        "num_train": TRAIN_IMAGES,
        "num_test": TEST_IMAGES,
        "command": "python -m dgflow_tf.zoo.mnist_classifier --seed 1 --epochs 3",
    }


def test_classifier_command_halves_the_learning_rate_after_the_third_epoch_and_saves_all(
    few_images, tmp_path, capsys
):
    weights, statistics = str(tmp_path / "c.weights.h5"), str(tmp_path / "s.npz")
    argv = [
        "--seed",
        "4",
        "--epochs",
        "5",
        "--data",
        "there",
        "--output",
        weights,
        "--statistics",
        statistics,
    ]
    mnist_classifier.main(argv)
    out = capsys.readouterr().out
    # Keras logs each epoch's rate: 1e-3 for three epochs, then halved each epoch.
    rates = [float(rate) for rate in re.findall(r"learning_rate: ([0-9.e+-]+)", out)]
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 1e-3, 5e-4, 2.5e-4], rtol=1e-4)
    # Batches of 128 (the default): 4 steps an epoch over 512 images.
    assert re.findall(r"^(\d+)/\1 ", out, flags=re.M) == ["4"] * 5
    model, info = mnist_classifier.load_mnist_classifier(weights)
    assert json.loads(out[out.index("{\n") :]) == info and info["seed"] == 4 and info["epochs"] == 5
    assert set(few_images) == {"there"}
    test_x, test_y = datasets.mnist("test", return_labels=True)
    predictions = np.argmax(np.asarray(model(test_x)), axis=1)
    assert np.mean(predictions == test_y) == pytest.approx(info["test_accuracy"])
    # The statistics are the saved classifier's features of the test images, computed afresh.
    features, logits = mnist_classifier.mnist_extractor(weights)(test_x)
    saved = mnist_classifier.load_test_statistics(statistics)
    np.testing.assert_allclose(saved["mean"], features.mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(saved["covariance"], np.cov(features.T), rtol=1e-3, atol=1e-5)
    np.testing.assert_array_equal(saved["predicted_labels"], np.argmax(logits, axis=1))


@pytest.mark.parametrize("name", ["dcgan", "wgan-gp"])
def test_gan_command_trains_from_its_seed_and_saves_what_it_prints(name, few_images, tmp_path, capsys):
    mnist_models.main(
        ["--name", name, "--seed", "3", "--epochs", "1", "--data", "x", "--output", str(tmp_path)]
    )
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("{")
    printed, weights_path = json.loads("\n".join(lines[start:])), lines[start - 1]
    assert weights_path == str(tmp_path / f"mnist-{name}-seed3.weights.h5")
    model = mnist_models.load_mnist_model(name, 3, str(tmp_path))
    assert model.info == printed and few_images == ["x"]
    assert printed["command"] == f"python -m dgflow_tf.zoo.mnist_models --name {name} --seed 3 --epochs 1"
    assert {key: printed[key] for key in ("name", "seed", "epochs")} == {"name": name, "seed": 3, "epochs": 1}
    # `final` holds the last value of each loss Keras logged; the GAN draws its latents from the seed.
    assert set(printed["final"]) == {"generator_loss", "discriminator_loss"}
    assert all(np.isfinite(value) for value in printed["final"].values())
    assert model.trainer.seed == 3
    again = mnist_models.train_mnist_model(name, 3, epochs=1)
    np.testing.assert_allclose(_weights(again.generator), _weights(model.generator), atol=1e-6)
    assert again.info["command"] == printed["command"]


def test_bad_training_settings_name_the_argument(few_images):
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        mnist_classifier.train_mnist_classifier(batch_size=0)
    with pytest.raises(ValueError, match="`epochs` must be a positive integer"):
        mnist_models.train_mnist_model("dcgan", epochs=0)
    assert few_images == []  # refused before any image was read


@pytest.mark.parametrize(
    "main, words",
    [
        (
            mnist_classifier.main,
            ["Train the MNIST classifier", "folder of MNIST's IDX files", "training epochs"],
        ),
        (mnist_models.main, ["Train an MNIST reference model from a seed", "folder of MNIST's IDX files"]),
    ],
)
def test_training_commands_explain_themselves(main, words, capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(word in text for word in words)


@pytest.mark.parametrize(
    "main, argv, flag, words",
    [
        (mnist_classifier.main, ["--epochs", "0"], "--epochs", "must be a positive integer, got 0"),
        (mnist_classifier.main, ["--seed", "-1"], "--seed", "must be an integer >= 0, got -1"),
        (digits_classifier.main, ["--epochs", "0"], "--epochs", "must be a positive integer, got 0"),
        (digits_classifier.main, ["--seed", "-2"], "--seed", "must be an integer >= 0, got -2"),
        (mnist_models.main, ["--name", "dcgan", "--epochs", "0"], "--epochs", "must be a positive integer"),
        (mnist_models.main, ["--name", "vae", "--seed", "-1"], "--seed", "must be an integer >= 0"),
        (toy_gans.main, ["--steps", "0", "--output", "unused"], "--steps", "must be a positive integer"),
        (toy_gans.main, ["--seed", "-1", "--output", "unused"], "--seed", "must be an integer >= 0"),
    ],
)
def test_training_commands_refuse_bad_numbers_with_a_usage_error(main, argv, flag, words, few_images, capsys):
    # A usage error (exit 2, the flag named), not a traceback from inside the trainer.
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert f"argument {flag}: {words}" in capsys.readouterr().err
    assert few_images == []  # refused before any image was read


def test_shift_augmentation_moves_images_by_at_most_two_pixels_and_fills_with_the_background():
    # White squares in the middle: a shift of s pixels moves their edge by s, and what enters from the
    # border is the background, -1 (a fill of +1 or -2 would show up as values outside the images).
    images = -np.ones((64, 28, 28, 1), np.float32)
    images[:, 8:20, 8:20] = 1.0
    border = np.ones((64, 28, 28, 1), np.float32)
    shift = mnist_classifier.shift_augmentation(seed=3)
    moved = np.asarray(shift(images, training=True))
    np.testing.assert_array_equal(np.asarray(shift(images, training=False)), images)
    assert moved.min() >= -1.0 and moved.max() <= 1.0
    bright_rows = np.nonzero(moved[:, :, :, 0].max(axis=2) > 0.5)
    first_rows = np.array([bright_rows[1][bright_rows[0] == i].min() for i in range(64)])
    assert set(first_rows) <= set(range(6, 11)) and len(set(first_rows)) > 1  # 8 +- 2, and not all alike
    filled = np.asarray(mnist_classifier.shift_augmentation(seed=3)(border, training=True))
    assert np.any(filled == -1.0) and filled.min() >= -1.0  # the border enters as the background
    again = np.asarray(mnist_classifier.shift_augmentation(seed=3)(images, training=True))
    np.testing.assert_array_equal(again, moved)  # seeded
    assert not np.array_equal(
        np.asarray(mnist_classifier.shift_augmentation(seed=4)(images, training=True)), moved
    )


def test_classifier_has_its_documented_name_and_a_missing_file_names_the_command(tmp_path):
    assert mnist_classifier.build_mnist_classifier().name == "mnist_classifier"
    with pytest.raises(FileNotFoundError, match=r"python -m dgflow_tf\.zoo\.mnist_classifier --output PATH"):
        mnist_classifier.load_mnist_classifier(str(tmp_path / "none.weights.h5"))


def test_train_or_load_trains_once_saves_into_the_folder_then_reads_back(few_images, tmp_path, monkeypatch):
    calls = []
    real = mnist_models.train_mnist_model

    def one_epoch(name, seed, epochs=None, data_path=None, verbose=0):
        calls.append((name, seed, data_path))
        return real(name, seed, 1, data_path, verbose=verbose)

    monkeypatch.setattr(mnist_models, "train_mnist_model", one_epoch)
    first = mnist_models.train_or_load("dcgan", 5, str(tmp_path), data_path="d")
    assert calls == [("dcgan", 5, "d")]
    assert (tmp_path / "mnist-dcgan-seed5.weights.h5").exists()
    again = mnist_models.train_or_load("dcgan", 5, str(tmp_path), data_path="d")
    assert len(calls) == 1  # read back, not trained again
    np.testing.assert_array_equal(_weights(again.generator), _weights(first.generator))
    assert again.info == first.info
    mnist_models.train_or_load("dcgan", 6)  # no folder: trained, nothing written
    assert calls[-1] == ("dcgan", 6, None) and sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["mnist-dcgan-seed5.weights.h5", "mnist-dcgan-seed5.json"]
    )


def test_gan_training_records_its_time_to_a_tenth_of_a_second_and_prints_nothing(few_images, capsys):
    info = mnist_models.train_mnist_model("dcgan", 0, epochs=1).info
    assert capsys.readouterr().out == ""  # verbose=0 by default: no Keras progress bar
    assert isinstance(info["train_seconds"], float) and 0 < info["train_seconds"] < 600
    assert info["train_seconds"] == round(info["train_seconds"], 1)
