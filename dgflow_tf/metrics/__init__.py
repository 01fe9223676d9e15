"""Sample-quality metrics.

`synthetic`: % high-quality samples and modes covered (25 Gaussians), the KDE
score and the exact optimal-transport distance to held-out data.
`images`: Frechet distance, kernel distance (KID) and classifier score from a
classifier's activations and logits, in float64.
"""

from dgflow_tf.metrics import images
from dgflow_tf.metrics.images import classifier_score, frechet_distance, image_metrics, kernel_distance
from dgflow_tf.metrics.synthetic import (
    high_quality_fraction,
    kde_score,
    modes_covered,
    nearest_mode,
    ot_distance,
)

__all__ = [
    "classifier_score",
    "frechet_distance",
    "high_quality_fraction",
    "image_metrics",
    "images",
    "kde_score",
    "kernel_distance",
    "modes_covered",
    "nearest_mode",
    "ot_distance",
]
