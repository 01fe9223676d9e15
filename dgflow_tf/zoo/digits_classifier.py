"""A digits classifier whose activations stand in for InceptionV3 offline.

FID, KID and the Inception score need a classifier's features and logits.
With no internet, this small CNN trained on scikit-learn's digits (8x8,
native size) provides them: `features` is its 128-unit penultimate layer,
`logits` its 10-way output. The package ships the weights trained by
`train_digits_classifier(seed=0)` on a stratified 80/20 split
(`datasets.digits_split(seed=0)`); its held-out accuracy is stored next to
them and reported by `load_digits_classifier`.

Examples:
    >>> classifier, info = load_digits_classifier()
    >>> info["test_accuracy"] > 0.95
    True
    >>> features, logits = feature_extractor(classifier)(datasets.digits()[:4])
    >>> features.shape, logits.shape
    ((4, 128), (4, 10))
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from dgflow_tf import datasets
from dgflow_tf._validation import check_non_negative_int, check_positive_int
from dgflow_tf.zoo import saved_weights

WEIGHTS_PATH = os.path.join(os.path.dirname(__file__), "weights", "digits_classifier.weights.h5")
FEATURES_LAYER = "features"
#: Training epochs of the shipped weights.
EPOCHS = 40


def build_digits_classifier():
    """The classifier's architecture: two conv blocks, a 128-unit feature layer, 10 logits."""
    x = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    h = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dropout(0.3)(h)
    features = keras.layers.Dense(128, activation="relu", name=FEATURES_LAYER)(h)
    logits = keras.layers.Dense(10, name="logits")(keras.layers.Dropout(0.3)(features))
    return keras.Model(x, logits, name="digits_classifier")


def train_digits_classifier(seed: int = 0, epochs: int = EPOCHS, batch_size: int = 64, verbose: int = 0):
    """Trains the classifier on the 80 % split; returns `(model, info)`.

    The loss is the softmax cross-entropy of the logits, minimised by Adam at
    a learning rate of `1e-3`.

    Args:
        seed: int >= 0 for the split, the weights and the data order.
            Defaults to `0` (the shipped weights).
        epochs: positive int. Defaults to `40`.
        batch_size: positive int. Defaults to `64`.
        verbose: as in `keras.Model.fit`.

    Returns:
        `(model, info)`, `info` holding `test_accuracy` on the 360 held-out
        images and the training settings.
    """
    seed = check_non_negative_int(seed, "seed")
    keras.utils.set_random_seed(seed)
    train_x, train_y, test_x, test_y = datasets.digits_split(seed=seed)
    model = build_digits_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        train_x,
        train_y,
        batch_size=check_positive_int(batch_size, "batch_size"),
        epochs=check_positive_int(epochs, "epochs"),
        verbose=verbose,
    )
    accuracy = float(np.mean(np.argmax(model.predict(test_x, verbose=0), axis=1) == test_y))
    info = {
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "test_accuracy": accuracy,
        "num_train": len(train_x),
        "num_test": len(test_x),
    }
    return model, info


def save_digits_classifier(model, info, path=WEIGHTS_PATH):
    """Writes `path` (Keras weights) and `path` with `.json` for `info`."""
    saved_weights.save(model, lambda _: build_digits_classifier(), path, info)


def load_digits_classifier(path=WEIGHTS_PATH):
    """Loads the shipped (or a saved) classifier; returns `(model, info)`.

    Raises:
        FileNotFoundError: if `path` does not exist, with the command that
            makes it.
    """
    return saved_weights.load(
        path,
        lambda _: build_digits_classifier(),
        f"No digits classifier weights at {path!r}. Train them with "
        "`python -m dgflow_tf.zoo.digits_classifier --output PATH`.",
    )


def feature_extractor(model):
    """A callable `images -> (features [n, 128], logits [n, 10])` as NumPy arrays."""
    two_headed = keras.Model(model.input, [model.get_layer(FEATURES_LAYER).output, model.output])

    @tf.function(reduce_retracing=True)
    def run(images):
        return two_headed(images, training=False)

    def extract(images):
        features, logits = run(tf.convert_to_tensor(images, tf.float32))
        return features.numpy(), logits.numpy()

    return extract


def main(argv=None):
    import argparse

    from dgflow_tf.cli.options import non_negative_int, positive_int

    parser = argparse.ArgumentParser(description="Train the digits classifier used for offline FID.")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--epochs", type=positive_int, default=EPOCHS, help="training epochs")
    parser.add_argument("--output", default=WEIGHTS_PATH, help="path of the .weights.h5 file")
    args = parser.parse_args(argv)
    model, info = train_digits_classifier(seed=args.seed, epochs=args.epochs, verbose=2)
    save_digits_classifier(model, info, args.output)
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
