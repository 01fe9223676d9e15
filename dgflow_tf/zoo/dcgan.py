"""DCGAN and SN-DCGAN generators and discriminators (Keras 3).

The "standard CNN" DCGAN of the spectral-normalisation GAN paper (Miyato et
al., 2018, https://arxiv.org/abs/1802.05957), refined in the DGflow paper: a
4x4 projection and stride-2 transposed convolutions in the generator;
3x3/4x4 convolution pairs and a linear logit in the discriminator. For
32x32 images this is the paper's network (three up- and down-sampling
stages from 4x4); `image_size=8` keeps one stage, for the 8x8 digits at
their native size, and `image_size=28` (MNIST) two stages from 7x7.
`width` scales every channel count so small variants train on a CPU, and
`spectral_norm=True` wraps every discriminator layer in
`keras.layers.SpectralNormalization` (SN-DCGAN).

Examples:
    >>> generator = dcgan_generator(latent_dim=16, width=8, channels=1, image_size=8)
    >>> generator.output_shape
    (None, 8, 8, 1)
"""

import keras

from dgflow_tf._validation import check_positive_int


def _stages(image_size):
    """`(base, stages)`: `image_size = base * 2**stages`, halving while the side stays even and >= 4."""
    image_size = check_positive_int(image_size, "image_size")
    base, stages = image_size, 0
    while base % 2 == 0 and base // 2 >= 4:
        base, stages = base // 2, stages + 1
    if stages < 1:
        raise ValueError(
            f"`image_size` must be even and at least 8 (e.g. 8, 28, 32). Received: image_size={image_size}"
        )
    return base, stages


def dcgan_generator(latent_dim=128, width=64, channels=3, image_size=32, name="dcgan_generator"):
    """`z [batch, latent_dim] -> x [batch, image_size, image_size, channels]` in [-1, 1].

    Args:
        latent_dim: size of the latent vector. Defaults to `128`.
        width: channels of the last hidden layer; earlier layers double it
            at each stage. Defaults to `64` (the paper's size).
        channels: image channels. Defaults to `3`.
        image_size: output side, even and >= 8; the generator starts at
            the side that halving leaves odd or below 8 (4 for 32, 7 for
            28). Defaults to `32`.
        name: model name.

    Returns:
        A `keras.Model` (randomly initialised; seed with
        `keras.utils.set_random_seed`).

    Raises:
        ValueError: for a non-positive `width` or a bad `image_size`.
    """
    check_positive_int(width, "width")
    base, stages = _stages(image_size)
    z = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(base * base * 2**stages * width)(z)
    h = keras.layers.Reshape((base, base, 2**stages * width))(h)
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
        image_size: input side, as in `dcgan_generator`. Defaults to `32`.
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
    _, stages = _stages(image_size)

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
