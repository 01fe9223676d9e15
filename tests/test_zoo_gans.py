"""MLP GANs and their trainers: reproducible from a seed, the gradient penalty in closed form."""

import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import datasets
from dgflow_tf.metrics import high_quality_fraction, modes_covered
from dgflow_tf.zoo import gan_training, mlp, toy_gans

SMALL = {"steps": 60, "num_data": 2000, "width": 32, "batch_size": 64, "verbose": 0}


@pytest.mark.parametrize("loss", toy_gans.LOSSES)
def test_training_is_a_function_of_the_seed(loss):
    first = toy_gans.train_toy_gan("swissroll", loss, seed=3, **SMALL)
    again = toy_gans.train_toy_gan("swissroll", loss, seed=3, **SMALL)
    other = toy_gans.train_toy_gan("swissroll", loss, seed=4, **SMALL)
    for index in (0, 1):
        assert toy_gans.weights_digest(first[index]) == toy_gans.weights_digest(again[index])
        assert toy_gans.weights_digest(first[index]) != toy_gans.weights_digest(other[index])
    history = first[2].history
    assert all(np.isfinite(history["discriminator_loss"]))


def test_gradient_penalty_of_a_linear_critic():
    # d(x) = w.x has gradient w everywhere, so the penalty is (||w|| - 1)^2 at any interpolate.
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    critic.set_weights([np.array([[3.0], [4.0]], "float32"), np.zeros(1, "float32")])
    trainer = gan_training.WGANGP(mlp.mlp_generator(width=8), critic, seed=0)
    real = tf.constant(np.random.default_rng(0).normal(size=(16, 2)), tf.float32)
    fake = tf.constant(np.random.default_rng(1).normal(size=(16, 2)), tf.float32)
    assert float(trainer.gradient_penalty(real, fake)) == pytest.approx((5.0 - 1.0) ** 2, rel=1e-5)


def test_wgan_gp_critic_loss_at_the_toy_penalty_weight():
    # d(x) = w.x + b: loss = mean(w.fake) - mean(w.real) + lambda * (||w|| - 1)^2 with lambda = 0.1,
    # the toy protocol's weight (toy_gans.DEFAULTS), computed by hand in NumPy.
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    w = np.array([[0.6], [-1.2]], "float32")
    critic.set_weights([w, np.array([0.25], "float32")])
    weight = toy_gans.DEFAULTS["wgan-gp"]["gradient_penalty_weight"]
    assert weight == 0.1
    trainer = gan_training.WGANGP(mlp.mlp_generator(width=8), critic, gradient_penalty_weight=weight, seed=0)
    rng = np.random.default_rng(5)
    real, fake = (
        rng.normal(size=(32, 2)).astype("float32"),
        rng.normal(1.0, 2.0, size=(32, 2)).astype("float32"),
    )
    expected = (fake @ w).mean() - (real @ w).mean() + weight * (np.linalg.norm(w) - 1.0) ** 2
    loss = trainer.critic_loss(tf.constant(real), tf.constant(fake))
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_toy_settings_follow_the_wgan_gp_authors_toy_protocol():
    settings = toy_gans.settings_for("wgan-gp")
    assert (settings["width"], settings["depth"], settings["latent_dim"]) == (512, 3, 2)
    assert (settings["gradient_penalty_weight"], settings["critic_steps"], settings["batch_size"]) == (
        0.1,
        5,
        256,
    )
    assert toy_gans.settings_for("wgan-gp", steps=100)["steps"] == 100
    with pytest.raises(
        ValueError, match="`gradient_penalty_weight` is not a training setting of loss='nsgan'"
    ):
        toy_gans.settings_for("nsgan", gradient_penalty_weight=1.0)
    with pytest.raises(ValueError, match="Unknown loss"):
        toy_gans.settings_for("hinge")


def test_wgan_gp_trainer_defaults_are_gulrajani_et_als():
    # Gulrajani et al. (2017), Algorithm 1: lambda = 10 and n_critic = 5.
    trainer = gan_training.WGANGP(mlp.mlp_generator(width=8), mlp.mlp_discriminator(width=8))
    assert (trainer.gradient_penalty_weight, trainer.critic_steps) == (10.0, 5)


def test_train_toy_gan_builds_the_loss_defaults():
    generator, critic, history = toy_gans.train_toy_gan(
        "25gaussians", "wgan-gp", seed=0, steps=10, num_data=512, batch_size=64, verbose=0
    )
    assert [layer.units for layer in critic.layers if hasattr(layer, "units")] == [512, 512, 512, 1]
    assert len(history.history["discriminator_loss"]) == 10


def test_wgan_gp_updates_the_generator_every_critic_steps():
    trainer = gan_training.WGANGP(mlp.mlp_generator(width=8), mlp.mlp_discriminator(width=8), critic_steps=5)
    trainer.compile()
    data = datasets.twenty_five_gaussians(64 * 10, seed=0)
    trainer.fit(data, batch_size=64, epochs=1, verbose=0, shuffle=False)
    assert int(trainer.discriminator_optimizer.iterations) == 10
    assert int(trainer.generator_optimizer.iterations) == 2


def test_trainer_rejects_non_keras_models():
    with pytest.raises(TypeError, match="`generator` must be a keras.Model"):
        gan_training.NonSaturatingGAN(lambda z: z, mlp.mlp_discriminator())
    with pytest.raises(ValueError, match="critic_steps"):
        gan_training.WGANGP(mlp.mlp_generator(), mlp.mlp_discriminator(), critic_steps=0)


def test_shipped_wgan_gp_covers_every_mode_with_many_samples_between_them():
    # The regime of the paper's Table 1: all 25 modes, but few samples within 4 std of one.
    generator, critic = toy_gans.load_toy_gan("25gaussians", "wgan-gp")
    z = np.random.default_rng(0).normal(size=(2000, 2)).astype("float32")
    samples = generator.predict(z, verbose=0)
    modes, std = datasets.TWENTY_FIVE_GAUSSIANS_MODES, datasets.TWENTY_FIVE_GAUSSIANS_STD
    assert modes_covered(samples, modes, std) == 25
    assert high_quality_fraction(samples, modes, std) < 0.5
    assert critic(samples[:5]).shape == (5, 1)


def test_shipped_weights_load_and_are_good():
    generator, discriminator = toy_gans.load_toy_gan("25gaussians")
    z = np.random.default_rng(0).normal(size=(2000, 2)).astype("float32")
    samples = generator.predict(z, verbose=0)
    fraction = high_quality_fraction(
        samples, datasets.TWENTY_FIVE_GAUSSIANS_MODES, datasets.TWENTY_FIVE_GAUSSIANS_STD
    )
    assert fraction > 0.8
    assert discriminator(samples[:5]).shape == (5, 1)


def test_missing_weights_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        toy_gans.load_toy_gan("swissroll", directory=str(tmp_path))
    with pytest.raises(ValueError, match="Unknown loss"):
        toy_gans.load_toy_gan("swissroll", loss="hinge")


@pytest.mark.slow
@pytest.mark.parametrize("loss", toy_gans.LOSSES)
@pytest.mark.parametrize("dataset", datasets.names())
def test_trainer_reproduces_shipped_weights(dataset, loss):
    # A global seed set by someone else (here, as by keras.utils.set_random_seed) must not change
    # the data order: training is a function of its own arguments.
    previous = tf.compat.v1.get_seed(None)[0]
    tf.random.set_seed(123)
    try:
        generator, discriminator, _ = toy_gans.train_toy_gan(dataset, loss, seed=0, verbose=0)
        assert tf.compat.v1.get_seed(None)[0] == 123  # the caller's global seed is restored
    finally:
        tf.random.set_seed(previous)
    shipped_generator, shipped_discriminator = toy_gans.load_toy_gan(dataset, loss)
    # Bit for bit on the kind of CPU that trained them (AVX-512 and AVX2 kernels round
    # differently, and a GAN's training amplifies that); elsewhere the same quality.
    recorded = toy_gans.training_info(dataset, loss)
    if recorded.get("generator_digest") and recorded.get("cpu_kind") == toy_gans.cpu_kind():
        assert toy_gans.weights_digest(generator) == recorded["generator_digest"]
        assert toy_gans.weights_digest(discriminator) == recorded["discriminator_digest"]
    z = np.random.default_rng(0).normal(size=(2000, 2)).astype("float32")
    ours, shipped = generator.predict(z, verbose=0), shipped_generator.predict(z, verbose=0)
    reference = datasets.load(dataset, 2000, seed=1)
    from dgflow_tf.metrics import ot_distance

    assert ot_distance(ours, reference) == pytest.approx(ot_distance(shipped, reference), abs=0.1)


def test_saved_settings_name_the_run_its_digests_and_this_cpus_simd_flags(tmp_path):
    generator, discriminator = mlp.mlp_generator(width=8), mlp.mlp_discriminator(width=8)
    settings = {"steps": 7, "learning_rate": 0.5}
    paths = toy_gans.save_toy_gan(
        generator, discriminator, str(tmp_path), "swissroll", "wgan-gp", 5, settings
    )
    assert all(os.path.exists(path) for path in paths)
    info = toy_gans.training_info("swissroll", "wgan-gp", 5, directory=str(tmp_path))
    assert {key: info[key] for key in ("dataset", "loss", "seed", "steps", "learning_rate")} == {
        "dataset": "swissroll",
        "loss": "wgan-gp",
        "seed": 5,
        "steps": 7,
        "learning_rate": 0.5,
    }
    assert info["generator_digest"] == toy_gans.weights_digest(generator)
    assert info["discriminator_digest"] == toy_gans.weights_digest(discriminator)
    # The SIMD flags, read here from /proc/cpuinfo independently.
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = set(re.search(r"^flags\s*:(.*)$", handle.read(), re.MULTILINE).group(1).split())
        assert info["cpu_kind"].split() == sorted(f for f in flags if re.match("(avx|amx|fma)", f))


def test_weights_directory_is_packaged():
    assert os.path.isdir(toy_gans.WEIGHTS_DIRECTORY)


class _RecordsTraining(keras.layers.Layer):
    """The identity, noting the `training` flag of every call (when traced, once per graph)."""

    def __init__(self):
        super().__init__()
        self.flags = []

    def call(self, inputs, training=None):
        self.flags.append(training)
        return inputs


def test_the_mmd_gan_step_runs_its_critic_in_training_mode_on_real_and_generated_batches():
    # A critic with dropout or batch norm must see both batches as training batches, or the MMD
    # would compare features of two different networks.
    recorder = _RecordsTraining()
    critic = keras.Sequential([keras.Input((2,)), recorder, keras.layers.Dense(3)])
    recorder.flags.clear()  # the symbolic call that built the model
    trainer = gan_training.MMDGAN(mlp.mlp_generator(width=8), critic, seed=0)
    trainer.compile()
    real = np.random.default_rng(0).normal(size=(16, 2)).astype("float32")
    trainer.fit(real, batch_size=8, epochs=1, steps_per_epoch=1, verbose=0)
    assert len(recorder.flags) >= 4 and all(flag is True for flag in recorder.flags)


def test_toy_gan_command_saves_weights_that_reload_to_the_digest_it_prints(tmp_path, capsys):
    argv = ["--dataset", "swissroll", "--loss", "wgan-gp", "--seed", "2", "--steps", "5"]
    toy_gans.main([*argv, "--output", str(tmp_path)])
    words = capsys.readouterr().out.splitlines()[-1].split()  # after Keras's progress bar
    assert words[0] == "wrote" and words[-3:-1] == ["generator", "digest"]
    generator_path, discriminator_path, info_path = words[1:4]
    assert all(os.path.dirname(path) == str(tmp_path) for path in words[1:4])
    assert os.path.basename(info_path) == "swissroll-wgan-gp-seed2.json"
    info = toy_gans.training_info("swissroll", "wgan-gp", 2, str(tmp_path))
    assert info == {
        **toy_gans.DEFAULTS["wgan-gp"],
        "steps": 5,
        "dataset": "swissroll",
        "loss": "wgan-gp",
        "seed": 2,
        "generator_digest": words[-1],
        "discriminator_digest": info["discriminator_digest"],
        "cpu_kind": toy_gans.cpu_kind(),
    }
    generator, discriminator = toy_gans.load_toy_gan("swissroll", "wgan-gp", 2, str(tmp_path))
    assert toy_gans.weights_digest(generator) == words[-1]
    assert toy_gans.weights_digest(discriminator) == info["discriminator_digest"]
    # The command trains exactly what the library call with the same seed and steps trains.
    retrained = toy_gans.train_toy_gan("swissroll", "wgan-gp", seed=2, steps=5)
    assert toy_gans.weights_digest(retrained[0]) == words[-1]


def test_toy_gan_trainer_applies_the_penalty_weight_it_is_given():
    small = {**SMALL, "steps": 10}
    digests = {
        weight: toy_gans.weights_digest(
            toy_gans.train_toy_gan("swissroll", "wgan-gp", seed=1, gradient_penalty_weight=weight, **small)[1]
        )
        for weight in (0.1, 10.0)
    }
    assert digests[0.1] != digests[10.0]


def test_mlp_initial_weights_are_keyed_by_seed_on_streams_apart_for_the_two_networks():
    # The generator of seed s initialises layer l from GlorotUniform(s + l); the discriminator from
    # s + 1000 + l, so that a GAN's two networks never start from the same draws (the shipped toy
    # GANs were trained from these).
    glorot = keras.initializers.GlorotUniform
    generator = mlp.mlp_generator(latent_dim=3, data_dim=2, width=8, depth=2, seed=5)
    discriminator = mlp.mlp_discriminator(data_dim=2, width=8, depth=2, seed=5)
    np.testing.assert_array_equal(generator.get_weights()[0], glorot(seed=5)((3, 8)))
    np.testing.assert_array_equal(generator.get_weights()[4], glorot(seed=7)((8, 2)))
    np.testing.assert_array_equal(discriminator.get_weights()[0], glorot(seed=1005)((2, 8)))
    np.testing.assert_array_equal(discriminator.get_weights()[2], glorot(seed=1006)((8, 8)))
    default = mlp.mlp_discriminator(width=8, depth=1).get_weights()[0]
    np.testing.assert_array_equal(default, glorot(seed=1000)((2, 8)))  # seed defaults to 0
    # The documented default shape: three hidden layers of 256 units.
    for build in (mlp.mlp_generator, mlp.mlp_discriminator):
        assert [layer.units for layer in build().layers[1:-1]] == [256, 256, 256]


@pytest.mark.parametrize("build", [mlp.mlp_generator, mlp.mlp_discriminator])
def test_mlp_layers_have_the_documented_names(build):
    model = build(width=4, depth=2)
    assert model.name == build.__name__
    assert [layer.name for layer in model.layers] == ["inputs", "dense_0", "dense_1", "output"]
    assert model.get_layer("output").units == (1 if build is mlp.mlp_discriminator else 2)


@pytest.mark.parametrize(
    "build, argument, value",
    [
        (mlp.mlp_generator, "width", 0),
        (mlp.mlp_generator, "depth", 0),
        (mlp.mlp_generator, "latent_dim", -1),
        (mlp.mlp_discriminator, "data_dim", 0),
        (mlp.mlp_discriminator, "seed", -1),
        (mlp.mlp_generator, "seed", -1),
    ],
)
def test_mlp_bad_sizes_name_the_argument(build, argument, value):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        build(**{argument: value})


def test_toy_gan_command_names_itself_and_lists_the_data_sets(tmp_path, capsys):
    with pytest.raises(SystemExit):
        toy_gans.main(["--dataset", "moons", "--output", str(tmp_path)])
    error = capsys.readouterr().err
    assert error.startswith("usage: python -m dgflow_tf.zoo.toy_gans")
    assert "argument --dataset: invalid choice: 'moons'" in error
    assert all(name in error for name in datasets.names())


def test_a_saved_toy_gan_of_other_sizes_loads_back_at_its_recorded_sizes(tmp_path):
    # A GAN saved with its settings reloads at those sizes (the depth and width in its JSON), not the
    # loss's defaults: a depth-1 generator's weights do not fit a depth-3 one.
    settings = toy_gans.settings_for("nsgan", width=8, depth=1, latent_dim=3)
    generator = mlp.mlp_generator(3, width=8, depth=1, seed=4)
    discriminator = mlp.mlp_discriminator(width=8, depth=1, seed=4)
    toy_gans.save_toy_gan(generator, discriminator, str(tmp_path), "25gaussians", "nsgan", 4, settings)
    loaded_generator, loaded_discriminator = toy_gans.load_toy_gan("25gaussians", "nsgan", 4, str(tmp_path))
    assert [layer.units for layer in loaded_generator.layers[1:]] == [8, 2]
    assert loaded_generator.input_shape == (None, 3)
    for loaded, saved in ((loaded_generator, generator), (loaded_discriminator, discriminator)):
        assert toy_gans.weights_digest(loaded) == toy_gans.weights_digest(saved)


def test_missing_toy_gan_names_a_command_that_trains_the_default_gan(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        toy_gans.load_toy_gan(directory=str(tmp_path))
    command = re.search(r"`python -m dgflow_tf\.zoo\.toy_gans (.*?) --output DIR`", str(error.value)).group(1)
    assert command == "--dataset 25gaussians --loss nsgan --seed 0"
    assert "25gaussians" in datasets.names()  # a value the command's --dataset choices accept


class _Recorder(keras.layers.Layer):
    """Passes its input on and notes the batch size and the `training` flag it was called with."""

    def __init__(self, log, **kwargs):
        super().__init__(**kwargs)
        self.note = log.append  # a bound method: Keras would copy a list attribute into its own

    def call(self, inputs, training=None):
        if inputs.shape[0] is not None:  # not while the model is being built symbolically
            self.note((int(inputs.shape[0]), training))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


def _recorded(inputs, outputs, log):
    return keras.Sequential([keras.Input((inputs,)), _Recorder(log), keras.layers.Dense(outputs)])


def test_a_gan_step_draws_one_fake_per_real_sample_and_trains_both_networks_in_training_mode():
    # Called eagerly, so the layers see concrete batch sizes. Five real 2-D points: a batch size read
    # from the wrong axis (2) or a network called outside training mode shows in the log.
    generated, judged = [], []
    trainer = gan_training.NonSaturatingGAN(_recorded(3, 2, generated), _recorded(2, 1, judged), seed=0)
    trainer.compile()
    trainer.train_step(tf.constant(datasets.twenty_five_gaussians(5, seed=0)))
    assert generated == [(5, True), (5, True)]  # the discriminator's step, then the generator's
    assert judged == [(5, True)] * 3  # real and fake for the discriminator, fake for the generator
    # Called as a model, the trainer is its generator, in the mode it is called in.
    generated.clear()
    trainer(tf.zeros((4, 3)))
    trainer(tf.zeros((4, 3)), training=True)
    assert generated == [(4, False), (4, True)]
