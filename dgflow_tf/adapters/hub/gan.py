"""Loading GANs from hub modules and SavedModels: layouts, tag sets, the refinement model."""

import os
import re
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from dgflow_tf.adapters.hub.resolve import TF1_HUB_PROTO, is_url, load_module, resolve
from dgflow_tf.adapters.hub.signature import (
    HubSignature,
)
from dgflow_tf.refinement import RefinementModel

_BATCH_TAG = re.compile(r"^bs(\d+|None)$")


class HubGAN:
    """A generator and (when the module has one) a discriminator loaded from a hub module.

    Build it with `load_gan`.

    Attributes:
        generator: a `HubSignature` from latents to samples.
        latent_shape: per-sample latent shape.
        conditional: whether the generator takes labels.
        layout: `"compare_gan"`, `"signatures"` or `"generator_only"`.
        tf1_hub_format: whether the module is in the TF1 Hub format (a
            `tfhub_module.pb` beside `saved_model.pb`).
        latent_prior: the prior of the published module family that the
            layout identifies (see `family_prior`).
    """

    def __init__(self, generator, discriminator, layout, handle, tf1_hub_format=False):
        self.generator = generator
        self._discriminator = discriminator
        self.layout = layout
        self.handle = handle
        self.tf1_hub_format = tf1_hub_format
        self.latent_shape = generator.sample_shape
        self.conditional = generator.conditional
        self.latent_prior = family_prior(layout, tf1_hub_format)
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


def family_prior(layout, tf1_hub_format):
    """The latent prior of the published module family that a layout identifies.

    - MetaGraphs tagged `{gen, bsN}` and `{disc, bsN}` are compare_gan's
      S3GAN and SSGAN modules, whose `z` is standard normal: `"normal"`.
    - TF1 Hub modules with `generator` and `discriminator` signatures are
      compare_gan's `model_N` exports, whose `z` is uniform on `[-1, 1]`:
      `"uniform"`.
    - Anything else (TF2 SavedModels, generator-only modules such as ProGAN):
      `"normal"`. BigGAN's `z` is `truncation` times a normal truncated to
      `[-2, 2]`: pass `latent_prior=priors.TruncatedNormal(-2, 2, scale=truncation)`.

    These follow the families' published documentation; the tests use modules
    written here in each layout, not downloaded ones. Pass `latent_prior=` to
    `hub_refinement_model` when a module's documentation says otherwise.

    Args:
        layout: `"compare_gan"`, `"signatures"` or `"generator_only"`.
        tf1_hub_format: whether the module has a `tfhub_module.pb`.

    Returns:
        `"normal"` or `"uniform"`.
    """
    return "uniform" if layout == "signatures" and tf1_hub_format else "normal"


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
            from dgflow_tf import integrity

            raise integrity.damaged(path, "graph (saved_model.pb)", error) from error
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


class UnknownBatchSizeError(ValueError):
    """A compare_gan module has no MetaGraph for the batch size asked for."""


def _pick_tags(sizes, batch_size, part):
    if batch_size is not None:
        if batch_size not in sizes:
            available = sorted(f"bs{size}" for size in sizes)
            raise UnknownBatchSizeError(
                f"The module has no {part!r} MetaGraph for batch_size={batch_size}: {available}"
            )
        return sizes[batch_size]
    # A dynamic batch needs no padding; otherwise the largest batch means the fewest chunks.
    if None in sizes:
        return sizes[None]
    return sizes[max(sizes)]


def _check_tags(tags, tag_sets, path):
    """The tag set to load: `tags` if the module has it; the empty set for the untagged (TF1 Hub
    default) MetaGraph beside others; `None` if the module has only one."""
    shown = sorted(sorted(tag_set) for tag_set in tag_sets)
    if tags is not None:
        tags = {tags} if isinstance(tags, str) else set(tags)
        if tag_sets and frozenset(tags) not in tag_sets:
            raise ValueError(
                f"`tags` {sorted(tags)} is not a MetaGraph of {path!r}; its tag sets are {shown}."
            )
        return tags
    has_tf1_default = frozenset() in tag_sets
    if len(tag_sets) > 1 and not has_tf1_default:
        raise ValueError(
            f"{path!r} holds several MetaGraphs, with the tag sets {shown}: pass `tags=` to choose one "
            f"(e.g. tags={set(shown[0])!r})."
        )
    if len(tag_sets) > 1:
        # The TF1 Hub format's default graph is the untagged one; tf.saved_model.load needs it named.
        return set()
    return None


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
    handle: str | os.PathLike,
    *,
    batch_size: int | None = None,
    generator_signature: str = "generator",
    discriminator_signature: str | None = "discriminator",
    generator_kwargs: dict | None = None,
    discriminator_kwargs: dict | None = None,
    check_gradients: bool = True,
    tags: str | set[str] | None = None,
) -> HubGAN:
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
        tags: the MetaGraph's tag set, for a SavedModel with several (e.g.
            `{"serve"}` of an export with `{serve}` and `{serve, tpu}`).
            Defaults to the only MetaGraph, or the TF1 Hub format's untagged
            one. compare_gan modules choose theirs by `batch_size`; `tags`
            with one is an error.

    Returns:
        A `HubGAN`.

    Raises:
        FileNotFoundError: if a local `handle` does not exist.
        ValueError: if the module has no usable generator signature, a
            signature cannot be differentiated, or the module has several
            MetaGraphs and `tags` does not name one (the message lists them).

    Examples:
        >>> gan = load_gan("exported/", tags={"serve"})  # doctest: +SKIP
    """
    handle = os.fspath(handle)
    if not is_url(handle) and not tf.io.gfile.exists(handle):
        raise FileNotFoundError(
            f"`handle` {handle!r} is neither a URL nor an existing directory. Pass a TF-Hub handle "
            "or the path of a SavedModel."
        )
    path = resolve(handle)
    generator_kwargs = dict(generator_kwargs or {})
    discriminator_kwargs = dict(discriminator_kwargs or {})
    tag_sets = _tag_sets(path)
    generator_sizes = _batch_tags(tag_sets, "gen")
    if generator_sizes:
        layout = "compare_gan"
        if tags is not None:
            raise ValueError(
                f"{handle!r} is a compare_gan module: its MetaGraphs are chosen by `batch_size` (one of "
                f"{sorted(f'bs{size}' for size in generator_sizes)}), not by `tags`. Drop tags=."
            )
        tags = _pick_tags(generator_sizes, batch_size, "gen")
        generator = HubSignature(
            load_module(path, tags=set(tags)), "default", name="hub_generator", **generator_kwargs
        )
        discriminator = None
        discriminator_sizes = _batch_tags(tag_sets, "disc")
        if discriminator_sizes:
            tags = _pick_tags(discriminator_sizes, batch_size, "disc")
            discriminator = HubSignature(
                load_module(path, tags=set(tags)),
                "default",
                role="discriminator",
                name="hub_discriminator",
                **discriminator_kwargs,
            )
    else:
        module = load_module(path, tags=_check_tags(tags, tag_sets, path))
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
    tf1_hub_format = tf.io.gfile.exists(tf.io.gfile.join(path, TF1_HUB_PROTO))
    gan = HubGAN(generator, discriminator, layout, handle, tf1_hub_format=tf1_hub_format)
    if check_gradients:
        check_differentiable(gan.generator, "generator")
        if gan.has_discriminator:
            check_differentiable(gan.discriminator, "discriminator")
    return gan


def hub_refinement_model(
    gan: HubGAN, critic: Callable | None = None, *, latent_prior: str | Any | None = None, **kwargs: Any
) -> RefinementModel:
    """A `RefinementModel` for a hub GAN.

    Args:
        gan: a `HubGAN` from `load_gan`, or a handle to load with defaults.
        critic: the log density ratio to refine with. Defaults to the
            module's discriminator logits; required for generator-only
            modules.
        latent_prior: defaults to the module family's prior
            (`gan.latent_prior`, see `family_prior`).
        **kwargs: other `RefinementModel` arguments (`divergence`,
            `step_size`, `num_steps`, `seed`, `boundary`, ...).

    Returns:
        A `RefinementModel` whose generator and critic are the module's
        signatures; conditional if the generator takes labels.

    Raises:
        ValueError: if no critic is given and the module has no
            discriminator.
    """

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
