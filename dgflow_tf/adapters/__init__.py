"""Adapters that turn models of every kind into generators and critics."""

from dgflow_tf.adapters.callables import CallableLayer, as_layer

__all__ = ["CallableLayer", "as_layer"]
