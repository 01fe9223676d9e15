"""Refine GANs published on TF-Hub (or any SavedModel with signatures).

`hub.KerasLayer` is a tf_keras layer, which Keras 3 models reject, so this
module wraps the signatures of a `hub.load`ed object in Keras 3 layers of its
own. Three layouts are recognised:

- **compare_gan** (TF1 Hub format, e.g. `google/compare_gan/...`): one
  MetaGraph per tag set `{"gen", "bs<N>"}` and `{"disc", "bs<N>"}` with N in
  8..128 or `None`, each with a `default` signature: the generator maps
  `z` (uniform in `[-1, 1]`) to `generated` images, the discriminator maps
  `images` to `logits` (and `labels` in conditional modules).
- **named signatures** (TF2 SavedModel): `generator` and, optionally,
  `discriminator` signatures in one MetaGraph.
- **generator only** (ProGAN, BigGAN): a `default` or `serving_default`
  signature. Refine it with a critic you supply or train (e.g.
  `dgflow_tf.train_corrector`); asking for its discriminator is an error.

Signatures with a fixed batch size (compare_gan's `bs64`) are served by
padding the last chunk and mapping over chunks, so any number of samples can
be refined. Gradients flow through the loaded graphs; `load_gan` checks that
they do before refinement starts.

Nothing here downloads anything unless `handle` is a URL and the machine is
online; the tests build small modules with the same layouts on disk.

Example:

>>> gan = load_gan("/path/to/compare_gan_module")  # doctest: +SKIP
>>> model = hub_refinement_model(gan, num_steps=25, seed=0)  # doctest: +SKIP
>>> images = model.predict(model.sample_latents(64, seed=0))  # doctest: +SKIP
"""

import os
import re

import keras
import tensorflow as tf

GENERATOR_INPUTS = ("z", "latent_vector", "latents", "inputs", "input")
DISCRIMINATOR_INPUTS = ("images", "x", "inputs", "input")
CONDITION_INPUTS = ("labels", "y")
GENERATOR_OUTPUTS = ("generated", "default", "images", "samples", "output_0")
DISCRIMINATOR_OUTPUTS = ("logits", "default", "output_0")
_BATCH_TAG = re.compile(r"^bs(\d+|None)$")


def _choose(keys, requested, candidates, what, argument):
    keys = sorted(keys)
    if requested is not None:
        if requested not in keys:
            raise ValueError(f"`{argument}`={requested!r} is not one of the signature's {what}: {keys}")
        return requested
    if len(keys) == 1:
        return keys[0]
    for name in candidates:
        if name in keys:
            return name
    raise ValueError(f"Cannot tell which of the signature's {what} {keys} to use: pass `{argument}`.")


class HubSignature(keras.layers.Layer):
    """One signature of a loaded SavedModel or hub module as a Keras 3 layer.

    The layer is called on a batch (or `[batch, conditions]` for a
    conditional signature) and returns one output tensor. Inputs other than
    the batch and the conditions must be given as `constants` (e.g. BigGAN's
    `truncation`).

    Args:
        module: the object returned by `hub.load` or `tf.saved_model.load`.
            The layer keeps it, so its variables stay alive and are tracked.
        signature: name of the signature. Defaults to `"default"`.
        input_key: the signature input that takes the batch. Defaults to the
            only input, or the first of `z`, `latent_vector`, `latents`,
            `images`, `x`, `inputs` found.
        condition_key: the input that takes labels, or `None`. Defaults to
            `labels` or `y` when the signature has one.
        output_key: the output to return. Defaults to the only output, or
            the first of `generated`, `logits`, `default`, `images`,
            `samples`, `output_0` found.
        constants: dict of fixed values for the signature's other inputs.
        role: `"generator"` or `"discriminator"`, which only orders the
            default key candidates. Defaults to `"generator"`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Raises:
        KeyError: if `signature` is not one of the module's signatures.
        ValueError: if an input or output cannot be identified, or an input
            is left without a value.

    Attributes:
        fixed_batch_size: the signature's static batch size, or `None`.
        sample_shape: the per-sample shape of the batch input.
        conditional: whether the signature takes conditions.
        latent_prior: for a generator, the latent prior its module's layout
            implies (`"uniform"` for compare_gan), else `None`.
    """

    def __init__(
        self,
        module,
        signature="default",
        input_key=None,
        condition_key=None,
        output_key=None,
        constants=None,
        role="generator",
        **kwargs,
    ):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        signatures = getattr(module, "signatures", None)
        if signatures is None or signature not in signatures:
            available = [] if signatures is None else sorted(signatures.keys())
            raise KeyError(
                f"The module has no signature {signature!r}. Its signatures: {available}. "
                "Pass the right name (e.g. signature='serving_default')."
            )
        self.module = module
        self.signature_name = signature
        function = signatures[signature]
        specs = dict(function.structured_input_signature[1])
        generator_role = role == "generator"
        self.input_key = _choose(
            specs,
            input_key,
            GENERATOR_INPUTS if generator_role else DISCRIMINATOR_INPUTS,
            "inputs",
            "input_key",
        )
        if condition_key is None:
            condition_key = next((key for key in CONDITION_INPUTS if key in specs), None)
        elif condition_key not in specs:
            raise ValueError(
                f"`condition_key`={condition_key!r} is not one of the signature's inputs: {sorted(specs)}"
            )
        self.condition_key = condition_key
        self.constants = dict(constants or {})
        missing = sorted(set(specs) - {self.input_key, self.condition_key} - set(self.constants))
        if missing:
            raise ValueError(
                f"The signature {signature!r} also takes {missing}: pass values for them in `constants`, "
                f"e.g. constants={{{missing[0]!r}: ...}}."
            )
        outputs = function.structured_outputs
        if not isinstance(outputs, dict):
            outputs = {"output_0": outputs}
        self.output_key = _choose(
            outputs,
            output_key,
            GENERATOR_OUTPUTS if generator_role else DISCRIMINATOR_OUTPUTS,
            "outputs",
            "output_key",
        )
        input_spec = specs[self.input_key]
        self.fixed_batch_size = input_spec.shape[0]
        self.sample_shape = tuple(input_spec.shape[1:])
        self.batch_dtype = input_spec.dtype
        self.condition_spec = None if self.condition_key is None else specs[self.condition_key]
        self.output_sample_shape = tuple(outputs[self.output_key].shape[1:])
        self.output_dtype = outputs[self.output_key].dtype
        self.latent_prior = None

    @property
    def conditional(self):
        return self.condition_key is not None

    def build(self, input_shape):
        self.built = True

    def _feeds(self, batch, conditions):
        feeds = {self.input_key: batch}
        if self.conditional:
            feeds[self.condition_key] = conditions
        for key, value in self.constants.items():
            feeds[key] = value
        return feeds

    def _call_once(self, batch, conditions):
        function = self.module.signatures[self.signature_name]
        return function(**self._feeds(batch, conditions))[self.output_key]

    def call(self, inputs):
        if self.conditional:
            if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
                raise ValueError(
                    f"The signature {self.signature_name!r} is conditional: call it on [batch, conditions]."
                )
            batch, conditions = inputs
        else:
            batch, conditions = inputs, None
        batch = tf.convert_to_tensor(batch)
        if batch.dtype != self.batch_dtype:
            raise TypeError(
                f"The signature {self.signature_name!r} takes {self.batch_dtype.name} "
                f"`{self.input_key}`. Received: {batch.dtype.name}."
            )
        if self.fixed_batch_size is None:
            return self._call_once(batch, conditions)
        return self._call_in_chunks(batch, conditions)

    def _call_in_chunks(self, batch, conditions):
        # Pad the batch to a multiple of the signature's batch size, map the
        # signature over the chunks, and drop the padded rows' outputs (so they
        # take no part in the values or the gradients that are returned).
        size = self.fixed_batch_size
        count = tf.shape(batch)[0]
        chunks = (count + size - 1) // size
        padding = chunks * size - count

        def split(tensor):
            pads = [[0, padding]] + [[0, 0]] * (tensor.shape.rank - 1)
            padded = tf.pad(tensor, pads)
            return tf.reshape(padded, tf.concat([[chunks, size], tf.shape(tensor)[1:]], axis=0))

        elements = (
            (split(batch),) if conditions is None else (split(batch), split(tf.convert_to_tensor(conditions)))
        )
        outputs = tf.map_fn(
            lambda chunk: self._call_once(chunk[0], chunk[1] if len(chunk) > 1 else None),
            elements,
            fn_output_signature=tf.TensorSpec([size, *self.output_sample_shape], self.output_dtype),
        )
        outputs = tf.reshape(outputs, tf.concat([[chunks * size], tf.shape(outputs)[2:]], axis=0))
        return outputs[:count]


class HubGAN:
    """A generator and (when the module has one) a discriminator loaded from a hub module.

    Build it with `load_gan`.

    Attributes:
        generator: a `HubSignature` from latents to samples.
        latent_shape: per-sample latent shape.
        conditional: whether the generator takes labels.
        layout: `"compare_gan"`, `"signatures"` or `"generator_only"`.
        latent_prior: the prior the layout implies: `"uniform"` for
            compare_gan modules, `"normal"` otherwise.
    """

    def __init__(self, generator, discriminator, layout, handle):
        self.generator = generator
        self._discriminator = discriminator
        self.layout = layout
        self.handle = handle
        self.latent_shape = generator.sample_shape
        self.conditional = generator.conditional
        self.latent_prior = "uniform" if layout == "compare_gan" else "normal"
        generator.latent_prior = self.latent_prior

    @property
    def has_discriminator(self):
        return self._discriminator is not None

    @property
    def discriminator(self):
        """The discriminator's logits as a `HubSignature`.

        Raises:
            ValueError: if the module has no discriminator.
        """
        if self._discriminator is None:
            raise ValueError(
                f"The module {self.handle!r} has no discriminator (layout {self.layout!r}). Pass a critic "
                "of your own to hub_refinement_model(..., critic=...), e.g. a density-ratio corrector "
                "fitted with dgflow_tf.train_corrector on real and generated samples."
            )
        return self._discriminator

    def __repr__(self):
        return (
            f"HubGAN(handle={self.handle!r}, layout={self.layout!r}, latent_shape={self.latent_shape}, "
            f"has_discriminator={self.has_discriminator}, conditional={self.conditional})"
        )


def _tag_sets(path):
    """The MetaGraph tag sets of the SavedModel at `path`, or `[]` if unreadable."""
    from tensorflow.core.protobuf import saved_model_pb2

    filename = os.path.join(path, "saved_model.pb")
    if not tf.io.gfile.exists(filename):
        return []
    from google.protobuf.message import DecodeError

    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(filename, "rb") as file:
        try:
            saved_model.ParseFromString(file.read())
        except DecodeError as error:
            raise ValueError(
                f"{filename!r} is not a readable SavedModel proto (truncated?): {error}"
            ) from error
    return [frozenset(meta_graph.meta_info_def.tags) for meta_graph in saved_model.meta_graphs]


def _batch_tags(tag_sets, part):
    sizes = {}
    for tags in tag_sets:
        if part in tags:
            for tag in tags:
                match = _BATCH_TAG.match(tag)
                if match:
                    sizes[None if match.group(1) == "None" else int(match.group(1))] = tags
    return sizes


def _pick_tags(sizes, batch_size, part):
    if batch_size is not None:
        if batch_size not in sizes:
            available = sorted(f"bs{size}" for size in sizes)
            raise ValueError(f"The module has no {part!r} MetaGraph for batch_size={batch_size}: {available}")
        return sizes[batch_size]
    # A dynamic batch needs no padding; otherwise the largest batch means the fewest chunks.
    if None in sizes:
        return sizes[None]
    return sizes[max(sizes)]


def check_differentiable(layer, what):
    """Raises a clear error unless `layer`'s output has a gradient with respect to its input.

    Args:
        layer: a `HubSignature`.
        what: a name for messages, e.g. `"generator"`.

    Raises:
        ValueError: if the gradient is disconnected or an op has no gradient.
    """
    size = layer.fixed_batch_size or 2
    probe = tf.zeros([size, *layer.sample_shape], layer.batch_dtype)
    inputs = probe
    if layer.conditional:
        spec = layer.condition_spec
        inputs = [probe, tf.zeros([size, *spec.shape[1:]], spec.dtype)]
    try:
        with tf.GradientTape() as tape:
            tape.watch(probe)
            total = tf.reduce_sum(tf.cast(layer(inputs), tf.float32))
        gradient = tape.gradient(total, probe)
    except LookupError as error:  # an op without a registered gradient
        raise ValueError(
            f"The module's {what} ({layer.signature_name!r} signature) cannot be differentiated with "
            f"respect to {layer.input_key!r}: {error}. DGflow needs its gradient; re-export the module "
            "without that op, or refine in data space with a differentiable critic."
        ) from error
    if gradient is None:
        raise ValueError(
            f"The module's {what} ({layer.signature_name!r} signature) cannot be differentiated with "
            f"respect to {layer.input_key!r}: the gradient is disconnected (the graph may round, "
            "quantise or stop gradients). DGflow needs this gradient; use another module or signature."
        )


def load_gan(
    handle,
    *,
    batch_size=None,
    generator_signature="generator",
    discriminator_signature="discriminator",
    generator_kwargs=None,
    discriminator_kwargs=None,
    check_gradients=True,
):
    """Loads a GAN's generator and discriminator from a TF-Hub handle or a local SavedModel.

    Args:
        handle: a TF-Hub handle (URL; needs a network connection once, then
            the hub cache) or a local directory.
        batch_size: for compare_gan modules, which `bs<N>` MetaGraph to use.
            Defaults to `bsNone` when present, else the largest.
        generator_signature: the generator's signature name in a
            TF2 SavedModel. Defaults to `"generator"`; `default` and
            `serving_default` are tried when it is absent.
        discriminator_signature: the discriminator's signature name.
            Defaults to `"discriminator"`.
        generator_kwargs: extra `HubSignature` arguments for the generator
            (`input_key`, `output_key`, `condition_key`, `constants`).
        discriminator_kwargs: the same for the discriminator.
        check_gradients: whether to check, with one small batch, that the
            generator and discriminator can be differentiated with respect
            to their inputs. Defaults to `True`.

    Returns:
        A `HubGAN`.

    Raises:
        FileNotFoundError: if a local `handle` does not exist.
        ValueError: if the module has no usable generator signature, or a
            signature cannot be differentiated.
    """
    import tensorflow_hub as hub

    handle = os.fspath(handle)
    if "://" not in handle and not tf.io.gfile.exists(handle):
        raise FileNotFoundError(
            f"`handle` {handle!r} is neither a URL nor an existing directory. Pass a TF-Hub handle "
            "or the path of a SavedModel."
        )
    path = hub.resolve(handle)
    generator_kwargs = dict(generator_kwargs or {})
    discriminator_kwargs = dict(discriminator_kwargs or {})
    tag_sets = _tag_sets(path)
    generator_sizes = _batch_tags(tag_sets, "gen")
    if generator_sizes:
        layout = "compare_gan"
        tags = _pick_tags(generator_sizes, batch_size, "gen")
        generator = HubSignature(
            hub.load(path, tags=set(tags)), "default", name="hub_generator", **generator_kwargs
        )
        discriminator = None
        discriminator_sizes = _batch_tags(tag_sets, "disc")
        if discriminator_sizes:
            tags = _pick_tags(discriminator_sizes, batch_size, "disc")
            discriminator = HubSignature(
                hub.load(path, tags=set(tags)),
                "default",
                role="discriminator",
                name="hub_discriminator",
                **discriminator_kwargs,
            )
    else:
        module = hub.load(path)
        names = sorted(getattr(module, "signatures", {}).keys())
        if generator_signature in names:
            layout, name = "signatures", generator_signature
        else:
            name = next((n for n in ("default", "serving_default") if n in names), None)
            if name is None:
                raise ValueError(
                    f"Cannot find a generator in {handle!r}: no {generator_signature!r}, 'default' or "
                    f"'serving_default' signature (signatures: {names}) and no 'gen' MetaGraphs. Pass "
                    "generator_signature=..."
                )
            layout = "generator_only"
        generator = HubSignature(module, name, name="hub_generator", **generator_kwargs)
        discriminator = None
        if discriminator_signature in names:
            layout = "signatures"
            discriminator = HubSignature(
                module,
                discriminator_signature,
                role="discriminator",
                name="hub_discriminator",
                **discriminator_kwargs,
            )
    gan = HubGAN(generator, discriminator, layout, handle)
    if check_gradients:
        check_differentiable(gan.generator, "generator")
        if gan.has_discriminator:
            check_differentiable(gan.discriminator, "discriminator")
    return gan


def hub_refinement_model(gan, critic=None, *, latent_prior=None, **kwargs):
    """A `RefinementModel` for a hub GAN.

    Args:
        gan: a `HubGAN` from `load_gan`, or a handle to load with defaults.
        critic: the log density ratio to refine with. Defaults to the
            module's discriminator logits; required for generator-only
            modules.
        latent_prior: defaults to the layout's prior (`"uniform"` for
            compare_gan, `"normal"` otherwise).
        **kwargs: other `RefinementModel` arguments (`divergence`,
            `step_size`, `num_steps`, `seed`, `boundary`, ...).

    Returns:
        A `RefinementModel` whose generator and critic are the module's
        signatures; conditional if the generator takes labels.

    Raises:
        ValueError: if no critic is given and the module has no
            discriminator.
    """
    from dgflow_tf.refinement import RefinementModel  # the engine imports this package

    if not isinstance(gan, HubGAN):
        gan = load_gan(gan)
    if critic is None:
        critic = gan.discriminator
    return RefinementModel(
        gan.generator,
        critic,
        latent_shape=gan.latent_shape,
        latent_prior=gan.latent_prior if latent_prior is None else latent_prior,
        conditional=gan.conditional,
        **kwargs,
    )
