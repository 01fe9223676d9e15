"""MLP GANs and their trainers: reproducible from a seed, the gradient penalty in closed form."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import datasets
from dgflow_tf.metrics import high_quality_fraction
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
@pytest.mark.parametrize("dataset", datasets.names())
def test_trainer_reproduces_shipped_weights(dataset):
    # A global seed set by someone else (here, as by keras.utils.set_random_seed) must not change
    # the data order: training is a function of its own arguments.
    tf.random.set_seed(123)
    generator, discriminator, _ = toy_gans.train_toy_gan(dataset, "nsgan", seed=0, verbose=0)
    assert tf.compat.v1.get_seed(None)[0] == 123  # the caller's global seed is restored
    shipped_generator, shipped_discriminator = toy_gans.load_toy_gan(dataset)
    assert toy_gans.weights_digest(generator) == toy_gans.weights_digest(shipped_generator)
    assert toy_gans.weights_digest(discriminator) == toy_gans.weights_digest(shipped_discriminator)


def test_weights_directory_is_packaged():
    assert os.path.isdir(toy_gans.WEIGHTS_DIRECTORY)
