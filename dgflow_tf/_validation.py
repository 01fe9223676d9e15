"""Argument checks shared by the public API: each error names the argument and echoes it."""

import math
import numbers


def check_positive_float(value, name):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"`{name}` must be a finite positive number. Received: {name}={value!r}")
    return float(value)


def check_non_negative_float(value, name):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"`{name}` must be a finite number >= 0. Received: {name}={value!r}")
    return float(value)


def check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def check_non_negative_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0. Received: {name}={value!r}")
    return int(value)


def check_batch_tensor(tensor, name, event_shape=None):
    """Checks a `[batch, ...]` floating tensor's dtype, rank and per-sample shape.

    Args:
        tensor: a `tf.Tensor`.
        name: the argument's name in error messages (`z` or `x`).
        event_shape: expected per-sample shape, or `None` for any.

    Raises:
        TypeError: for a non-floating dtype.
        ValueError: for a missing batch axis or a wrong per-sample shape.
    """
    if not tensor.dtype.is_floating:
        raise TypeError(
            f"`{name}` must be a floating-point array. Received: dtype {tensor.dtype.name}. "
            f"Convert it, e.g. {name}.astype('float32')."
        )
    shape = tensor.shape
    if shape.rank is None or shape.rank < 2:
        raise ValueError(
            f"`{name}` must have a batch axis, shape [batch, ...]. Received: shape "
            f"{shape.as_list() if shape.rank is not None else shape}. For one sample use {name}[None]."
        )
    if event_shape is not None and tuple(shape[1:]) != tuple(event_shape):
        raise ValueError(
            f"`{name}` must have shape [batch, {', '.join(map(str, event_shape))}] to match "
            f"the generator's input. Received: shape {shape.as_list()}"
        )


def as_batch_tensor(x, name, event_shape=None, dtype=None):
    """Converts host input to a checked, finite `[batch, ...]` tensor.

    Args:
        x: array-like or tensor (not a `tf.data.Dataset`).
        name: the argument's name in error messages.
        event_shape: expected per-sample shape, or `None`.
        dtype: floating dtype to cast floating input to, or `None` to keep it.

    Returns:
        A `tf.Tensor`.

    Raises:
        TypeError: for a dataset or a non-floating dtype.
        ValueError: for a wrong shape or NaN/Inf values.
    """
    import tensorflow as tf

    if isinstance(x, tf.data.Dataset):
        raise TypeError(
            f"`{name}` must be an array or tensor; datasets are not supported because the "
            "noise is keyed by each sample's position. Materialise the inputs first."
        )
    try:
        tensor = tf.convert_to_tensor(x)
    except (ValueError, TypeError) as error:
        raise TypeError(
            f"`{name}` must be a floating-point array or tensor. Received: {type(x).__name__} that "
            f"TensorFlow cannot convert ({error})."
        ) from error
    check_batch_tensor(tensor, name, event_shape)

    def all_finite(tensor):
        return tensor.shape[0] == 0 or bool(tf.reduce_all(tf.math.is_finite(tensor)))

    if not all_finite(tensor):
        raise ValueError(f"`{name}` contains NaN or Inf. Refinement needs finite inputs.")
    if dtype is not None and tensor.dtype != dtype:
        tensor = tf.cast(tensor, dtype)
        # Casting down (float64 -> float32) must not turn large values into Inf unnoticed.
        if not all_finite(tensor):
            raise ValueError(
                f"`{name}` has values beyond the range of the model's dtype {tf.as_dtype(dtype).name} "
                f"(largest finite: {tf.as_dtype(dtype).max:.3g}). Rescale the inputs or build the "
                "model with a wider dtype."
            )
    return tensor
