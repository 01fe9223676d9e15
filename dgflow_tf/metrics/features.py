"""Features for image metrics: run a classifier over images, in batches, as float64.

`extract` runs any `images -> (features, logits)` callable, such as
`zoo.digits_classifier.feature_extractor(...)` offline or
`inception_v3_extractor()` (Keras' InceptionV3, downloaded once) online;
`dgflow_tf.metrics.images` computes FID, KID and the classifier score from
what it returns.

Examples:
    >>> extractor = lambda batch: (batch.reshape(len(batch), -1), batch.reshape(len(batch), -1)[:, :3])
    >>> features, logits = extract(extractor, np.zeros((5, 2, 2, 1)), batch_size=2)
    >>> features.shape, logits.shape, features.dtype
    ((5, 4), (5, 3), dtype('float64'))
"""

from collections.abc import Callable

import numpy as np

from dgflow_tf._validation import check_positive_int


def extract(extractor: Callable, images: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Runs a feature extractor over images in batches.

    Args:
        extractor: callable mapping a batch of images to `(features,
            logits)`, e.g. `zoo.digits_classifier.feature_extractor(...)` or
            `inception_v3_extractor()`.
        images: `[num_samples, height, width, channels]` array.
        batch_size: positive int. Defaults to `256`.

    Returns:
        `(features, logits)` as float64 NumPy arrays.

    Raises:
        ValueError: for images that are not 4-D or hold NaN/Inf.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"`images` must be 4-D [num_samples, height, width, channels]. Received shape {images.shape}"
        )
    if not np.all(np.isfinite(images)):
        raise ValueError("`images` contains NaN or Inf; the refinement or model diverged.")
    batch_size = check_positive_int(batch_size, "batch_size")
    features, logits = [], []
    for start in range(0, len(images), batch_size):
        batch_features, batch_logits = extractor(images[start : start + batch_size].astype("float32"))
        features.append(np.asarray(batch_features, dtype=np.float64))
        logits.append(np.asarray(batch_logits, dtype=np.float64))
    return np.concatenate(features), np.concatenate(logits)


def inception_v3_extractor(weights="imagenet", input_size=299):
    """Keras InceptionV3 as a `(pool3 features, logits)` extractor.

    Nothing is downloaded until this is called with `weights="imagenet"`
    (Keras caches the file). Grey images are repeated to 3 channels and all
    images are resized bilinearly to `input_size`; inputs are expected in
    `[-1, 1]`, InceptionV3's own input range.

    Args:
        weights: `"imagenet"` (downloads once), `None` (random weights, for
            tests of shapes only), or a path to a weights file.
        input_size: side of the resized images; must be 299 with the
            classification head. Defaults to `299`.

    Returns:
        A callable `images -> (features [n, 2048], logits [n, 1000])`.
    """
    import keras
    import tensorflow as tf

    base = keras.applications.InceptionV3(
        include_top=True, weights=weights, input_shape=(input_size, input_size, 3), classifier_activation=None
    )
    model = keras.Model(base.input, [base.get_layer("avg_pool").output, base.output])

    @tf.function(reduce_retracing=True)
    def run(images):
        images = tf.convert_to_tensor(images, tf.float32)
        if images.shape[-1] == 1:
            images = tf.repeat(images, 3, axis=-1)
        images = tf.image.resize(images, (input_size, input_size), method="bilinear")
        return model(images, training=False)

    def extractor(images):
        features, logits = run(images)
        return features.numpy(), logits.numpy()

    return extractor
