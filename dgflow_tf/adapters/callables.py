"""Any TensorFlow callable as a Keras 3 layer: moved to `dgflow_tf.layers`, re-exported here."""

from dgflow_tf.layers import CallableLayer, as_layer, deserialize_callable, serialize_callable

__all__ = ["CallableLayer", "as_layer", "deserialize_callable", "serialize_callable"]
