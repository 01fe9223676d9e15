"""A character-level WGAN-GP on CPython's documentation text (the paper's text modality).

The architecture follows Gulrajani et al.'s character model, at a CPU size:

- generator: `z` (64) -> dense -> `[length, width]` -> residual blocks of two
  1-D convolutions (kernel 5, ReLU, residual scale 0.3) -> 1x1 convolution ->
  per-position softmax over the alphabet;
- critic: the (relaxed) one-hot sequence -> 1x1 convolution -> the same
  residual blocks -> flatten -> one score.

Both see relaxed one-hot sequences `[batch, length, alphabet]`: the
generator's softmax outputs, and one-hot real text. Training is WGAN-GP with
uniform interpolation weights and 5 critic steps per generator step
(`gan_training.WGANGP`).

`SIZES["cpu"]` trains in about half an hour on 2 CPU cores; `SIZES["gpu"]` is
the larger configuration for a GPU (not run here).

Examples:
    >>> model = train_char_gan(seed=0, size="tiny")  # doctest: +SKIP
    >>> model.decode(model.generate(model.sample_latents(4, seed=0)))  # doctest: +SKIP
"""

import json
import os
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from dgflow_tf import datasets
from dgflow_tf._validation import check_non_negative_int, check_positive_int
from dgflow_tf.zoo import gan_training

SEQUENCE_LENGTH = 32
LATENT_DIM = 64
SIZES = {
    # Smoke tests.
    "tiny": {"width": 32, "blocks": 1, "critic_steps": 300, "batch_size": 64},
    # The benchmark's size: 30,000 critic steps (6,000 generator steps), 28 minutes for seed 0 on 2
    # CPU cores (2026-12-05, partly sharing them). At 6,000 critic steps the samples were still
    # noise (JS-4 0.95) and DGflow made JS-4 worse; at 30,000 (JS-4 0.79) it lowered JS-4.
    "cpu": {"width": 64, "blocks": 2, "critic_steps": 30_000, "batch_size": 64},
    # Gulrajani et al.'s size for a GPU: 5 blocks of 512 channels, 100k generator steps.
    "gpu": {"width": 512, "blocks": 5, "critic_steps": 500_000, "batch_size": 64},
}


def _residual_blocks(x, width, blocks, name):
    for index in range(blocks):
        h = keras.layers.ReLU()(x)
        h = keras.layers.Conv1D(width, 5, padding="same", name=f"{name}_block{index}_conv1")(h)
        h = keras.layers.ReLU()(h)
        h = keras.layers.Conv1D(width, 5, padding="same", name=f"{name}_block{index}_conv2")(h)
        x = keras.layers.Add()([x, keras.layers.Rescaling(0.3)(h)])
    return x


def char_generator(alphabet_size, width=128, blocks=2, length=SEQUENCE_LENGTH, latent_dim=LATENT_DIM):
    """`z [batch, latent_dim]` -> per-position softmax `[batch, length, alphabet_size]`."""
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense(length * width, name="generator_dense")(z)
    x = keras.layers.Reshape((length, width))(x)
    x = _residual_blocks(x, width, blocks, "generator")
    logits = keras.layers.Conv1D(alphabet_size, 1, name="generator_logits")(x)
    return keras.Model(z, keras.layers.Softmax(axis=-1)(logits), name="char_generator")


def char_critic(alphabet_size, width=128, blocks=2, length=SEQUENCE_LENGTH):
    """Relaxed one-hot sequences `[batch, length, alphabet_size]` -> scores `[batch, 1]`."""
    x_in = keras.Input((length, alphabet_size), name="sequences")
    x = keras.layers.Conv1D(width, 1, name="critic_embed")(x_in)
    x = _residual_blocks(x, width, blocks, "critic")
    score = keras.layers.Dense(1, name="critic_score")(keras.layers.Flatten()(x))
    return keras.Model(x_in, score, name="char_critic")


@dataclass
class CharGAN:
    """A trained character GAN and its alphabet.

    Attributes:
        generator: `keras.Model` from latents to per-position softmax outputs.
        critic: `keras.Model` from relaxed one-hot sequences to WGAN scores.
        alphabet: the characters, in code order.
        info: training settings and final losses.
    """

    generator: keras.Model
    critic: keras.Model
    alphabet: str
    info: dict = field(default_factory=dict)

    @property
    def latent_shape(self):
        return (LATENT_DIM,)

    def sample_latents(self, num_samples, seed):
        """Seeded `N(0, I)` latents, float32."""
        rng = np.random.default_rng(check_non_negative_int(seed, "seed"))
        return rng.standard_normal((check_positive_int(num_samples, "num_samples"), LATENT_DIM)).astype(
            "float32"
        )

    def generate(self, latents, batch_size=500):
        """Per-position softmax outputs for `latents`, NumPy `[n, length, alphabet]`."""
        return np.concatenate(
            [
                self.generator(latents[i : i + batch_size], training=False).numpy()
                for i in range(0, len(latents), batch_size)
            ]
        )

    def decode(self, sequences):
        """Argmax-decodes `[n, length, alphabet]` sequences to strings."""
        codes = np.argmax(np.asarray(sequences), axis=-1)
        return ["".join(self.alphabet[code] for code in row) for row in codes]


def one_hot_dataset(windows, alphabet_size, batch_size, seed):
    """A shuffled, repeated `tf.data` pipeline of one-hot windows (built lazily: the codes stay int32)."""
    dataset = tf.data.Dataset.from_tensor_slices(windows)
    dataset = dataset.shuffle(len(windows), seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = dataset.batch(batch_size, drop_remainder=True)
    return dataset.map(lambda codes: tf.one_hot(codes, alphabet_size, dtype=tf.float32)).prefetch(2)


def train_char_gan(seed=0, size="cpu", critic_steps=None, verbose=0):
    """Trains the character WGAN-GP on the training part of `datasets.python_docs_text`.

    `keras.utils.set_random_seed(seed)` fixes the initial weights, the
    training latents, the interpolation weights and the data order.

    Args:
        seed: int >= 0. Defaults to `0`.
        size: a key of `SIZES`. Defaults to `"cpu"`.
        critic_steps: total critic iterations (generator steps are a fifth of
            them), or `None` for the size's default.
        verbose: as in `keras.Model.fit`.

    Returns:
        A `CharGAN`.

    Raises:
        ValueError: for an unknown `size` or a bad `seed`/`critic_steps`.
    """
    if size not in SIZES:
        raise ValueError(f"Unknown size {size!r}. Expected one of: {sorted(SIZES)}")
    seed = check_non_negative_int(seed, "seed")
    settings = dict(SIZES[size])
    if critic_steps is not None:
        settings["critic_steps"] = check_positive_int(critic_steps, "critic_steps")
    train_text, _, alphabet = datasets.python_docs_text()
    windows = datasets.character_windows(train_text, alphabet, SEQUENCE_LENGTH, stride=1)
    keras.utils.set_random_seed(seed)
    generator = char_generator(len(alphabet), settings["width"], settings["blocks"])
    critic = char_critic(len(alphabet), settings["width"], settings["blocks"])
    trainer = gan_training.WGANGP(generator, critic, seed=seed)
    trainer.compile()
    steps_per_epoch = min(1000, settings["critic_steps"])
    epochs = max(1, settings["critic_steps"] // steps_per_epoch)
    history = trainer.fit(
        one_hot_dataset(windows, len(alphabet), settings["batch_size"], seed),
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        shuffle=False,  # the pipeline shuffles itself
        verbose=verbose,
    )
    final = {key: float(values[-1]) for key, values in history.history.items()}
    info = {"seed": seed, "size": size, **settings, "alphabet": alphabet, "final": final}
    return CharGAN(generator, critic, alphabet, info)


def _paths(directory, seed, size):
    stem = os.path.join(directory, f"char-gan-{size}-seed{seed}")
    return stem + ".generator.weights.h5", stem + ".critic.weights.h5", stem + ".json"


def save_char_gan(model, directory):
    """Writes the generator's and critic's weights (atomically) and the info to `directory`."""
    os.makedirs(directory, exist_ok=True)
    paths = _paths(directory, model.info["seed"], model.info["size"])
    for network, path in zip((model.generator, model.critic), paths[:2], strict=True):
        temporary = path.replace(".weights.h5", ".tmp.weights.h5")
        network.save_weights(temporary)
        os.replace(temporary, path)
    with open(paths[2], "w", encoding="utf-8") as file:
        json.dump(model.info, file, indent=2, sort_keys=True)


def load_char_gan(seed, size, directory):
    """Restores a model saved by `save_char_gan`.

    Raises:
        FileNotFoundError: if its files are missing, naming them.
    """
    generator_path, critic_path, info_path = _paths(directory, seed, size)
    missing = [path for path in (generator_path, critic_path, info_path) if not os.path.exists(path)]
    if missing:
        raise FileNotFoundError(f"No saved character GAN for seed {seed}, size {size!r}: missing {missing}.")
    with open(info_path, encoding="utf-8") as file:
        info = json.load(file)
    alphabet = info["alphabet"]
    generator = char_generator(len(alphabet), info["width"], info["blocks"])
    critic = char_critic(len(alphabet), info["width"], info["blocks"])
    generator.load_weights(generator_path)
    critic.load_weights(critic_path)
    return CharGAN(generator, critic, alphabet, info)
