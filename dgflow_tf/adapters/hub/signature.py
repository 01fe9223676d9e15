"""One signature of a loaded hub module or SavedModel as a Keras 3 layer.

`hub.KerasLayer` is a tf_keras layer, which Keras 3 models reject; `HubSignature`
calls the signature directly. A signature with a fixed batch size (compare_gan's
`bs64`) is served by padding the last chunk and mapping over chunks, so any
number of samples can be refined.
"""

import keras
import tensorflow as tf

from dgflow_tf.batching import pad_rows

GENERATOR_INPUTS = ("z", "latent_vector", "latents", "inputs", "input")
DISCRIMINATOR_INPUTS = ("images", "x", "inputs", "input")
CONDITION_INPUTS = ("labels", "y")
GENERATOR_OUTPUTS = ("generated", "default", "images", "samples", "output_0")
DISCRIMINATOR_OUTPUTS = ("logits", "default", "output_0")


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
        latent_prior: for a generator loaded by `load_gan`, the prior of its
            module family (`family_prior`), else `None`.
        serves_logit_of_probability: `True` for a TF1 discriminator whose
            output is `sigmoid(logit)` (S3GAN/SSGAN's `prediction`): the
            layer returns the logit, the module pruned to the sigmoid's input.
        uses_ref_variables: whether the graph reads TF1 reference variables
            (then `RefinementModel.export` refuses it).
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
        # TF1 reference variables (VariableV2 ops) live in the graph, not in the loaded object, so a
        # SavedModel written from TF2 over this module would not capture them.
        self.uses_ref_variables = any(
            op.type in ("VariableV2", "Variable") for op in function.graph.get_operations()
        )
        # A discriminator whose output is sigmoid(logit) (S3GAN/SSGAN's `prediction`) serves the logit:
        # DGflow needs d(x), and log(p / (1 - p)) loses it where p rounds to 0 or 1.
        self._logit_function, self._logit_keys = None, ()
        if not generator_role:
            pruned = _logit_under_sigmoid(module, function, outputs[self.output_key])
            if pruned is not None:
                self._logit_function, self._logit_keys = pruned
        self.serves_logit_of_probability = self._logit_function is not None

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
        feeds = self._feeds(batch, conditions)
        if self._logit_function is not None:
            return self._logit_function(*[tf.convert_to_tensor(feeds[key]) for key in self._logit_keys])
        function = self.module.signatures[self.signature_name]
        return function(**feeds)[self.output_key]

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
            padded = pad_rows(tensor, padding)
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


def _logit_under_sigmoid(module, function, output):
    """The module pruned to the input of `output`'s sigmoid, with its feeds' keys; `None` if it has none.

    Only TF1 modules (loaded with a `prune` method) qualify. The pruned function takes the
    signature's inputs (images, and labels in a conditional module such as S3GAN's) positionally, in
    the order of the returned keys.
    """
    if not hasattr(module, "prune"):
        return None
    op = output.op
    while op.type == "Identity" and op.inputs:
        op = op.inputs[0].op
    if op.type != "Sigmoid":
        return None
    # A signature's inputs are its keyword arguments, flattened in sorted key order.
    keys = sorted(function.structured_input_signature[1])
    arguments = function.inputs[: len(function.inputs) - len(function.captured_inputs)]
    if len(arguments) != len(keys):
        return None
    feeds = [argument.name for argument in arguments]
    return module.prune(feeds=feeds, fetches=op.inputs[0].name), tuple(keys)
