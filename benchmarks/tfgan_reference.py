"""TF-GAN's image metrics on saved activations: the reference `tests/test_tfgan_reference.py` compares with.

`tensorflow-gan` 2.1.0 needs `tf.estimator`, which TensorFlow >= 2.16 no longer has, so it cannot be imported
next to dgflow_tf. It runs in a legacy environment of its own:

    python3.11 -m venv tfgan-venv
    tfgan-venv/bin/pip install tensorflow-cpu==2.15.1 tensorflow-probability==0.23.0 \
        tensorflow-gan==2.1.0 "numpy<2"
    DGFLOW_TF_TFGAN_PYTHON=tfgan-venv/bin/python python -m pytest -q tests/test_tfgan_reference.py

This script is what that interpreter runs: it reads `real`, `fake` (activations) and `logits` from an
`.npz` file and writes TF-GAN's Frechet distance, kernel distance (with its block standard error) and
classifier score as JSON. It imports nothing from dgflow_tf.
"""

import json
import sys

import numpy as np
import tensorflow as tf
import tensorflow_gan as tfgan


def main(inputs, output, block_size):
    arrays = np.load(inputs)
    real = tf.constant(arrays["real"], tf.float64)
    fake = tf.constant(arrays["fake"], tf.float64)
    kid, kid_std = tfgan.eval.kernel_classifier_distance_and_std_from_activations(
        real, fake, max_block_size=block_size
    )
    results = {
        "tensorflow": tf.__version__,
        "tensorflow_gan": getattr(tfgan, "__version__", "2.1.0"),
        "fid": float(tfgan.eval.frechet_classifier_distance_from_activations(real, fake)),
        "kid": float(kid),
        "kid_std": float(kid_std),
        "score": float(tfgan.eval.classifier_score_from_logits(tf.constant(arrays["logits"], tf.float64))),
    }
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
