"""Wrap any TensorFlow callable as a Keras 3 layer.

Generators and critics arrive as Keras 3 models, tf_keras models,
`tf.Module`s, objects from `hub.load`, TFP bijectors or plain functions of
tensors. The engine only needs two things of them: to be called on a batch in
inference mode, and to have their variables tracked so that a refinement
model exports to a SavedModel with them. `CallableLayer` provides both; Keras
3 layers need no wrapping and are used as they are.
"""

import inspect

import keras


def _is_keras_layer(obj):
    if isinstance(obj, keras.layers.Layer):
        return True
    # tf_keras is optional: recognise its layers without importing it.
    module = type(obj).__module__ or ""
    return module.startswith("tf_keras") and hasattr(obj, "trainable_weights")


def _accepts_training(fn):
    if _is_keras_layer(fn):
        return True
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "training" in parameters


class CallableLayer(keras.layers.Layer):
    """A Keras 3 layer that calls a wrapped TensorFlow callable.

    The wrapped callable is called as `fn(x, training=False)` when it takes a
    `training` argument (Keras and tf_keras models, so that dropout and batch
    normalisation run in inference mode) and as `fn(x)` otherwise. Inputs are
    passed through without casting, so float64 models stay in float64.

    Args:
        fn: the callable: a tf_keras model, a `tf.Module` with `__call__`, an
            object from `hub.load`, a TFP bijector's `forward`, or a function
            of tensors.
        **kwargs: standard `keras.layers.Layer` arguments such as `name`.

    Raises:
        TypeError: if `fn` is not callable.

    Examples:
        >>> import tensorflow as tf
        >>> layer = CallableLayer(lambda x: 2.0 * x, name="double")
        >>> float(layer(tf.ones([2, 3])).numpy().sum())
        12.0
    """

    def __init__(self, fn, **kwargs):
        if not callable(fn):
            raise TypeError(
                "`fn` must be a callable that maps a batch tensor to a batch tensor. "
                f"Received: fn={fn!r} of type {type(fn).__name__}"
            )
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        # Stored as an attribute so TensorFlow's tracking exports its variables.
        self.fn = fn
        self._pass_training = _accepts_training(fn)

    def build(self, input_shape):
        # Nothing to create; an explicit build also stops Keras from tracing
        # the callable in a scratch graph, where TFP bijector caches would keep
        # tensors that the real graph cannot use.
        self.built = True

    def call(self, inputs):
        if self._pass_training:
            return self.fn(inputs, training=False)
        return self.fn(inputs)


def as_layer(fn, name):
    """Returns `fn` itself if it is a Keras 3 layer, else a `CallableLayer`.

    Args:
        fn: any callable accepted by `CallableLayer`.
        name: name for the wrapping layer.

    Returns:
        A Keras 3 layer.
    """
    if isinstance(fn, keras.layers.Layer):
        return fn
    return CallableLayer(fn, name=name)


def serialize_callable(fn):
    """Keras config of `fn` when it is serialisable, otherwise `fn` itself.

    Keras 3 layers round-trip through `keras.saving`; any other callable is
    kept as a live object, so `from_config` works in the same process and a
    `.keras` file cannot silently lose the model.
    """
    if isinstance(fn, CallableLayer):
        return fn.fn
    if isinstance(fn, keras.layers.Layer) and not any(
        isinstance(layer, CallableLayer) for layer in fn._flatten_layers()
    ):
        try:
            return keras.saving.serialize_keras_object(fn)
        except (NotImplementedError, TypeError):
            return fn
    return fn


def deserialize_callable(config):
    """Inverse of `serialize_callable`."""
    if isinstance(config, dict) and "class_name" in config:
        return keras.saving.deserialize_keras_object(config)
    return config
