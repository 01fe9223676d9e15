"""Multilayer perceptrons for low-dimensional GANs (25 Gaussians, Swiss roll).

Seeded initialisers make a model's initial weights a function of `seed`.

Examples:
    >>> generator = mlp_generator(latent_dim=2, seed=0)
    >>> generator.output_shape
    (None, 2)
"""

import keras

from dgflow_tf._validation import check_non_negative_int, check_positive_int


def _mlp(input_dim, output_dim, width, depth, activation, seed, name):
    # The sizes and the seed are checked by the public builders, under the names their callers use.
    width = check_positive_int(width, "width")
    depth = check_positive_int(depth, "depth")
    inputs = keras.Input((input_dim,), name="inputs")
    x = inputs
    for layer in range(depth):
        x = keras.layers.Dense(
            width,
            activation=activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed + layer),
            name=f"dense_{layer}",
        )(x)
    outputs = keras.layers.Dense(
        output_dim, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + depth), name="output"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def mlp_generator(
    latent_dim: int = 2, data_dim: int = 2, width: int = 256, depth: int = 3, seed: int = 0
) -> keras.Model:
    """An MLP generator `z -> x` with ReLU hidden layers and a linear output.

    Args:
        latent_dim: positive int. Defaults to `2`.
        data_dim: positive int. Defaults to `2`.
        width: units per hidden layer. Defaults to `256`.
        depth: number of hidden layers. Defaults to `3`.
        seed: int >= 0 for the initial weights. Defaults to `0`.

    Returns:
        A functional `keras.Model` named as the function, its input `inputs`,
        its hidden layers `dense_0`, `dense_1`, ... and its last layer
        `output`, so layers can be fetched by name (`get_layer("output")`).

    Raises:
        ValueError: for a size that is not a positive int, or a negative
            `seed`, naming the argument.
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    data_dim = check_positive_int(data_dim, "data_dim")
    seed = check_non_negative_int(seed, "seed")
    return _mlp(latent_dim, data_dim, width, depth, "relu", seed, "mlp_generator")


def mlp_discriminator(data_dim: int = 2, width: int = 256, depth: int = 3, seed: int = 0) -> keras.Model:
    """An MLP discriminator `x -> logit` (shape `[batch, 1]`) with ReLU hidden layers.

    Args:
        data_dim: positive int. Defaults to `2`.
        width: units per hidden layer. Defaults to `256`.
        depth: number of hidden layers. Defaults to `3`.
        seed: int >= 0 for the initial weights. Defaults to `0`.

    Returns:
        A functional `keras.Model` named as the function, its input `inputs`,
        its hidden layers `dense_0`, `dense_1`, ... and its last layer
        `output`, so layers can be fetched by name (`get_layer("output")`).

    Raises:
        ValueError: for a size that is not a positive int, or a negative
            `seed`, naming the argument.
    """
    data_dim = check_positive_int(data_dim, "data_dim")
    # Its own initialiser streams, apart from a generator of the same seed.
    seed = check_non_negative_int(seed, "seed") + 1000
    return _mlp(data_dim, 1, width, depth, "relu", seed, "mlp_discriminator")
