"""DGflow under Keras mixed precision: the refined digits' FID with float32, bfloat16 and float16 nets.

    python benchmarks/mixed_precision.py --policies float32 mixed_bfloat16 mixed_float16

Each policy runs in a fresh process: the digits DCGAN of seed 0 (from the images benchmark's cache,
benchmarks/.cache/digits, trained there if missing) is rebuilt under the Keras dtype policy and
loaded with its float32 weights. The refinement itself keeps float32 latents, noise and updates
(`RefinementModel(dtype="float32")`); only the generator and discriminator compute in the
policy's dtype. The same 2,000 latents and seed are refined with the images benchmark's settings
(KL, eta 0.01, gamma 0.01, K 25), and FID/KID are measured in the shipped digits classifier's
features against the 1,797 digits. Results: benchmarks/results/mixed_precision.{json,md}.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def child(policy, num_samples, cache_dir):
    import keras
    import numpy as np

    keras.mixed_precision.set_dtype_policy(policy)
    from dgflow_tf import RefinementModel, datasets
    from dgflow_tf.metrics import images as image_metrics
    from dgflow_tf.zoo import digits_classifier, digits_models

    model = digits_models.train_or_load("dcgan", 0, cache_dir)
    refiner = RefinementModel(
        model.generator,
        model.discriminator,
        step_size=0.01,
        entropy_weight=0.01,
        num_steps=25,
        seed=0,
        latent_shape=model.latent_shape,
        dtype="float32",
    )
    latents = model.sample_latents(num_samples, 1000)
    start = time.perf_counter()
    refined = refiner.predict(latents, batch_size=250, verbose=0)
    seconds = time.perf_counter() - start
    base = refiner.generate(latents, batch_size=250)
    # Metrics in float32 whatever the nets computed in.
    keras.mixed_precision.set_dtype_policy("float32")
    classifier, _ = digits_classifier.load_digits_classifier()
    extractor = digits_classifier.feature_extractor(classifier)
    reference, _ = image_metrics.extract(extractor, datasets.digits())
    row = {"policy": policy, "seconds": seconds, "samples_dtype": str(refined.dtype)}
    for name, images in (("base", base), ("refined", refined)):
        features, logits = image_metrics.extract(extractor, np.asarray(images, np.float32))
        row[f"{name}_fid"] = float(image_metrics.frechet_distance(features, reference))
        kid, _ = image_metrics.kernel_distance(features, reference, subset_size=1000)
        row[f"{name}_kid"] = float(kid)
    print(json.dumps(row))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--cache-dir", default=os.path.join(HERE, ".cache", "digits"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--output", default=os.path.join(RESULTS, "mixed_precision"))
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.num_samples, args.cache_dir)
    rows = []
    for policy in args.policies:
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            policy,
            "--num-samples",
            str(args.num_samples),
        ]
        command += ["--cache-dir", args.cache_dir]
        done = subprocess.run(
            command, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        )
        if done.returncode:
            row = {"policy": policy, "error": done.stderr.strip().splitlines()[-1][:300]}
        else:
            row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    with open(args.output + ".json", "w", encoding="utf-8") as file:
        json.dump({"rows": rows, "cpu_count": os.cpu_count()}, file, indent=2)
    lines = [
        "# Mixed precision: digits DCGAN (seed 0), 2,000 samples, KL, eta 0.01, gamma 0.01, K 25",
        "",
        f"`python benchmarks/mixed_precision.py --policies {' '.join(args.policies)}` on "
        f"{os.cpu_count()} CPU cores. FID/KID in the digits classifier's features against the 1,797 digits.",
        "",
        "| policy | base FID | refined FID | base KID | refined KID | refine seconds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['policy']} | failed: {row['error']} | | | | |")
            continue
        lines.append(
            f"| {row['policy']} | {row['base_fid']:.2f} | {row['refined_fid']:.2f} | {row['base_kid']:.3f} | "
            f"{row['refined_kid']:.3f} | {row['seconds']:.1f} |"
        )
    with open(args.output + ".md", "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
