"""Does a data-free time scale predict each model's tuned flow time better than `auto` does?

`step_size="auto"` fixes how far the drift may move the probe (and caps the
flow's total time `eta * K` at 1); issue 25 asks for a default that both
improves every model and keeps 80 % of its tuned gain, and the tuned total
times of the zoo differ by three orders of magnitude (0.025 on the Swiss-roll
NS-GAN, 25 on the MNIST flow). This benchmark measures a second data-free
signal beside it, on the same probe of 256 prior draws (seed 2021):

- `KL`: the critic's own estimate of KL(model || data), offset-free:
  `log mean exp(d) - mean(d)` (Donsker-Varadhan; for an exact log ratio
  `d = log(data/model) + c`, `mean exp(d) = exp(c)`);
- `Fisher`: the mean squared norm of the drift `grad_z d(g(z))`, the rate at
  which the KL gradient flow lowers that KL at its start;
- `T* = KL / Fisher`: the time the flow needs at that rate, a relaxation
  time that no fixed displacement can express.

For each model it sets the tuned total time (`eta * 25`, read from the
published tuning sweeps) beside `auto`'s and `T*`. A predictor `T = c * P`
with the best constant `c` misses each model by its ratio
`tuned / P` divided by `c`; the spread of `log10(tuned / P)` over the models
is what no constant can remove, so the predictor with the smaller spread is
the better basis for a rule.

Models: the 2-D zoo GANs (seed 0, shipped), the shipped MNIST GANs, the
MNIST VAE and flow with their seed-0 density-ratio correctors (trained here,
about 150 s each), and the five MLP GANs of `unseen_models.py` (trained and
cached by it). The digits GANs are left out (they would be trained first).

Reproduce (2 CPU cores, 325 s with the unseen GANs cached, sharing the cores with a training run):

    python benchmarks/auto_timescale.py

Writes `results/auto_timescale.{json,md}`; `--rescore` summarises the
published rows again without measuring.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402
import tensorflow as tf  # noqa: E402

from dgflow_tf import critics, divergences  # noqa: E402
from dgflow_tf import step_size as step_size_lib  # noqa: E402
from dgflow_tf.engine import drift  # noqa: E402
from dgflow_tf.refinement import RefinementModel  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
NUM_STEPS = 25
KL = divergences.get("KL")


def probe_statistics(generator, critic, latent_dim):
    """`(kl, fisher)` on `auto`'s probe: the offset-free KL estimate and the drift's mean square."""
    rng = np.random.default_rng(step_size_lib.PROBE_SEED)
    latents = tf.constant(rng.standard_normal((step_size_lib.PROBE_SIZE, latent_dim)), tf.float32)
    velocity, _, logits = drift(generator, critic, KL, latents)
    logits = logits.numpy().astype(np.float64)
    squares = np.square(velocity.numpy().astype(np.float64)).reshape(len(logits), -1).sum(axis=1)
    return log_mean_exp(logits) - logits.mean(), squares.mean()


def log_mean_exp(values):
    top = np.max(values)
    return float(top + np.log(np.mean(np.exp(values - top))))


def auto_time(generator, critic, latent_dim):
    """`auto`'s total time `eta * K` at K = 25, as a user's `RefinementModel` resolves it."""
    model = RefinementModel(generator, critic, num_steps=NUM_STEPS, latent_shape=(latent_dim,))
    return model.step_size * NUM_STEPS


def spread(ratios):
    """Mean and standard deviation of `log10` of the ratios, and max / min."""
    logs = np.log10(np.asarray(ratios, np.float64))
    return {
        "mean_log10": float(logs.mean()),
        "std_log10": float(logs.std()),
        "range": float(10 ** np.ptp(logs)),
    }


def rank_correlation(a, b):
    """Spearman's rank correlation, or `None` with fewer than 3 values or a constant side."""
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(scipy.stats.spearmanr(a, b)[0])


def _published(name):
    with open(os.path.join(RESULTS, name), encoding="utf-8") as file:
        return json.load(file)


def tuned_times():
    """`{model: eta * 25}` of the published Euler steps tuned on the tuning seed at K = 25."""
    euler = _published("quality_per_eval.json")["chosen"]["euler"]
    times = {
        f"{ds}/{gan}": euler[f"{ds}/{gan}/constant/25"] * NUM_STEPS
        for ds, gan in (
            ("25gaussians", "wgan-gp"),
            ("swissroll", "wgan-gp"),
            ("25gaussians", "nsgan"),
            ("swissroll", "nsgan"),
        )
    }
    for family, record in _published("mnist_tuning.json").items():
        times[f"mnist/{family}"] = record["choices"]["DGflow-KL"]["step_size"] * NUM_STEPS
    best = {}
    for row in _published("unseen_models.json")["sweep"]:
        if row["step"] is None:
            continue
        score = -row["fid"] if "fid" in row else row["kde"]
        if row["model"] not in best or score > best[row["model"]][0]:
            best[row["model"]] = (score, row["step"])
    times.update({model: step * NUM_STEPS for model, (_, step) in best.items()})
    return times


def models(cache, say):
    """`(name, generator, critic, latent_dim, critic_kind)` for every model measured."""
    import unseen_models

    from dgflow_tf.experiments import mnist as mnist_experiment
    from dgflow_tf.zoo import mnist_models, toy_gans

    for dataset, gan in (
        ("25gaussians", "wgan-gp"),
        ("swissroll", "wgan-gp"),
        ("25gaussians", "nsgan"),
        ("swissroll", "nsgan"),
    ):
        generator, critic = toy_gans.load_toy_gan(dataset, gan, seed=0)
        wasserstein = gan == "wgan-gp"
        critic = critics.WassersteinCritic(critic) if wasserstein else critics.get(critic)
        yield f"{dataset}/{gan}", generator, critic, 2, "Wasserstein" if wasserstein else "logit"
    for family in ("dcgan", "sn-gan", "wgan-gp"):
        model = mnist_models.load_shipped_mnist_model(family)
        wasserstein = family == "wgan-gp"
        critic = (
            critics.WassersteinCritic(model.discriminator)
            if wasserstein
            else critics.get(model.discriminator)
        )
        yield (
            f"mnist/{family}",
            model.generator,
            critic,
            mnist_models.GAN_LATENT_DIM,
            ("Wasserstein" if wasserstein else "logit"),
        )
    for family in ("vae", "flow"):
        started = time.perf_counter()
        model = mnist_experiment.with_corrector(mnist_models.load_shipped_mnist_model(family))
        say(f"mnist/{family}: corrector trained in {time.perf_counter() - started:.0f} s")
        latent_dim = int(np.prod(mnist_experiment.latents_for(model, 1, 0).shape[1:]))
        yield f"mnist/{family}", model.generator, critics.get(model.discriminator), latent_dim, "corrector"
    for name, (_, loss, *_) in unseen_models.MODELS.items():
        generator, discriminator, latent_dim = unseen_models.load(name, cache, say)
        # As unseen_models.py refines them: the discriminator's output as the critic, whatever its loss.
        kind = "Wasserstein" if loss == "wgan-gp" else "logit"
        yield name, generator, critics.get(discriminator), latent_dim, kind


def measure(cache, say):
    tuned = tuned_times()
    rows = []
    for name, generator, critic, latent_dim, kind in models(cache, say):
        kl, fisher = probe_statistics(generator, critic, latent_dim)
        row = {
            "model": name,
            "critic": kind,
            "tuned_time": tuned[name],
            "auto_time": auto_time(generator, critic, latent_dim),
            "kl": kl,
            "fisher": fisher,
            "timescale": kl / fisher,
        }
        say(
            f"{name}: "
            + ", ".join(f"{key} {value:.4g}" for key, value in row.items() if key not in ("model", "critic"))
        )
        rows.append(row)
    return rows


def summarise(rows):
    """The spread of `tuned / predictor` for `auto` and `T*`, and the rank correlation of each predictor
    with the tuned time (Spearman): over all models, and without WGAN critics."""
    groups = {
        "all models": rows,
        "logit and corrector critics": [r for r in rows if r["critic"] != "Wasserstein"],
    }
    return {
        group: {
            predictor: {
                **spread([r["tuned_time"] / r[predictor] for r in members]),
                "spearman": rank_correlation(
                    [r[predictor] for r in members], [r["tuned_time"] for r in members]
                ),
            }
            for predictor in ("auto_time", "timescale")
        }
        for group, members in groups.items()
    }


def markdown(rows, summary, seconds, command):
    lines = [
        "## A data-free time scale beside `auto`",
        "",
        f"Command: `{command}` ({seconds:.0f} s on 2 CPU cores, {time.strftime('%Y-%m-%d')}). Probe: "
        f"`auto`'s {step_size_lib.PROBE_SIZE} prior draws (seed {step_size_lib.PROBE_SEED}). `tuned`: the "
        "published Euler step tuned on the tuning seed, times 25; `auto`: the shipped rule's `eta * 25`; "
        "`T*`: `KL / Fisher` on the probe. A ratio of 1 is a perfect prediction; a constant factor is "
        "free to choose, so what matters is how much the ratios spread.",
        "",
        "| model | critic | tuned `eta K` | `auto` `eta K` | KL | Fisher | `T*` | tuned / `auto` "
        "| tuned / `T*` |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['critic']} | {r['tuned_time']:.3g} | {r['auto_time']:.3g} | "
            f"{r['kl']:.3g} | {r['fisher']:.3g} | {r['timescale']:.3g} | "
            f"{r['tuned_time'] / r['auto_time']:.3g} | {r['tuned_time'] / r['timescale']:.3g} |"
        )
    lines += [
        "",
        "| models | predictor | mean log10(tuned / predictor) | std | max / min | Spearman with tuned |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for group, by_predictor in summary.items():
        for predictor, stats in by_predictor.items():
            label = "`auto`" if predictor == "auto_time" else "`T*`"
            rho = "-" if stats["spearman"] is None else f"{stats['spearman']:.2f}"
            lines.append(
                f"| {group} | {label} | {stats['mean_log10']:.2f} | {stats['std_log10']:.2f} | "
                f"{stats['range']:.3g} | {rho} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cache-dir", default=os.path.join(HERE, ".cache"), help="where the unseen GANs are cached"
    )
    parser.add_argument("--output", default=RESULTS, help="folder for auto_timescale.{json,md}")
    parser.add_argument(
        "--rescore", action="store_true", help="summarise the published rows again without measuring"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.rescore:
        with open(os.path.join(args.output, "auto_timescale.json"), encoding="utf-8") as file:
            published = json.load(file)
        rows, seconds, command = published["rows"], published["seconds"], published["command"]
    else:
        rows = measure(args.cache_dir, lambda message: print(message, file=sys.stderr, flush=True))
        seconds = time.perf_counter() - started
        command = "python benchmarks/auto_timescale.py " + " ".join(
            argv if argv is not None else sys.argv[1:]
        )
    summary = summarise(rows)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "auto_timescale.json"), "w", encoding="utf-8") as file:
        json.dump(
            {"command": command.strip(), "seconds": seconds, "rows": rows, "summary": summary}, file, indent=1
        )
    page = markdown(rows, summary, seconds, command.strip())
    with open(os.path.join(args.output, "auto_timescale.md"), "w", encoding="utf-8") as file:
        file.write(page)
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
