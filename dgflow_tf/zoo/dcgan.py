"""DCGAN generator and discriminator for 32x32 images (Keras 3).

The architecture of the "standard CNN" DCGAN used for CIFAR-10 in the
spectral-normalisation GAN paper (Miyato et al., 2018,
https://arxiv.org/abs/1802.05957) and refined in the DGflow paper: a
4x4x512 projection and three stride-2 transposed convolutions in the
generator; seven convolutions and a linear logit in the discriminator.
`width` scales every channel count so small variants train on a CPU.
"""

import keras

from dgflow_tf._validation import check_positive_int


def dcgan_generator(latent_dim=128, width=64, channels=3, name="dcgan_generator"):
    """`z [batch, latent_dim] -> x [batch, 32, 32, channels]` in [-1, 1].

    Args:
        latent_dim: size of the latent vector. Defaults to `128`.
        width: channels of the last hidden layer; earlier layers use 2x, 4x,
            8x. Defaults to `64` (the paper's size).
        channels: image channels. Defaults to `3`.
        name: model name.

    Returns:
        A `keras.Model` (randomly initialised).
    """
    check_positive_int(width, "width")
    z = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(4 * 4 * 8 * width)(z)
    h = keras.layers.Reshape((4, 4, 8 * width))(h)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.ReLU()(h)
    for multiple in (4, 2, 1):
        h = keras.layers.Conv2DTranspose(multiple * width, 4, strides=2, padding="same")(h)
        h = keras.layers.BatchNormalization()(h)
        h = keras.layers.ReLU()(h)
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="tanh")(h)
    return keras.Model(z, x, name=name)


def dcgan_discriminator(width=64, channels=3, name="dcgan_discriminator"):
    """`x [batch, 32, 32, channels] -> logit [batch, 1]`.

    Args:
        width: channels of the first layers; later layers use 2x, 4x, 8x.
            Defaults to `64`.
        channels: image channels. Defaults to `3`.
        name: model name.

    Returns:
        A `keras.Model` (randomly initialised).
    """
    check_positive_int(width, "width")
    x = keras.Input((32, 32, channels), name="x")
    h = x
    for multiple in (1, 2, 4):
        h = keras.layers.Conv2D(multiple * width, 3, padding="same")(h)
        h = keras.layers.LeakyReLU(0.1)(h)
        h = keras.layers.Conv2D(multiple * width, 4, strides=2, padding="same")(h)
        h = keras.layers.LeakyReLU(0.1)(h)
    h = keras.layers.Conv2D(8 * width, 3, padding="same")(h)
    h = keras.layers.LeakyReLU(0.1)(h)
    logit = keras.layers.Dense(1)(keras.layers.Flatten()(h))
    return keras.Model(x, logit, name=name)
