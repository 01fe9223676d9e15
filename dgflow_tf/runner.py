"""The compiled refinement of one batch: traced once per kind of input, validated by tracing.

`CompiledRefinement(model)` wraps a `RefinementModel`'s `flow` (the
engine's K-step loop on the model's generator and critic) in `tf.function`s,
one per input signature and trajectory setting. The batch axis is traced as
unknown: Grappler rewrites a graph with a known batch size differently (a
1-ULP change in the noisy update), so one batch-agnostic graph is what makes
`refine`, `predict` and the exported SavedModel agree bit for bit on the
same batches.

Before the first trace of a kind of input, one drift step is traced (not
run) with the input's batch size, so that a critic returning one value per
batch, or a generator and critic that do not belong together, fail early
with an error naming the culprit.
"""

import tensorflow as tf

from dgflow_tf import engine


def _spec_key(tensor):
    return (tuple(tensor.shape[1:]), tensor.dtype.name)


def _name_the_culprit(parts, error):
    """Says whether the generator or the critic failed, when a drift step could not be traced.

    Called only after a failure: the generator and critic are called outside the gradient tape
    here, which would break TFP bijectors' caching of `forward` results in a working model.
    """
    try:
        samples = parts.generator(parts.states)
    except (ValueError, TypeError):
        return f"`generator` cannot be applied to inputs of shape {parts.states.shape.as_list()}: {error}"
    try:
        parts.critic(samples)
    except (ValueError, TypeError):
        return (
            f"`critic` cannot be applied to the generator's samples of shape {samples.shape.as_list()}: "
            f"check that the generator and critic belong together. {error}"
        )
    return None


def compile_once(fn, input_signature, jit_compile=False):
    """`tf.function(fn, input_signature=...)`: one trace for every batch size (the batch axis unknown).

    TensorFlow's frequent-retracing warning counts traces by the Python
    function's code across all instances. Refiners compile one function per
    instance (each has its own generator and critic), so many refiners that
    each trace once look like retracing to it; the warning is off for these
    functions, whose single trace per signature `tests/test_engine.py` checks.
    """
    function = tf.function(fn, input_signature=input_signature, jit_compile=jit_compile)
    function._omit_frequent_tracing_warning = True
    return function


def batch_spec(tensor):
    """The `tf.TensorSpec` of a batch like `tensor`, with the batch axis unknown."""
    return tf.TensorSpec([None, *tensor.shape[1:]], tensor.dtype)


class CompiledRefinement:
    """The compiled `model.flow` for each kind of input; call it like `model.flow`.

    Args:
        model: a `RefinementModel`.
    """

    def __init__(self, model):
        self.model = model
        self.functions = {}
        self.validated = set()

    def validate(self, latents, conditions=None):
        """Checks, once per kind of input, that one drift step traces on inputs like these.

        Raises:
            ValueError: naming the generator or the critic when they do not fit the inputs.
        """
        key = (_spec_key(latents), None if conditions is None else _spec_key(conditions))
        if key not in self.validated:
            self._validate_by_tracing(latents, conditions)
            self.validated.add(key)

    def _validate_by_tracing(self, latents, conditions):
        specs = [tf.TensorSpec(latents.shape, latents.dtype)]
        if conditions is not None:
            specs.append(tf.TensorSpec(conditions.shape, conditions.dtype))
        mismatch = []
        model = self.model

        def probe(latents, conditions=None):
            parts = model._flow_parts(latents, conditions)
            try:
                return engine.drift(
                    parts.generator, parts.critic, model.divergence, parts.states, model.log_prior
                )[0]
            except (ValueError, TypeError) as error:
                if "`generator`" not in str(error) and "`critic`" not in str(error):
                    mismatch.append(_name_the_culprit(parts, error))
                raise

        try:
            tf.function(probe).get_concrete_function(*specs)
        except (ValueError, TypeError) as error:
            if mismatch and mismatch[0] is not None:
                raise ValueError(mismatch[0]) from error
            raise

    def function(self, latents, conditions=None, trajectory_every=0):
        """The `tf.function` refining inputs like these (traced once per kind)."""
        key = (trajectory_every, _spec_key(latents), None if conditions is None else _spec_key(conditions))
        if key not in self.functions:
            self.validate(latents, conditions)
            model = self.model
            signature = [batch_spec(latents), tf.TensorSpec([None], tf.int64), tf.TensorSpec([2], tf.int32)]
            if conditions is None:

                def refine(latents, positions, seed):
                    return model._flow(latents, positions, seed, None, trajectory_every)

            else:
                signature.append(batch_spec(conditions))

                def refine(latents, positions, seed, conditions):
                    return model._flow(latents, positions, seed, conditions, trajectory_every)

            self.functions[key] = compile_once(refine, signature, jit_compile=model.config.compiles_with_xla)
        return self.functions[key]

    def __call__(self, latents, positions, seed, conditions=None, trajectory_every=0):
        """Refines one batch; returns the engine's dict of tensors (see `engine.run`)."""
        function = self.function(latents, conditions, trajectory_every)
        if conditions is None:
            return function(latents, positions, seed)
        return function(latents, positions, seed, conditions)
