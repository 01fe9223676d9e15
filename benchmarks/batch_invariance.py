"""How far refined samples move when only `predict`'s batch size changes.

    python benchmarks/batch_invariance.py

The noise a sample receives never depends on the batch size (tests/test_properties.py checks
it bit for bit). The arithmetic can: CPU matrix kernels may process a tail of rows that does not
fill a vector block by another code path, which rounds differently. This script refines the same
64 latents through a small tanh MLP GAN (10 noisy steps) at several batch sizes and prints, for
each, the largest difference from `batch_size=64` and the share of coordinates that differ at all.
Results: benchmarks/results/batch_invariance.json.
"""

import json
import os

import keras
import numpy as np

from dgflow_tf import RefinementModel

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
BATCH_SIZES = (1, 3, 7, 8, 9, 12, 15, 16, 17, 20, 24, 32, 40, 48, 63, 64)


def main():
    keras.utils.set_random_seed(0)
    generator = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(32, activation="tanh"), keras.layers.Dense(6)]
    )
    critic = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)]
    )
    model = RefinementModel(generator, critic, num_steps=10, seed=3, step_size=0.05, entropy_weight=0.05)
    latents = model.sample_latents(64, seed=1)
    reference = model.predict(latents, batch_size=64, verbose=0)
    rows = []
    for batch_size in BATCH_SIZES:
        samples = model.predict(latents, batch_size=batch_size, verbose=0)
        rows.append(
            {
                "batch_size": batch_size,
                "max_abs_difference": float(np.abs(samples - reference).max()),
                "fraction_differing": float((samples != reference).mean()),
            }
        )
        print(json.dumps(rows[-1]))
    with open(os.path.join(RESULTS, "batch_invariance.json"), "w", encoding="utf-8") as file:
        json.dump({"cpu_count": os.cpu_count(), "rows": rows}, file, indent=2)


if __name__ == "__main__":
    main()
