"""Sample-quality metrics.

`synthetic`: % high-quality samples and modes covered (25 Gaussians), the KDE
score and the exact optimal-transport distance to held-out data.
"""

from dgflow_tf.metrics.synthetic import (
    high_quality_fraction,
    kde_score,
    modes_covered,
    nearest_mode,
    ot_distance,
)

__all__ = ["high_quality_fraction", "kde_score", "modes_covered", "nearest_mode", "ot_distance"]
