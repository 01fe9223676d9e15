"""What a `RefinementModel` accepts as input: latents or samples, conditions, positions.

User input (NumPy arrays, tensors, `(latents, conditions)` pairs) is checked
on the host before anything is compiled (`host_inputs`), and the Keras
`call` path unpacks its tensors in the graph (`graph_inputs`). Errors name
the argument (`z`, or `x` for samples refined in data space) and the fix.

Examples:
    >>> import keras
    >>> generator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> infer_input_shape(generator)
    (3,)
"""

import numpy as np
import tensorflow as tf

from dgflow_tf._validation import as_batch_tensor, check_batch_tensor


def infer_input_shape(generator):
    """The per-sample input shape a generator declares, else `None`.

    Read from a `latent_shape` attribute of positive ints (e.g. `adapters.flows.FlowGenerator`'s base
    shape), else from a Keras/tf_keras model's single input."""
    declared = getattr(generator, "latent_shape", None)
    if (
        isinstance(declared, (list, tuple))
        and declared
        and all(isinstance(dim, int) and not isinstance(dim, bool) and dim > 0 for dim in declared)
    ):
        return tuple(declared)
    for attribute in ("inputs", "input_shape"):
        try:
            value = getattr(generator, attribute, None)
        except (AttributeError, ValueError):
            continue
        if value is None:
            continue
        if isinstance(value, (list, tuple)) and value and hasattr(value[0], "shape"):
            if len(value) != 1:
                return None
            value = value[0].shape
        elif hasattr(value, "shape"):
            value = value.shape
        shape = tuple(value)[1:]
        if shape and all(isinstance(dim, int) for dim in shape):
            return shape
    return None


def check_generator(generator, space):
    """Raises for a generator that `space` cannot use: `None` in latent space, or not callable."""
    if generator is None:
        if space == "latent":
            raise ValueError(
                "`generator` is required with space='latent'. Received: generator=None. "
                "Pass the generator, or use space='data' to refine samples directly."
            )
    elif not callable(generator):
        raise TypeError(
            "`generator` must be a callable mapping latents to samples (a Keras model, "
            f"tf.Module or function). Received: generator={generator!r} of type "
            f"{type(generator).__name__}"
        )


def input_name(model):
    """`"z"` for latents, `"x"` for samples refined directly in data space."""
    return "z" if model.space == "latent" or model.generator is not None else "x"


def inputs_error(model, inputs):
    """The message for inputs of the wrong structure (a pair for an unconditional model, or not)."""
    name = input_name(model)
    if model.conditional:
        return (
            f"This model is conditional: pass `({name}, conditions)`, a pair of arrays with one row "
            f"per sample. Received: {type(inputs).__name__}"
        )
    return (
        f"This model is not conditional: pass `{name}` as one array. Received: a "
        f"{type(inputs).__name__}. For labelled generators build the model with conditional=True."
    )


def host_inputs(model, x):
    """Validated `(latents, conditions)` tensors from user input.

    Raises:
        TypeError: for a non-numeric `x`.
        ValueError: for a wrong shape, NaN/Inf, latents outside a bounded
            prior's support, conditions without one row per latent, or a pair
            given to an unconditional model (or a lone array to a
            conditional one).
    """
    conditions = None
    if model.conditional:
        if not (isinstance(x, (tuple, list)) and len(x) == 2):
            raise ValueError(inputs_error(model, x))
        x, conditions = x
    elif isinstance(x, (tuple, list)) and len(x) == 2 and not np.isscalar(x[0]) and np.ndim(x[0]) > 1:
        raise ValueError(inputs_error(model, x))
    latents = as_batch_tensor(x, input_name(model), model.latent_shape, model.compute_dtype)
    prior = model.latent_prior
    if input_name(model) == "z" and prior.bounded and not prior.contains(latents):
        raise ValueError(
            f"`z` has values outside the latent prior's support [{prior.low}, {prior.high}] ({prior!r}). "
            "Draw latents with `model.sample_latents`, or pass the generator's real prior as `latent_prior`."
        )
    if conditions is not None:
        conditions = tf.convert_to_tensor(conditions)
        if conditions.shape.rank == 0 or conditions.shape[0] != latents.shape[0]:
            raise ValueError(
                "`conditions` must have one row per latent. Received: conditions with shape "
                f"{conditions.shape.as_list()} for {latents.shape[0]} latents."
            )
    if len(latents):
        model.resolve_step_size(latents, conditions)
    return latents, conditions


def graph_inputs(model, inputs):
    """`(latents, positions, conditions)` tensors of `RefinementModel.call`'s inputs.

    `inputs` is a tensor, a `(latents, conditions)` pair, or a dict with
    `"latents"`, optional `"positions"` (each sample's index in the full
    input, which keys its noise; `0 .. batch - 1` by default) and, if
    conditional, `"conditions"`.
    """
    conditions = None
    if isinstance(inputs, dict):
        latents, positions = inputs["latents"], inputs.get("positions")
        conditions = inputs.get("conditions")
    elif isinstance(inputs, (tuple, list)):
        if not model.conditional or len(inputs) != 2:
            raise ValueError(inputs_error(model, inputs))
        (latents, conditions), positions = inputs, None
    else:
        latents, positions = inputs, None
    if model.conditional and conditions is None:
        raise ValueError(inputs_error(model, inputs))
    latents = tf.convert_to_tensor(latents)
    if positions is None:
        positions = tf.range(tf.shape(latents)[0], dtype=tf.int64)
    check_batch_tensor(latents, input_name(model), model.latent_shape)
    return latents, tf.cast(positions, tf.int64), conditions
