"""Refinement throughput: `RefinementModel.predict` against the paper's loop in eager TF and PyTorch.

Every variant refines the same batch of latents for K steps with the same paper-size DCGAN
(32x32x3, width 64, 128-d latents; the PyTorch nets get the Keras weights, and the script checks
that both frameworks compute the same logits and latent gradients before timing):

- dgflow_tf predict: `RefinementModel.predict` (the K steps in one compiled graph);
- the same with the nets under Keras' `mixed_bfloat16` policy (float32 latents and updates);
- eager TF loop: the paper's Algorithm 1 as a Python loop of eager gradient-tape steps;
- tf.function step: the same loop with each step a compiled `tf.function`;
- PyTorch loop: the paper's loop in PyTorch (`torch.autograd.grad`), inference-mode nets, in
  float32 and under `torch.autocast("cpu", torch.bfloat16)`;
- floor: one compiled forward+backward pass `grad_z d(g(z))`, times K.

Runs are interleaved (variant by variant within each repeat) so machine noise hits all alike,
and reported as medians, sample-steps per second and ratios. torch is not a dgflow_tf
dependency: install it apart and point `--torch-path` at it, e.g.

    pip install --target /tmp/torch-site torch==2.13.0
    python benchmarks/throughput.py --torch-path /tmp/torch-site --batch-sizes 64 16

Without torch the PyTorch row is skipped. Results: benchmarks/results/throughput.{json,md}.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dgflow_tf import RefinementModel  # noqa: E402
from dgflow_tf.zoo.dcgan import dcgan_discriminator, dcgan_generator  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
STEP_SIZE, ENTROPY_WEIGHT = 0.01, 0.01


def eager_tf_loop(generator, critic, z, num_steps):
    """The paper's Algorithm 1 (KL, so the drift is grad_z d(g(z))), one eager step at a time."""
    noise_std = math.sqrt(2.0 * ENTROPY_WEIGHT * STEP_SIZE)
    for _ in range(num_steps):
        with tf.GradientTape() as tape:
            tape.watch(z)
            logits = critic(generator(z, training=False), training=False)
        z = z + STEP_SIZE * tape.gradient(logits, z) + noise_std * tf.random.normal(tf.shape(z))
    return generator(z, training=False)


def torch_networks(torch, generator, critic):
    """PyTorch copies of the Keras DCGAN generator and discriminator (NCHW, same weights)."""
    nn = torch.nn

    def tensor(array):
        return torch.from_numpy(np.ascontiguousarray(array))

    def of_type(model, name):
        return [layer for layer in model.layers if type(layer).__name__ == name]

    dense = of_type(generator, "Dense")[0]
    bn_layers = of_type(generator, "BatchNormalization")
    transposed = of_type(generator, "Conv2DTranspose")
    g_conv = of_type(generator, "Conv2D")[0]
    channels0 = dense.units // 16

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(dense.kernel.shape[0], dense.units)
            self.norms = nn.ModuleList(
                [nn.BatchNorm2d(layer.gamma.shape[0], eps=layer.epsilon) for layer in bn_layers]
            )
            self.ups = nn.ModuleList(
                [
                    nn.ConvTranspose2d(layer.kernel.shape[3], layer.kernel.shape[2], 4, stride=2, padding=1)
                    for layer in transposed
                ]
            )
            self.out = nn.Conv2d(g_conv.kernel.shape[2], g_conv.kernel.shape[3], 3, padding=1)

        def forward(self, z):
            h = self.dense(z).view(-1, channels0, 4, 4)
            h = torch.relu(self.norms[0](h))
            for up, norm in zip(self.ups, self.norms[1:], strict=True):
                h = torch.relu(norm(up(h)))
            return torch.tanh(self.out(h))

    g = Generator()
    # Keras reshapes the dense output as (4, 4, C); PyTorch views it as (C, 4, 4).
    order = np.arange(dense.units).reshape(4, 4, channels0).transpose(2, 0, 1).reshape(-1)
    g.dense.weight.data = tensor(dense.kernel.numpy()[:, order].T)
    g.dense.bias.data = tensor(dense.bias.numpy()[order])
    for norm, layer in zip(g.norms, bn_layers, strict=True):
        norm.weight.data, norm.bias.data = tensor(layer.gamma.numpy()), tensor(layer.beta.numpy())
        norm.running_mean.data = tensor(layer.moving_mean.numpy())
        norm.running_var.data = tensor(layer.moving_variance.numpy())
    for up, layer in zip(g.ups, transposed, strict=True):
        up.weight.data = tensor(layer.kernel.numpy().transpose(3, 2, 0, 1))
        up.bias.data = tensor(layer.bias.numpy())
    g.out.weight.data = tensor(g_conv.kernel.numpy().transpose(3, 2, 0, 1))
    g.out.bias.data = tensor(g_conv.bias.numpy())

    convs = of_type(critic, "Conv2D")
    logit = of_type(critic, "Dense")[0]

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList(
                [
                    nn.Conv2d(
                        layer.kernel.shape[2],
                        layer.kernel.shape[3],
                        layer.kernel.shape[0],
                        stride=layer.strides[0],
                        padding=1,
                    )
                    for layer in convs
                ]
            )
            self.logit = nn.Linear(logit.kernel.shape[0], logit.units)

        def forward(self, x):
            h = x
            for conv in self.convs:
                h = nn.functional.leaky_relu(conv(h), 0.1)
            # Keras flattens NHWC.
            return self.logit(h.permute(0, 2, 3, 1).reshape(h.shape[0], -1))

    d = Discriminator()
    for conv, layer in zip(d.convs, convs, strict=True):
        conv.weight.data = tensor(layer.kernel.numpy().transpose(3, 2, 0, 1))
        conv.bias.data = tensor(layer.bias.numpy())
    d.logit.weight.data = tensor(logit.kernel.numpy().T)
    d.logit.bias.data = tensor(logit.bias.numpy())
    g.eval()
    d.eval()
    for parameter in list(g.parameters()) + list(d.parameters()):
        parameter.requires_grad_(False)
    return g, d


def torch_loop(torch, g, d, z, num_steps, bfloat16=False):
    """The paper's loop in PyTorch; `bfloat16` runs the nets under CPU autocast."""
    noise_std = math.sqrt(2.0 * ENTROPY_WEIGHT * STEP_SIZE)
    for _ in range(num_steps):
        z = z.detach().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            logits = d(g(z))
        (gradient,) = torch.autograd.grad(logits.float().sum(), z)
        z = z.detach() + STEP_SIZE * gradient + noise_std * torch.randn_like(z)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
        return g(z).float()


def check_same_networks(torch, generator, critic, g, d, z):
    """Both frameworks must compute the same logits and latent gradients before we time them."""
    with tf.GradientTape() as tape:
        tape.watch(z)
        logits = critic(generator(z, training=False), training=False)
    gradient = tape.gradient(logits, z).numpy()
    zt = torch.from_numpy(z.numpy()).requires_grad_(True)
    logits_t = d(g(zt))
    (gradient_t,) = torch.autograd.grad(logits_t.sum(), zt)
    logits, logits_t = logits.numpy(), logits_t.detach().numpy()
    # Norm-wise relative errors. Logits agree to ~1e-6 (float32 sums in another order); the
    # latent gradient of a randomly initialised critic is a small sum of large terms of both
    # signs, so the same rounding shows up ~100x larger there (measured 3.6e-4 at batch 64 on an
    # AVX-512 machine, 4.0e-3 on an AVX2/AMX one with the same weights): the bound is set for both.
    logit_error = float(np.linalg.norm(logits - logits_t) / np.linalg.norm(logits))
    gradient_error = float(np.linalg.norm(gradient - gradient_t.numpy()) / np.linalg.norm(gradient))
    if logit_error > 1e-4 or gradient_error > 1e-2:
        raise AssertionError(
            f"PyTorch port differs: logits {logit_error:.2e}, gradients {gradient_error:.2e}"
        )
    return {"relative_logit_difference": logit_error, "relative_gradient_difference": gradient_error}


def multiply_adds(model):
    """Multiply-adds of one forward pass per sample, from the layers' shapes."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            total += layer.kernel.shape[0] * layer.kernel.shape[1]
        elif kind in ("Conv2D", "Conv2DTranspose"):
            kernel_h, kernel_w = layer.kernel.shape[:2]
            # A convolution costs per output position, a transposed one per input position.
            spatial = layer.output.shape if kind == "Conv2D" else layer.input.shape
            total += (
                spatial[1] * spatial[2] * kernel_h * kernel_w * layer.kernel.shape[2] * layer.kernel.shape[3]
            )
    return total


def measure(batch_size, num_steps, repeats, torch):
    keras.utils.set_random_seed(0)
    generator = dcgan_generator(latent_dim=128, width=64)
    critic = dcgan_discriminator(width=64)
    z = tf.constant(np.random.default_rng(0).normal(size=(batch_size, 128)).astype("float32"))
    model = RefinementModel(
        generator, critic, step_size=STEP_SIZE, entropy_weight=ENTROPY_WEIGHT, num_steps=num_steps, seed=0
    )

    @tf.function
    def forward_backward(latents):
        with tf.GradientTape() as tape:
            tape.watch(latents)
            logits = critic(generator(latents, training=False), training=False)
        return tape.gradient(logits, latents)

    @tf.function
    def compiled_step(latents):
        noise_std = math.sqrt(2.0 * ENTROPY_WEIGHT * STEP_SIZE)
        return (
            latents + STEP_SIZE * forward_backward(latents) + noise_std * tf.random.normal(tf.shape(latents))
        )

    def tf_function_loop():
        latents = z
        for _ in range(num_steps):
            latents = compiled_step(latents)
        return generator(latents, training=False)

    # The same nets computing in bfloat16 (Keras mixed precision, float32 weights); the latents,
    # noise and updates stay float32.
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        generator_bf16, critic_bf16 = dcgan_generator(latent_dim=128, width=64), dcgan_discriminator(width=64)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    generator_bf16.set_weights(generator.get_weights())
    critic_bf16.set_weights(critic.get_weights())
    model_bf16 = RefinementModel(
        generator_bf16,
        critic_bf16,
        step_size=STEP_SIZE,
        entropy_weight=ENTROPY_WEIGHT,
        num_steps=num_steps,
        seed=0,
        dtype="float32",
    )

    variants = {
        "dgflow_tf predict": lambda: model.predict(z, batch_size=batch_size, verbose=0),
        "dgflow_tf predict, mixed_bfloat16": lambda: model_bf16.predict(z, batch_size=batch_size, verbose=0),
        "eager TF loop": lambda: eager_tf_loop(generator, critic, z, num_steps).numpy(),
        "tf.function step loop": lambda: tf_function_loop().numpy(),
        "floor (K x one fwd+bwd)": lambda: [forward_backward(z).numpy() for _ in range(num_steps)],
    }
    check = None
    if torch is not None:
        g, d = torch_networks(torch, generator, critic)
        check = check_same_networks(torch, generator, critic, g, d, z)
        zt = torch.from_numpy(z.numpy())
        variants["PyTorch loop"] = lambda: torch_loop(torch, g, d, zt, num_steps).numpy()
        variants["PyTorch loop, bfloat16 autocast"] = lambda: torch_loop(
            torch, g, d, zt, num_steps, True
        ).numpy()
    for run in variants.values():  # warm up: tracing, allocator, oneDNN primitive caches
        run()
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    # One step: forward through g and d, and the backward pass to z (input gradients only, the
    # same multiply-adds again); two flops per multiply-add.
    step_flops = 2 * 2 * (multiply_adds(generator) + multiply_adds(critic))
    return {
        "batch_size": batch_size,
        "gflop_per_sample_step": step_flops / 1e9,
        "achieved_gflops": {
            name: batch_size * num_steps * step_flops / 1e9 / value for name, value in medians.items()
        },
        "num_steps": num_steps,
        "repeats": repeats,
        "seconds": times,
        "median_seconds": medians,
        "sample_steps_per_second": {name: batch_size * num_steps / value for name, value in medians.items()},
        "predict_speedup": {
            name: value / medians["dgflow_tf predict"]
            for name, value in medians.items()
            if name != "dgflow_tf predict"
        },
        "port_check": check,
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 16])
    parser.add_argument("--num-steps", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--torch-path", default=None, help="a directory holding torch (pip install --target)")
    parser.add_argument("--output", default=os.path.join(RESULTS, "throughput"))
    args = parser.parse_args()
    torch = None
    if args.torch_path:
        sys.path.append(args.torch_path)  # appended: the benchmark's own packages keep priority
    try:
        import torch
    except ImportError:
        print("torch is not importable: the PyTorch row is skipped (see --torch-path).", file=sys.stderr)
    runs = []
    for batch_size in args.batch_sizes:
        result = measure(batch_size, args.num_steps, args.repeats, torch)
        runs.append(result)
        print(
            json.dumps(
                {key: result[key] for key in ("batch_size", "sample_steps_per_second", "predict_speedup")}
            ),
            flush=True,
        )
    environment = {
        "tensorflow": tf.__version__,
        "torch": None if torch is None else torch.__version__,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "gpus": [device.name for device in tf.config.list_physical_devices("GPU")],
    }
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output + ".json", "w", encoding="utf-8") as file:
        json.dump({"environment": environment, "runs": runs}, file, indent=2)
    device = ", ".join(environment["gpus"]) or f"{environment['cpu_count']} CPU cores"
    lines = [
        "# Refinement throughput: DCGAN 32x32x3 (width 64), K = " + str(args.num_steps),
        "",
        f"`python benchmarks/throughput.py --batch-sizes {' '.join(map(str, args.batch_sizes))} "
        f"--repeats {args.repeats}{' --torch-path ...' if torch else ''}` on {device}; TensorFlow "
        f"{environment['tensorflow']}, PyTorch {environment['torch']}. Medians of {args.repeats} "
        "interleaved repeats; speed-up = the variant's time / predict's time. GFLOP/s counts the "
        f"{runs[0]['gflop_per_sample_step']:.3f} GFLOP of one step per sample (forward through g and d "
        "and back to z, from the layer shapes) at the variant's speed.",
        "",
        "| batch | variant | seconds per batch | sample-steps/s | GFLOP/s | predict speed-up |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for run in runs:
        for name, seconds in run["median_seconds"].items():
            speedup = run["predict_speedup"].get(name)
            rate = run["sample_steps_per_second"][name]
            lines.append(
                f"| {run['batch_size']} | {name} | {seconds:.3f} | {rate:.0f} | "
                f"{run['achieved_gflops'][name]:.0f} | {'' if speedup is None else f'{speedup:.2f}x'} |"
            )
        if run["port_check"]:
            lines.append(
                f"| {run['batch_size']} | (PyTorch port check, relative differences: logits "
                f"{run['port_check']['relative_logit_difference']:.1e}, latent gradients "
                f"{run['port_check']['relative_gradient_difference']:.1e}) | | | | |"
            )
    with open(args.output + ".md", "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
