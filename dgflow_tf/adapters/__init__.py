"""Adapters that turn models of every kind into generators and critics.

- `callables`: any TensorFlow callable (tf_keras models, `tf.Module`s,
  `hub.load` objects, functions) as a Keras 3 layer.
- `flows`: TFP normalizing flows, refined in base space or data space.
- `hub`: GANs from TF-Hub or SavedModels (compare_gan, named signatures,
  generator-only modules), their signatures wrapped as Keras 3 layers.
"""

from dgflow_tf.adapters import flows, hub
from dgflow_tf.adapters.flows import FlowGenerator, base_latents, flow_refinement_model
from dgflow_tf.adapters.hub import HubGAN, HubSignature, hub_refinement_model, load_gan
from dgflow_tf.layers import CallableLayer, as_layer

__all__ = [
    "CallableLayer",
    "FlowGenerator",
    "HubGAN",
    "HubSignature",
    "as_layer",
    "base_latents",
    "flow_refinement_model",
    "flows",
    "hub",
    "hub_refinement_model",
    "load_gan",
]
