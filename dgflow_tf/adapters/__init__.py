"""Adapters that turn models of every kind into generators and critics.

- `callables`: any TensorFlow callable (tf_keras models, `tf.Module`s,
  `hub.load` objects, functions) as a Keras 3 layer.
- `flows`: TFP normalizing flows, refined in base space or data space.
"""

from dgflow_tf.adapters import flows
from dgflow_tf.adapters.callables import CallableLayer, as_layer
from dgflow_tf.adapters.flows import FlowGenerator, base_latents, flow_refinement_model

__all__ = ["CallableLayer", "FlowGenerator", "as_layer", "base_latents", "flow_refinement_model", "flows"]
