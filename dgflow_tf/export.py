"""SavedModel export of a `RefinementModel`: the K steps inside the served graph.

`RefinementModel.export` checks its arguments and hands off here, as
`keras.Model.export` hands off to Keras' `export/saved_model.py`. The
SavedModel's `serve` signature takes `z` (`[batch, *latent_shape]` in the
model's dtype), for a conditional model `conditions`, and `seed` (a scalar
int64), and returns the refined samples. It loads with
`tf.saved_model.load` in a process without `dgflow_tf` (or TFP) and returns
exactly what `model.refine(z, seed=seed).samples` returns.
"""

import keras
import tensorflow as tf

from dgflow_tf import errors
from dgflow_tf import noise as noise_lib


def conditions_signature(model, spec=None):
    """The `conditions` input spec: from `spec`, or from a two-input Keras generator.

    Raises:
        ValueError: if neither gives one.
    """
    if spec is not None:
        shape = tf.TensorShape(spec.shape)
        return tf.TensorSpec([None, *shape[1:]], spec.dtype, name="conditions")
    inputs = getattr(model.generator, "inputs", None)
    if isinstance(inputs, (list, tuple)) and len(inputs) == 2:
        return tf.TensorSpec([None, *inputs[1].shape[1:]], inputs[1].dtype, name="conditions")
    raise ValueError(
        "Exporting a conditional model needs the conditions' spec: pass "
        "condition_spec=tf.TensorSpec([None], tf.int32) (or your labels' shape and dtype)."
    )


def _check_exportable(model):
    """Raises `ValueError`, before anything is written, if a part reads TF1 reference variables."""
    for role, network in (("generator", model.generator), ("critic", model.critic)):
        # Every nested layer, also those a user's Keras model holds in lists (Sequential, Functional).
        parts = [network, *network._flatten_layers(include_self=False)] if network is not None else []
        for part in parts:
            if getattr(part, "uses_ref_variables", False):
                raise ValueError(
                    f"Cannot export: the {role} ({part.signature_name!r} signature of a TF1 module) reads "
                    "TF1 reference variables, which a SavedModel written from TF2 does not capture: the "
                    "exported model would fail with 'uninitialized value' when loaded. Refine with "
                    "predict or refine_to_shards instead, or re-export the module with resource "
                    "variables (tf.compat.v1.enable_resource_variables() before building its graph)."
                )


def export_refinement(
    model,
    filepath,
    *,
    format="tf_saved_model",
    verbose=False,
    input_signature=None,
    condition_spec=None,
    **kwargs,
):
    """Writes `model`'s SavedModel to `filepath` (see the module docstring).

    Args:
        model: a `RefinementModel` with a known `latent_shape`.
        filepath: directory to write.
        format: must be `"tf_saved_model"`.
        verbose: print the endpoint summary. Defaults to `False`.
        input_signature: must be `None`: the signature is fixed.
        condition_spec: a `tf.TensorSpec` of one batch of conditions, for a
            conditional model whose generator does not declare its inputs.
        **kwargs: none are accepted.

    Raises:
        TypeError: for an unknown keyword argument.
        ValueError: for another `format`, an `input_signature`, an unknown
            latent shape, a conditional model without a condition spec, or
            a generator or critic from a TF1 module with reference variables
            (before anything is written).
    """
    if format != "tf_saved_model":
        raise ValueError(f"`format` must be 'tf_saved_model'. Received: format={format!r}")
    if input_signature is not None:
        raise ValueError(
            "RefinementModel.export writes its own signature (z, [conditions,] seed); "
            "`input_signature` is not supported."
        )
    if kwargs:
        raise TypeError(f"Unknown arguments to export: {sorted(kwargs)}")
    if model.latent_shape is None:
        raise ValueError("Exporting needs the latent shape: build the model with latent_shape=...")
    _check_exportable(model)
    latent_spec = tf.TensorSpec([None, *model.latent_shape], model.compute_dtype, name="z")
    seed_spec = tf.TensorSpec([], tf.int64, name="seed")

    def refine(z, seed, conditions=None):
        positions = tf.range(tf.shape(z)[0], dtype=tf.int64)
        outputs = model._flow(z, positions, noise_lib.seed_from_int64(seed), conditions)
        return errors.apply_policy_in_graph(model.on_nonfinite, outputs, positions)

    if model.conditional:
        conditions_signature(model, condition_spec)  # names a missing condition_spec first
    # step_size="auto" resolves eagerly, before tracing; the SavedModel holds the number.
    model.resolve_step_size()
    archive = keras.export.ExportArchive()
    archive.track(model)
    if model.conditional:
        archive.add_endpoint(
            "serve",
            lambda z, conditions, seed: refine(z, seed, conditions),
            input_signature=[latent_spec, conditions_signature(model, condition_spec), seed_spec],
        )
    else:
        archive.add_endpoint(
            "serve", lambda z, seed: refine(z, seed), input_signature=[latent_spec, seed_spec]
        )
    archive.write_out(filepath, verbose=verbose)
