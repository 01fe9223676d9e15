"""The `auto` step rule's two candidate knobs, swept on the tuning seed of every zoo model.

`step_size="auto"` sets `eta = D * scale / (K * q90 |drift|)`. This sweep asks
whether another displacement `D`, or a cap on the flow's total time `eta * K`
(which would stop flat critics, whose small gradients make the rule take long
steps, from moving samples far), does better across the models of
`quality_per_eval.py`. Everything is measured on seed 100 (the tuning GANs,
latents and data of `quality_per_eval.py`; its seed-0 GANs where no other
seed is trained), at K = 25, with that benchmark's score (KDE; digits: -FID).

The rule for choosing: the most models improved over the unrefined samples,
then the best mean rank across models. Reproduce (2 CPU cores, about 5
minutes once `quality_per_eval.py` has trained and cached the GANs):

    python benchmarks/auto_rule_sweep.py

Writes `results/auto_rule_sweep.{json,md}`.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import quality_per_eval as benchmark  # noqa: E402

from dgflow_tf import RefinementModel  # noqa: E402
from dgflow_tf import step_size as step_size_lib  # noqa: E402

DISPLACEMENTS = (0.25, 0.5, 1.0, 2.0)
TIME_CAPS = (0.05, 0.1, 0.25, 1.0, None)
NUM_STEPS = 25


def main():
    start = time.perf_counter()
    seed, cache = benchmark.TUNING_SEED, os.path.join(benchmark.HERE, ".cache")
    settings = [(d, cap) for d in DISPLACEMENTS for cap in TIME_CAPS]
    step_size_lib.TIME_CAP = float("inf")  # each setting applies its own cap below
    scores, bases = {}, {}
    for dataset, gan, _ in benchmark.MODELS:
        generator, critic = benchmark.load(dataset, gan, seed, cache)
        name = f"{dataset}/{gan}"
        bases[name] = benchmark.score(benchmark.measure(generator, critic, dataset, seed, num_steps=0))
        latent_shape = (benchmark.DIGITS_LATENT,) if dataset == "digits" else None
        for displacement, cap in settings:
            step_size_lib.DISPLACEMENT = displacement
            auto = RefinementModel(
                generator, critic, num_steps=NUM_STEPS, latent_shape=latent_shape
            ).step_size
            eta = auto if cap is None else min(auto, cap / NUM_STEPS)
            result = benchmark.measure(generator, critic, dataset, seed, step_size=eta, num_steps=NUM_STEPS)
            scores[(name, displacement, cap)] = (benchmark.score(result), eta)
            print(
                f"{name} D={displacement} cap={cap}: eta {eta:.4g}, score {benchmark.score(result):.3f}",
                file=sys.stderr,
                flush=True,
            )
    names = list(bases)
    ranks = {}
    for name in names:
        ordered = sorted(settings, key=lambda s, name=name: -scores[(name, *s)][0])
        for rank, setting in enumerate(ordered, start=1):
            ranks[(name, *setting)] = rank
    summary = []
    for setting in settings:
        improved = sum(scores[(name, *setting)][0] > bases[name] for name in names)
        mean_rank = float(np.mean([ranks[(name, *setting)] for name in names]))
        summary.append(
            {"displacement": setting[0], "cap": setting[1], "improved": improved, "mean_rank": mean_rank}
        )
    chosen = max(summary, key=lambda row: (row["improved"], -row["mean_rank"]))
    seconds = time.perf_counter() - start
    lines = [
        "## The auto rule's displacement and a time cap, on the tuning seed",
        "",
        f"Command: `python benchmarks/auto_rule_sweep.py` ({seconds:.0f} s, {time.strftime('%Y-%m-%d')}). "
        f"K = {NUM_STEPS}; score: KDE (digits: -FID) on seed 100; `cap` bounds `eta * K` (`-`: none). "
        f"Chosen by the most models improved, then the best mean rank: **D = {chosen['displacement']}, "
        f"cap = {chosen['cap'] or '-'}** ({chosen['improved']} of {len(names)} models improved).",
        "",
        "| D | cap | improved | mean rank | " + " | ".join(names) + " |",
        "|---:|---:|---:|---:|" + "---:|" * len(names),
        "| base | | | | " + " | ".join(f"{bases[name]:.3f}" for name in names) + " |",
    ]
    for row in summary:
        setting = (row["displacement"], row["cap"])
        cells = [
            f"{scores[(name, *setting)][0]:.3f} (eta {scores[(name, *setting)][1]:.3g})" for name in names
        ]
        lines.append(
            f"| {row['displacement']} | {row['cap'] or '-'} | {row['improved']} | {row['mean_rank']:.1f} | "
            + " | ".join(cells)
            + " |"
        )
    output = os.path.join(benchmark.HERE, "results", "auto_rule_sweep")
    with open(output + ".md", "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(output + ".json", "w", encoding="utf-8") as handle:
        json.dump(
            {
                "summary": summary,
                "chosen": chosen,
                "bases": bases,
                "seconds": seconds,
                "scores": [
                    {"model": k[0], "displacement": k[1], "cap": k[2], "score": v[0], "step_size": v[1]}
                    for k, v in scores.items()
                ],
            },
            handle,
            indent=1,
        )
    print(f"wrote {output}.{{md,json}}; chosen {chosen}")


if __name__ == "__main__":
    main()
