"""Small hub modules written to disk, for offline tests, notebooks and users' own GANs.

- `save_gan_module` writes any generator and discriminator (Keras models,
  `tf.Module`s, functions) as a TF2 SavedModel with `generator` and
  `discriminator` signatures: the layout `adapters.hub.load_gan` calls
  "signatures". Use it to publish a GAN so that others can refine it.
- `save_compare_gan_mlp` writes a one-hidden-layer GAN in the TF1 Hub layout of
  compare_gan: one MetaGraph per tag set `{"gen", "bs<N>"}` and
  `{"disc", "bs<N>"}`, `default` signatures with `z -> generated` and
  `images -> logits`. Its NumPy weights make an independent reference.
- `save_conditional_sigmoid_gan` writes a linear GAN in the layout of
  compare_gan's conditional S3GAN modules: the discriminator takes `images`
  and `labels` and serves only `prediction = sigmoid(logit)`, with
  `logit = x w + b[label]`, a closed form per class.

Examples:
    >>> weights = compare_gan_mlp_weights(latent_dim=3, image_shape=(2, 2, 1), seed=0)
    >>> save_compare_gan_mlp("/tmp/tiny_compare_gan", weights, batch_sizes=(8, None))  # doctest: +SKIP
"""

import contextlib
import logging
import os
import shutil

import numpy as np
import tensorflow as tf


@contextlib.contextmanager
def _quiet_tensorflow_logs():
    # SavedModel writers log every asset step, and the TF1 builder its own deprecation:
    # noise for a user who only asked for a module on disk.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class _GANModule(tf.Module):
    def __init__(self, generator, discriminator):
        super().__init__()
        # Attributes, so that the models' variables are saved with the module.
        self.generator_model = generator
        self.discriminator_model = discriminator


def _call(model, inputs):
    return model(inputs, training=False) if hasattr(model, "trainable_weights") else model(inputs)


def save_gan_module(path, generator, discriminator=None, latent_shape=None, condition_spec=None):
    """Writes a generator (and discriminator) as a SavedModel with named signatures.

    Args:
        path: output directory (replaced if it exists).
        generator: callable from latents `[batch, *latent_shape]` to samples.
        discriminator: optional callable from samples to logits.
        latent_shape: per-sample latent shape. Defaults to the generator's
            declared input shape.
        condition_spec: optional `tf.TensorSpec` of one batch of labels for a
            conditional GAN, whose models are then called as `[x, labels]`.

    Returns:
        `path`.

    Raises:
        ValueError: if the latent shape is unknown.
    """
    if latent_shape is None:
        inputs = getattr(generator, "inputs", None)
        if not inputs:
            raise ValueError("Pass `latent_shape`: the generator does not declare its input shape.")
        latent_shape = tuple(inputs[0].shape[1:])
    module = _GANModule(generator, discriminator)
    latent_spec = tf.TensorSpec([None, *latent_shape], tf.float32, name="z")
    label_spec = None
    if condition_spec is not None:
        label_spec = tf.TensorSpec(
            [None, *tf.TensorShape(condition_spec.shape)[1:]], condition_spec.dtype, "labels"
        )

    def with_labels(model, batch, labels):
        return _call(model, batch if labels is None else [batch, labels])

    if label_spec is None:
        signatures = {
            "generator": tf.function(
                lambda z: {"generated": with_labels(generator, z, None)}, input_signature=[latent_spec]
            )
        }
    else:
        signatures = {
            "generator": tf.function(
                lambda z, labels: {"generated": with_labels(generator, z, labels)},
                input_signature=[latent_spec, label_spec],
            )
        }
    if discriminator is not None:
        sample = signatures["generator"].get_concrete_function().structured_outputs["generated"]
        image_spec = tf.TensorSpec([None, *sample.shape[1:]], sample.dtype, name="images")
        if label_spec is None:
            signatures["discriminator"] = tf.function(
                lambda images: {"logits": with_labels(discriminator, images, None)},
                input_signature=[image_spec],
            )
        else:
            signatures["discriminator"] = tf.function(
                lambda images, labels: {"logits": with_labels(discriminator, images, labels)},
                input_signature=[image_spec, label_spec],
            )
    path = os.fspath(path)
    if os.path.exists(path):
        shutil.rmtree(path)
    with _quiet_tensorflow_logs():
        tf.saved_model.save(module, path, signatures=signatures)
    return path


def compare_gan_mlp_weights(latent_dim=3, image_shape=(2, 2, 1), hidden=8, seed=0):
    """NumPy weights of a tiny GAN: `g(z) = tanh(z W)` reshaped, `d(x) = tanh(x U) v`.

    Returns:
        A dict with `W` `[latent_dim, prod(image_shape)]`, `U`
        `[prod(image_shape), hidden]`, `v` `[hidden, 1]` and `image_shape`.
    """
    rng = np.random.default_rng(seed)
    size = int(np.prod(image_shape))
    return {
        "W": rng.normal(0.0, 0.7, (latent_dim, size)).astype("float32"),
        "U": rng.normal(0.0, 0.7, (size, hidden)).astype("float32"),
        "v": rng.normal(0.0, 0.7, (hidden, 1)).astype("float32"),
        "image_shape": tuple(image_shape),
    }


def save_compare_gan_mlp(
    path, weights, batch_sizes=(8, 64, None), with_discriminator=True, round_output=False
):
    """Writes `weights` (from `compare_gan_mlp_weights`) in compare_gan's TF1 Hub layout.

    Args:
        path: output directory (replaced if it exists).
        weights: the dict of `compare_gan_mlp_weights`.
        batch_sizes: the `bs<N>` MetaGraphs to write; `None` is `bsNone`.
        with_discriminator: whether to write the `disc` MetaGraphs.
        round_output: round the generator's output, which cuts its gradient
            (to test the adapter's error for modules it cannot
            differentiate).

    Returns:
        `path`.
    """
    path = os.fspath(path)
    if os.path.exists(path):
        shutil.rmtree(path)
    with _quiet_tensorflow_logs():
        _write_compare_gan_mlp(path, weights, batch_sizes, with_discriminator, round_output)
    return path


def _write_compare_gan_mlp(path, weights, batch_sizes, with_discriminator, round_output):
    image_shape = list(weights["image_shape"])
    graph = tf.Graph()
    v1 = tf.compat.v1
    with graph.as_default():
        builder = v1.saved_model.Builder(path)
        w = v1.get_variable("generator/w", initializer=tf.constant(weights["W"]))
        u = v1.get_variable("discriminator/u", initializer=tf.constant(weights["U"]))
        v = v1.get_variable("discriminator/v", initializer=tf.constant(weights["v"]))
        info = v1.saved_model.utils.build_tensor_info
        signature = v1.saved_model.signature_def_utils.build_signature_def
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            first = True
            parts = ("gen", "disc") if with_discriminator else ("gen",)
            for batch_size in batch_sizes:
                for part in parts:
                    with tf.name_scope(f"{part}_bs{batch_size}"):
                        if part == "gen":
                            z = v1.placeholder(tf.float32, [batch_size, weights["W"].shape[0]], name="z")
                            flat = tf.tanh(tf.matmul(z, w))
                            if round_output:
                                flat = tf.round(flat)
                            images = tf.reshape(flat, [-1, *image_shape])
                            definition = signature(inputs={"z": info(z)}, outputs={"generated": info(images)})
                        else:
                            images = v1.placeholder(tf.float32, [batch_size, *image_shape], name="images")
                            flat = tf.reshape(images, [-1, int(np.prod(image_shape))])
                            logits = tf.matmul(tf.tanh(tf.matmul(flat, u)), v)
                            definition = signature(
                                inputs={"images": info(images)},
                                outputs={"logits": info(logits), "prediction": info(tf.sigmoid(logits))},
                            )
                    tags = [part, f"bs{batch_size}"]
                    if first:
                        builder.add_meta_graph_and_variables(
                            session, tags, signature_def_map={"default": definition}
                        )
                        first = False
                    else:
                        builder.add_meta_graph(tags, signature_def_map={"default": definition})
            builder.save()


def compare_gan_mlp_numpy(weights):
    """NumPy `(generator, critic, latent_gradient)` of the tiny GAN, derived by hand."""
    W, U, v = (weights[key].astype("float64") for key in ("W", "U", "v"))

    def generator(z):
        return np.tanh(z @ W)

    def critic(flat):
        return (np.tanh(flat @ U) @ v)[:, 0]

    def latent_gradient(z):
        a = np.tanh(z @ W)
        h = np.tanh(a @ U)
        grad_x = ((1.0 - h**2) * v[:, 0]) @ U.T
        return (grad_x * (1.0 - a**2)) @ W.T

    return generator, critic, latent_gradient


#: The conditional module's closed form: `g(z, label) = z`, `logit(x, label) = x w + b[label]`.
CONDITIONAL_SIGMOID_WEIGHT = ((10.0,), (-20.0,))
CONDITIONAL_SIGMOID_BIAS = (0.0, 40.0, -5.0)


def save_conditional_sigmoid_gan(path, tf1_hub_format=False):
    """Writes a 2-D conditional GAN in S3GAN's TF1 layout, through TensorFlow's TF1 SavedModel builder.

    The generator signature takes `z` `[n, 2]` and `labels` `[n]` and returns
    `z`; the discriminator signature takes `images` `[n, 2]` and `labels`
    `[n]` (int32, three classes) and, as S3GAN's does, serves only
    `prediction = sigmoid(x w + b[label])` with `w = CONDITIONAL_SIGMOID_WEIGHT`
    and `b = CONDITIONAL_SIGMOID_BIAS`. `adapters.hub.load_gan` must recover
    the logit `x w + b[label]` from it.

    Args:
        path: output directory (replaced if it exists).
        tf1_hub_format: write it as a TF1 Hub module instead, as compare_gan's
            `model_N` exports are: one untagged MetaGraph and a
            `tfhub_module.pb` (whose family prior is uniform).

    Returns:
        `path`.

    Example:
        >>> save_conditional_sigmoid_gan("/tmp/conditional_gan")  # doctest: +SKIP
        '/tmp/conditional_gan'
    """
    path = os.fspath(path)
    if os.path.exists(path):
        shutil.rmtree(path)
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), _quiet_tensorflow_logs():
        images = v1.placeholder(tf.float32, [None, 2], name="images")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        weight = v1.get_variable("w", initializer=tf.constant(CONDITIONAL_SIGMOID_WEIGHT), use_resource=True)
        bias = v1.get_variable("b", initializer=tf.constant(CONDITIONAL_SIGMOID_BIAS), use_resource=True)
        prediction = tf.sigmoid(tf.matmul(images, weight)[:, 0] + tf.gather(bias, labels), name="prediction")
        z = v1.placeholder(tf.float32, [None, 2], name="z")
        generator_labels = v1.placeholder(tf.int32, [None], name="labels_g")
        signatures = {
            "generator": v1.saved_model.predict_signature_def(
                {"z": z, "labels": generator_labels}, {"default": z * 1.0}
            ),
            "discriminator": v1.saved_model.predict_signature_def(
                {"images": images, "labels": labels}, {"prediction": prediction}
            ),
        }
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(path)
            tags = [] if tf1_hub_format else ["serve"]
            builder.add_meta_graph_and_variables(session, tags, signature_def_map=signatures)
            builder.save()
    if tf1_hub_format:  # tensorflow_hub's ModuleDef {format: FORMAT_V3}; loaders read only its presence
        with open(os.path.join(path, "tfhub_module.pb"), "wb") as handle:
            handle.write(b"\x08\x03")
    return path
