"""Before/after grids of the MNIST GANs for the docs: base, DGflow with every default, DGflow tuned.

The same 48 latents of evaluation seed 0 in each panel, so each cell shows one sample before and
after refinement. The tuned step is the one `benchmarks/mnist.py` chose on its tuning seed
(`results/mnist_tuning.json`); run that first.

Reproduce (2 CPU cores, under a minute a family):

    python benchmarks/mnist_grid.py --families dcgan sn-gan wgan-gp

Writes `results/mnist/<family>-grid.png`.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from dgflow_tf import RefinementModel, critics  # noqa: E402
from dgflow_tf.experiments import mnist  # noqa: E402
from dgflow_tf.plotting import image_grid  # noqa: E402
from dgflow_tf.zoo import mnist_models  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["dcgan", "sn-gan", "wgan-gp"])
    parser.add_argument("--num-images", type=int, default=48)
    args = parser.parse_args(argv)
    with open(os.path.join(HERE, "results", "mnist_tuning.json"), encoding="utf-8") as file:
        tuning = json.load(file)
    for family in args.families:
        model = mnist_models.load_shipped_mnist_model(family)
        critic = (
            critics.WassersteinCritic(model.discriminator) if family == "wgan-gp" else model.discriminator
        )
        latents = mnist.latents_for(model, args.num_images, seed=0)
        step = tuning[family]["choices"]["DGflow-KL"]["step_size"]
        default = RefinementModel(model.generator, critic, seed=0)
        tuned = RefinementModel(
            model.generator, critic, seed=0, step_size=step, entropy_weight=mnist.ENTROPY_WEIGHT
        )
        panels = {
            "base": model.generate(latents),
            f"DGflow-KL, defaults (step {default.resolve_step_size():.4f})": default.predict(
                latents, verbose=0
            ),
            f"DGflow-KL, tuned (step {step})": tuned.predict(latents, verbose=0),
        }
        path = os.path.join(HERE, "results", "mnist", f"{family}-grid.png")
        image_grid(panels, path, columns=8, title=f"MNIST {family} (shipped seed-0 weights), K = 25")
        print(path)


if __name__ == "__main__":
    main()
