"""DCGAN and SN-DCGAN generators and discriminators (Keras 3).

The "standard CNN" DCGAN of the spectral-normalisation GAN paper (Miyato et
al., 2018, https://arxiv.org/abs/1802.05957), refined in the DGflow paper: a
4x4 projection and stride-2 transposed convolutions in the generator;
3x3/4x4 convolution pairs and a linear logit in the discriminator. For
32x32 images this is the paper's network (three up- and down-sampling
stages); `image_size=8` keeps one stage, for the 8x8 digits at their native
size. `width` scales every channel count so small variants train on a CPU,
and `spectral_norm=True` wraps every discriminator layer in
`keras.layers.SpectralNormalization` (SN-DCGAN).

Examples:
    >>> generator = dcgan_generator(latent_dim=16, width=8, channels=1, image_size=8)
    >>> generator.output_shape
    (None, 8, 8, 1)
"""

import math

import keras

from dgflow_tf._validation import check_positive_int


def _stages(image_size):
    image_size = check_positive_int(image_size, "image_size")
    stages = round(math.log2(image_size)) - 2
    if stages < 1 or 4 * 2**stages != image_size:
        raise ValueError(
            f"`image_size` must be a power of two >= 8 (e.g. 8, 16, 32). Received: image_size={image_size}"
        )
    return stages


def dcgan_generator(latent_dim=128, width=64, channels=3, image_size=32, name="dcgan_generator"):
    """`z [batch, latent_dim] -> x [batch, image_size, image_size, channels]` in [-1, 1].

    Args:
        latent_dim: size of the latent vector. Defaults to `128`.
        width: channels of the last hidden layer; earlier layers double it
            at each stage. Defaults to `64` (the paper's size).
        channels: image channels. Defaults to `3`.
        image_size: output side, a power of two >= 8. Defaults to `32`.
        name: model name.

    Returns:
        A `keras.Model` (randomly initialised; seed with
        `keras.utils.set_random_seed`).

    Raises:
        ValueError: for a non-positive `width` or a bad `image_size`.
    """
    check_positive_int(width, "width")
    stages = _stages(image_size)
    z = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(4 * 4 * 2**stages * width)(z)
    h = keras.layers.Reshape((4, 4, 2**stages * width))(h)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.ReLU()(h)
    for stage in reversed(range(stages)):
        h = keras.layers.Conv2DTranspose(2**stage * width, 4, strides=2, padding="same")(h)
        h = keras.layers.BatchNormalization()(h)
        h = keras.layers.ReLU()(h)
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="tanh")(h)
    return keras.Model(z, x, name=name)


def dcgan_discriminator(
    width=64, channels=3, image_size=32, spectral_norm=False, outputs=1, name="dcgan_discriminator"
):
    """`x [batch, image_size, image_size, channels] -> logit [batch, outputs]`.

    Args:
        width: channels of the first layers; each stage doubles it.
            Defaults to `64`.
        channels: image channels. Defaults to `3`.
        image_size: input side, a power of two >= 8. Defaults to `32`.
        spectral_norm: wrap each convolution and the logit layer in
            `keras.layers.SpectralNormalization`. Defaults to `False`.
        outputs: width of the last layer: `1` for a logit, more for the
            feature vector of a vector-valued critic (MMD-GAN). Defaults to
            `1`.
        name: model name.

    Returns:
        A `keras.Model` (randomly initialised).

    Raises:
        ValueError: for a non-positive `width` or a bad `image_size`.
    """
    check_positive_int(width, "width")
    check_positive_int(outputs, "outputs")
    stages = _stages(image_size)

    def layer(inner):
        return keras.layers.SpectralNormalization(inner) if spectral_norm else inner

    x = keras.Input((image_size, image_size, channels), name="x")
    h = x
    for stage in range(stages):
        h = layer(keras.layers.Conv2D(2**stage * width, 3, padding="same"))(h)
        h = keras.layers.LeakyReLU(0.1)(h)
        h = layer(keras.layers.Conv2D(2**stage * width, 4, strides=2, padding="same"))(h)
        h = keras.layers.LeakyReLU(0.1)(h)
    h = layer(keras.layers.Conv2D(2**stages * width, 3, padding="same"))(h)
    h = keras.layers.LeakyReLU(0.1)(h)
    logit = layer(keras.layers.Dense(outputs))(keras.layers.Flatten()(h))
    return keras.Model(x, logit, name=name)
