"""Every default on GANs the project never saw: MLP GANs built and trained here, outside the zoo.

Issue 25 asks that `RefinementModel(generator, discriminator).predict(z)`, with every default, improve
models the project never saw. The `auto` rule was chosen on the zoo's GANs (2-D MLPs of 256 or 512
units on 2-D latents, conv digits GANs, conv MNIST GANs). The GANs here share none of that: their
architectures (4 LeakyReLU layers of 128 units, 8-D latents on 2-D data; 2 layers of 256 units on 32-D
latents for the 8x8 digits), their losses (hinge beside NS-GAN and WGAN-GP) and their training loop
(below, plain Keras) are new. Each is trained once, with seed 0, and refined as a new user would:
the raw discriminator as the critic, KL, K = 25, nothing tuned.

For every model, on the evaluation seeds' latents (0, 1, 2; 1,000 samples each):

- `base`: the generator's samples;
- `eta 0.1`: the paper's step, the library's default before `auto`;
- `auto`: every default;
- `tuned`: Euler at the step chosen from `STEP_GRID` on tuning seed 100 by the score that
  `quality_per_eval.py` tunes by (KDE on 2-D data, minus FID on digits);
- `calibrate`: the step (and K) that one `model.calibrate(real)` call sets with every default of its
  own (a user who has data: 1,000 fresh 2-D samples, or the 1,797 digits), never worse than the base
  on its own tuning batch;
- `share`: `auto`'s share of the tuned step's gain on each headline metric.

Metrics as in `quality_per_eval.py`: HQ %, KDE and OT (W1) against held-out 2-D data; FID in the
shipped digits classifier's features against the 1,797 digits.

    python benchmarks/unseen_models.py

Trained GANs are cached under benchmarks/.cache/unseen/. Results: benchmarks/results/unseen_models.{json,md}.
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import quality_per_eval as benchmark  # noqa: E402  (beside this file, as for auto_rule_sweep)
import tensorflow as tf  # noqa: E402

from dgflow_tf import RefinementModel, datasets  # noqa: E402
from dgflow_tf.experiments import synthetic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
#: quality_per_eval's grid, extended to the 0.2 and 0.3 the MNIST sweep reached.
STEP_GRID = (0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3)
TUNING_SEED, EVALUATION_SEEDS, NUM_SAMPLES, NUM_STEPS = 100, (0, 1, 2), 1000, 25
#: name: (data, loss, latent width, hidden width, depth, generator steps).
MODELS = {
    "25gaussians/mlp-wgan-gp": ("25gaussians", "wgan-gp", 8, 128, 4, 2000),
    "25gaussians/mlp-hinge": ("25gaussians", "hinge", 8, 128, 4, 4000),
    "digits/mlp-nsgan": ("digits", "nsgan", 32, 256, 2, 4000),
    "digits/mlp-wgan-gp": ("digits", "wgan-gp", 32, 256, 2, 4000),
    "digits/mlp-hinge": ("digits", "hinge", 32, 256, 2, 4000),
}
METHODS = ("base", "eta 0.1", "auto", "tuned", "calibrate")
#: The real samples `calibrate` is given, seeded apart from the training and held-out data.
CALIBRATION_DATA_SEED = 55
HEADLINE = {"25gaussians": ("hq", "ot"), "digits": ("fid",)}
HIGHER_IS_BETTER = {"hq": True, "kde": True, "ot": False, "fid": False}


def mlp(inputs, outputs, width, depth, name, activation=None):
    layers = [keras.Input((inputs,))]
    for _ in range(depth):
        layers += [keras.layers.Dense(width), keras.layers.LeakyReLU(0.2)]
    layers.append(keras.layers.Dense(outputs, activation=activation))
    return keras.Sequential(layers, name=name)


def discriminator_loss(loss, real, fake):
    if loss == "nsgan":
        return tf.reduce_mean(tf.nn.softplus(-real) + tf.nn.softplus(fake))
    if loss == "hinge":
        return tf.reduce_mean(tf.nn.relu(1.0 - real) + tf.nn.relu(1.0 + fake))
    return tf.reduce_mean(fake - real)


def build(dim, latent_dim, width, depth):
    """An untrained `(generator, discriminator)` for `dim`-dimensional data (tanh outputs for images)."""
    generator = mlp(latent_dim, dim, width, depth, "generator", "tanh" if dim > 2 else None)
    return generator, mlp(dim, 1, width, depth, "discriminator")


def train(data, loss, latent_dim, width, depth, steps, seed=0, batch_size=128):
    """A (generator, discriminator) pair trained by the GAN `loss` on the rows of `data`."""
    keras.utils.set_random_seed(seed)
    generator, discriminator = build(data.shape[1], latent_dim, width, depth)
    g_opt, d_opt = (keras.optimizers.Adam(2e-4, 0.5, 0.9) for _ in "gd")
    critic_steps = 5 if loss == "wgan-gp" else 1

    @tf.function
    def d_step(real, z):
        with tf.GradientTape() as tape:
            fake = generator(z, training=True)
            cost = discriminator_loss(
                loss, discriminator(real, training=True), discriminator(fake, training=True)
            )
            if loss == "wgan-gp":
                mix = tf.random.uniform([tf.shape(real)[0], 1], seed=seed)
                between = mix * real + (1.0 - mix) * fake
                with tf.GradientTape() as inner:
                    inner.watch(between)
                    scores = discriminator(between, training=True)
                slopes = tf.norm(inner.gradient(scores, between), axis=1)
                cost += 10.0 * tf.reduce_mean((slopes - 1.0) ** 2)
        d_opt.apply_gradients(
            zip(
                tape.gradient(cost, discriminator.trainable_variables),
                discriminator.trainable_variables,
                strict=True,
            )
        )

    @tf.function
    def g_step(z):
        with tf.GradientTape() as tape:
            fake_scores = discriminator(generator(z, training=True), training=True)
            cost = (
                tf.reduce_mean(tf.nn.softplus(-fake_scores))
                if loss == "nsgan"
                else -tf.reduce_mean(fake_scores)
            )
        g_opt.apply_gradients(
            zip(
                tape.gradient(cost, generator.trainable_variables), generator.trainable_variables, strict=True
            )
        )

    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for _ in range(critic_steps):
            d_step(
                data[rng.integers(0, len(data), batch_size)],
                rng.standard_normal((batch_size, latent_dim), "float32"),
            )
        g_step(rng.standard_normal((batch_size, latent_dim), "float32"))
    return generator, discriminator


def training_data(dataset):
    if dataset == "digits":
        return datasets.digits().reshape(-1, 64)
    # Seeded apart from `synthetic.held_out_data`, which the metrics compare against.
    return datasets.twenty_five_gaussians(20_000, seed=77_777)


def load(name, cache, say):
    """The named GAN, trained once and cached; the digits generator emits 8x8x1 images."""
    dataset, loss, latent_dim, width, depth, steps = MODELS[name]
    directory = os.path.join(cache, "unseen", name.replace("/", "_"))
    paths = [os.path.join(directory, f"{part}.weights.h5") for part in ("generator", "discriminator")]
    if all(os.path.exists(path) for path in paths):
        generator, discriminator = build(64 if dataset == "digits" else 2, latent_dim, width, depth)
        generator.load_weights(paths[0])
        discriminator.load_weights(paths[1])
    else:
        started = time.perf_counter()
        generator, discriminator = train(training_data(dataset), loss, latent_dim, width, depth, steps)
        os.makedirs(directory, exist_ok=True)
        generator.save_weights(paths[0])
        discriminator.save_weights(paths[1])
        say(f"{name}: trained in {time.perf_counter() - started:.0f} s")
    if dataset == "digits":
        flat_generator, flat_discriminator = generator, discriminator
        generator = keras.Sequential(
            [flat_generator, keras.layers.Reshape((8, 8, 1))], name="digits_generator"
        )
        discriminator = keras.Sequential(
            [keras.Input((8, 8, 1)), keras.layers.Flatten(), flat_discriminator], name="digits_discriminator"
        )
    return generator, discriminator, latent_dim


def measure(name, generator, discriminator, latent_dim, seed, step_size, num_steps=NUM_STEPS):
    """The metrics of `seed`'s refined samples (`step_size=None` or no steps: the base) and the step used."""
    dataset = MODELS[name][0]
    latents = (
        np.random.default_rng(40_000 + seed).standard_normal((NUM_SAMPLES, latent_dim)).astype("float32")
    )
    if step_size is None or num_steps == 0:
        samples, used = np.asarray(generator(latents)), None
    else:
        model = RefinementModel(
            generator,
            discriminator,
            seed=seed,
            latent_shape=(latent_dim,),
            step_size=step_size,
            num_steps=num_steps,
        )
        samples, used = model.predict(latents, batch_size=500, verbose=0), model.step_size
    if dataset == "digits":
        metrics = {"fid": benchmark.digits_fid(samples)}
    else:
        metrics = synthetic.evaluate(samples, synthetic.held_out_data(dataset, NUM_SAMPLES, seed), dataset)
    return {**metrics, "step_size": used}


def calibrated(name, generator, discriminator, latent_dim):
    """`(step_size, num_steps)` that `RefinementModel.calibrate` sets with its defaults (OT to real data).

    A user's data: 1,000 fresh 2-D samples, or the 1,797 digits the GAN was trained on."""
    dataset = MODELS[name][0]
    real = (
        datasets.digits()
        if dataset == "digits"
        else datasets.load(dataset, NUM_SAMPLES, seed=CALIBRATION_DATA_SEED)
    )
    model = RefinementModel(generator, discriminator, latent_shape=(latent_dim,))
    model.calibrate(real, verbose=0)
    return model.step_size, model.num_steps


def gain_share(base, value, tuned, metric):
    """`value`'s share of the tuned step's gain on `metric` (1: all of it); `None` where it gains nothing."""
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    gain = sign * (tuned - base)
    return None if gain <= 0 else sign * (value - base) / gain


def share(base, auto, tuned, metric):
    """`auto`'s share of the tuned step's gain, in %; `None` where the tuned step gains nothing."""
    part = gain_share(base, auto, tuned, metric)
    return None if part is None else 100.0 * part


def run(names, cache, say):
    rows, sweep = [], []
    for name in names:
        generator, discriminator, latent_dim = load(name, cache, say)
        for step in (None, *STEP_GRID):  # None: the base, shown beside the sweep, never chosen
            sweep.append(
                {
                    "model": name,
                    "seed": TUNING_SEED,
                    "step": step,
                    **measure(name, generator, discriminator, latent_dim, TUNING_SEED, step),
                }
            )
        refined = [row for row in sweep if row["model"] == name and row["step"] is not None]
        tuned = max(refined, key=benchmark.score)["step"]
        say(f"{name}: tuned step {tuned}")
        calibrate = calibrated(name, generator, discriminator, latent_dim)
        say(f"{name}: calibrate set step {calibrate[0]}, K = {calibrate[1]}")
        settings = {
            "base": (None, NUM_STEPS),
            "eta 0.1": (0.1, NUM_STEPS),
            "auto": ("auto", NUM_STEPS),
            "tuned": (tuned, NUM_STEPS),
            "calibrate": calibrate,
        }
        for seed in EVALUATION_SEEDS:
            for method in METHODS:
                row = measure(name, generator, discriminator, latent_dim, seed, *settings[method])
                rows.append({"model": name, "seed": seed, "method": method, **row})
                say(json.dumps(rows[-1]))
    return rows, sweep


def rule_models(cache, say=lambda message: None):
    """`(name, generator, critic, latent_shape, score)` per GAN, for `auto_rule_sweep.py --held-out unseen`.

    `score(step_size)` is the tuning score on seed 100 (`0.0`: the base)."""
    for name in MODELS:
        generator, discriminator, latent_dim = load(name, cache, say)

        def score(
            step_size, name=name, generator=generator, discriminator=discriminator, latent_dim=latent_dim
        ):
            step = None if step_size == 0.0 else step_size
            return benchmark.score(measure(name, generator, discriminator, latent_dim, TUNING_SEED, step))

        yield name, generator, discriminator, (latent_dim,), score


def mean(rows, name, method, metric):
    return float(np.mean([r[metric] for r in rows if r["model"] == name and r["method"] == method]))


def markdown(rows, sweep, seconds, command):
    lines = [
        "## Every default on GANs the project never saw",
        "",
        f"Command: `{command}` ({seconds:.0f} s on {platform.machine()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d')}). MLP GANs trained by the benchmark itself (seed 0), refined with "
        f"KL, K = {NUM_STEPS}, the raw discriminator as the critic; mean over evaluation seeds "
        f"{list(EVALUATION_SEEDS)}, {NUM_SAMPLES} samples each. `tuned`: the step chosen on seed "
        f"{TUNING_SEED} (KDE; digits: FID) from {list(STEP_GRID)}. `calibrate`: the step (and K) that "
        "`model.calibrate(real)` set with its defaults (OT to 1,000 fresh 2-D samples, or to the 1,797 "
        "digits; an empty step: it switched refinement off). `share`: `auto`'s share of the tuned "
        "step's gain (`-`: the tuned step gains nothing). HQ in %; higher KDE, lower OT and FID are better.",
        "",
        "| model | metric | base | eta 0.1 | auto | tuned | calibrate | share "
        "| auto better than base on seeds |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in dict.fromkeys(r["model"] for r in rows):
        dataset = MODELS[name][0]
        for metric in ("hq", "kde", "ot") if dataset == "25gaussians" else ("fid",):
            values = {m: mean(rows, name, m, metric) for m in METHODS}
            part = share(values["base"], values["auto"], values["tuned"], metric)
            sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
            per_seed = {(r["method"], r["seed"]): r[metric] for r in rows if r["model"] == name}
            better = [s for s in EVALUATION_SEEDS if sign * (per_seed["auto", s] - per_seed["base", s]) > 0]
            digits = 1 if metric == "hq" else 3 if metric in ("kde", "fid") else 4
            cells = " | ".join(f"{values[m]:.{digits}f}" for m in METHODS)
            lines.append(
                f"| {name} | {metric.upper()}{' (headline)' if metric in HEADLINE[dataset] else ''} | "
                f"{cells} | {'-' if part is None else f'{part:.0f} %'} | {len(better)} of 3 {better} |"
            )
        used = {
            m: next(r["step_size"] for r in rows if r["model"] == name and r["method"] == m) for m in METHODS
        }
        cells = " | ".join("" if used[m] is None else f"{used[m]:.4g}" for m in METHODS)
        lines.append(f"| {name} | step | {cells} | | |")
    lines += [
        "",
        "### The tuning sweep (seed 100)",
        "",
        "| model | step | score (KDE; digits: -FID) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {r['model']} | {r['step'] or 'base'} | {benchmark.score(r):.3f} |" for r in sweep]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(MODELS),
        choices=list(MODELS),
        help="the GANs to run (default: all five)",
    )
    parser.add_argument(
        "--cache",
        default=os.path.join(HERE, ".cache"),
        help="where the trained GANs are kept under unseen/ (default: benchmarks/.cache)",
    )
    parser.add_argument(
        "--output",
        default=os.path.join(HERE, "results", "unseen_models"),
        help="path of the results without .json/.md (default: benchmarks/results/unseen_models)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows, sweep = run(args.models, args.cache, lambda message: print(message, file=sys.stderr, flush=True))
    seconds = time.perf_counter() - started
    command = "python benchmarks/unseen_models.py" + (
        "" if args.models == list(MODELS) else " --models " + " ".join(args.models)
    )
    with open(args.output + ".json", "w", encoding="utf-8") as handle:
        json.dump({"command": command, "seconds": seconds, "rows": rows, "sweep": sweep}, handle, indent=1)
    with open(args.output + ".md", "w", encoding="utf-8") as handle:
        handle.write(markdown(rows, sweep, seconds, command))


if __name__ == "__main__":
    main()
