"""An MNIST classifier for FID, KID, precision/recall and the classifier score.

InceptionV3's features mean little for 28x28 grey digits and need a
download; the MNIST literature scores samples in the feature space of an
MNIST classifier instead. This one, a VGG-style CNN (two blocks of two 3x3
convolutions and a max-pool, a 128-unit feature layer, 10 logits), is
trained by `train_mnist_classifier(seed=0)` on the 60,000 training images
only, so the 10,000 test images, which no reference model trains on either,
are a held-out reference. The package ships its weights (`info` holds the
test accuracy, the settings and the training time) and the test set's
statistics in its feature space (`load_test_statistics`), so samples can be
scored without the data.

Examples:
    >>> classifier, info = load_mnist_classifier()
    >>> info["test_accuracy"] >= 0.99
    True
    >>> extractor = digits_classifier.feature_extractor(classifier)
    >>> features, logits = extractor(np.zeros((2, 28, 28, 1), "float32"))
    >>> features.shape, logits.shape
    ((2, 128), (2, 10))
"""

import json
import os
import time

import keras
import numpy as np

from dgflow_tf import datasets
from dgflow_tf._validation import check_non_negative_int, check_positive_int
from dgflow_tf.zoo import digits_classifier, saved_weights

WEIGHTS_PATH = os.path.join(os.path.dirname(__file__), "weights", "mnist_classifier.weights.h5")
STATISTICS_PATH = os.path.join(os.path.dirname(__file__), "weights", "mnist_test_features.npz")
FEATURES_LAYER = digits_classifier.FEATURES_LAYER
#: Training epochs of the shipped weights.
EPOCHS = 6


def build_mnist_classifier():
    """The classifier's architecture, `[n, 28, 28, 1]` in `[-1, 1]` to 10 logits, named `mnist_classifier`."""
    x = keras.Input((28, 28, 1), name="image")
    h = x
    for filters in (32, 64):
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Dropout(0.25)(keras.layers.Flatten()(h))
    features = keras.layers.Dense(128, activation="relu", name=FEATURES_LAYER)(h)
    logits = keras.layers.Dense(10, name="logits")(keras.layers.Dropout(0.5)(features))
    return keras.Model(x, logits, name="mnist_classifier")


def shift_augmentation(seed):
    """The training images' augmentation: random shifts of up to 2 pixels each way, the uncovered
    border filled with -1, MNIST's background. Active only when called with `training=True`."""
    return keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant", fill_value=-1.0, seed=seed)


def train_mnist_classifier(
    seed: int = 0, epochs: int = EPOCHS, batch_size: int = 128, data_path: str | None = None, verbose: int = 0
):
    """Trains the classifier on MNIST's training split; returns `(model, info)`.

    Adam at 1e-3, halved each epoch after the third; small random shifts
    (up to 2 pixels) augment the training images.

    Args:
        seed: int >= 0 for the weights, shifts and data order. Defaults to
            `0` (the shipped weights).
        epochs: positive int. Defaults to `6`.
        batch_size: positive int. Defaults to `128`.
        data_path: folder of MNIST's IDX files, as in `datasets.mnist`.
        verbose: as in `keras.Model.fit`.

    Returns:
        `(model, info)`, `info` holding `test_accuracy` on the 10,000 test
        images, the settings and `train_seconds`.
    """
    seed = check_non_negative_int(seed, "seed")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    keras.utils.set_random_seed(seed)
    train_x, train_y = datasets.mnist("train", data_path, return_labels=True)
    test_x, test_y = datasets.mnist("test", data_path, return_labels=True)
    inputs = keras.Input((28, 28, 1))
    shifted = shift_augmentation(seed)
    model = build_mnist_classifier()
    trainer = keras.Model(inputs, model(shifted(inputs)))
    trainer.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch: 1e-3 * 0.5 ** max(0, epoch - 2))
    started = time.perf_counter()
    trainer.fit(train_x, train_y, batch_size=batch_size, epochs=epochs, callbacks=[schedule], verbose=verbose)
    seconds = time.perf_counter() - started
    predictions = np.argmax(model.predict(test_x, batch_size=500, verbose=0), axis=1)
    info = {
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "test_accuracy": float(np.mean(predictions == test_y)),
        "num_train": len(train_x),
        "num_test": len(test_x),
        "train_seconds": round(seconds, 1),
        "command": f"python -m dgflow_tf.zoo.mnist_classifier --seed {seed}"
        + ("" if epochs == EPOCHS else f" --epochs {epochs}"),
    }
    return model, info


def save_mnist_classifier(model, info, path=WEIGHTS_PATH):
    """Writes `path` (Keras weights) and `path` with `.json` for `info`."""
    saved_weights.save(model, lambda _: build_mnist_classifier(), path, info)


def load_mnist_classifier(path=WEIGHTS_PATH):
    """Loads the shipped (or a saved) classifier; returns `(model, info)`.

    Raises:
        FileNotFoundError: if `path` does not exist, with the command that
            makes it.
    """
    return saved_weights.load(
        path,
        lambda _: build_mnist_classifier(),
        f"No MNIST classifier weights at {path!r}. Train them with "
        "`python -m dgflow_tf.zoo.mnist_classifier --output PATH`.",
    )


def mnist_extractor(path=WEIGHTS_PATH):
    """The shipped classifier as a `images -> (features [n, 128], logits [n, 10])` callable."""
    return digits_classifier.feature_extractor(load_mnist_classifier(path)[0])


def save_test_statistics(extractor, data_path=None, path=STATISTICS_PATH):
    """Writes the test set's features (float16), their mean and covariance (float64) to `path`."""
    from dgflow_tf.metrics import images

    features, logits = images.extract(extractor, datasets.mnist("test", data_path), batch_size=500)
    np.savez_compressed(
        path,
        features=features.astype(np.float16),
        mean=features.mean(axis=0),
        covariance=np.cov(features, rowvar=False),
        predicted_labels=np.argmax(logits, axis=1).astype(np.uint8),
    )


def load_test_statistics(path=STATISTICS_PATH):
    """The MNIST test set in the shipped classifier's feature space.

    Returns:
        A dict: `features` (`[10000, 128]`, float16, for KID and
        precision/recall), `mean` and `covariance` (float64, of the
        full-precision features, for FID) and `predicted_labels`.

    Raises:
        FileNotFoundError: if `path` does not exist.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No MNIST test statistics at {path!r}. Make them with "
            "`python -m dgflow_tf.zoo.mnist_classifier --statistics-only`."
        )
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files}


def main(argv=None):
    import argparse

    from dgflow_tf.cli.options import non_negative_int, positive_int

    parser = argparse.ArgumentParser(description="Train the MNIST classifier used for FID, KID and P/R.")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--epochs", type=positive_int, default=EPOCHS, help="training epochs")
    parser.add_argument("--data", default=None, help="folder of MNIST's IDX files (else DGFLOW_TF_MNIST_DIR)")
    parser.add_argument("--output", default=WEIGHTS_PATH, help="path of the .weights.h5 file")
    parser.add_argument("--statistics", default=STATISTICS_PATH, help="path of the test statistics .npz")
    parser.add_argument("--statistics-only", action="store_true", help="recompute the statistics only")
    args = parser.parse_args(argv)
    if not args.statistics_only:
        model, info = train_mnist_classifier(
            seed=args.seed, epochs=args.epochs, data_path=args.data, verbose=2
        )
        save_mnist_classifier(model, info, args.output)
        print(json.dumps(info, indent=2))
    save_test_statistics(mnist_extractor(args.output), args.data, args.statistics)


if __name__ == "__main__":
    main()
