"""The DGflow engine: drift steps, the K-step loop and `RefinementModel`.

DGflow (Ansari et al., ICLR 2021, https://arxiv.org/abs/2012.00780) refines
samples by simulating the gradient flow of an entropy-regularised
f-divergence between the model and the data. In the generator's latent space
its Euler-Maruyama discretisation (the paper's Algorithm 1) is

    z_{k+1} = z_k + eta * s(d(g(z_k))) * grad_z d(g(z_k)) + sqrt(2 * gamma * eta) * xi_k

with `d` the critic's log density ratio, `s` the divergence's drift scale,
`eta` the step size, `gamma` the entropy weight and `xi_k ~ N(0, I)`. The
refined sample is `g(z_K)`. In data space the same update acts on `x`.

One step costs one forward pass through `g` and `d` and one backward pass to
`z`; the drift scale multiplies the backward pass's output gradient, so it
adds no pass of its own.
"""

import math
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from dgflow_tf import critics as critics_lib
from dgflow_tf import distributed as distributed_lib
from dgflow_tf import divergences as divergences_lib
from dgflow_tf import noise as noise_lib
from dgflow_tf import priors as priors_lib
from dgflow_tf._validation import (
    as_batch_tensor,
    check_batch_tensor,
    check_non_negative_float,
    check_non_negative_int,
    check_positive_float,
    check_positive_int,
)
from dgflow_tf.adapters.callables import as_layer, deserialize_callable, serialize_callable
from dgflow_tf.errors import check_on_nonfinite, raise_if_nonfinite

SPACES = ("latent", "data")


class RefinementResult(NamedTuple):
    """What `RefinementModel.refine` returns.

    Attributes:
        samples: refined samples `g(z_K)` (or `x_K` in data space), NumPy.
        states: the final refined states `z_K` (latents, or samples in data
            space), NumPy.
        trajectory_steps: steps at which states were recorded, or `None`.
        state_trajectory: `[len(trajectory_steps), batch, ...]` states, or
            `None`.
        sample_trajectory: the corresponding samples, or `None`.
        critic_trajectory: `[len(trajectory_steps), batch]` critic values
            `d(x_k)`, or `None`.
        metric_trajectory: `{name: [len(trajectory_steps)] values}` of the
            metrics passed to `refine`, or `None`.
        nonfinite_step: `[batch]` int array, the step at which each sample
            turned NaN or Inf and was frozen (`num_steps`: its final output),
            -1 for good samples; or `None`.
    """

    samples: np.ndarray
    states: np.ndarray
    trajectory_steps: np.ndarray | None = None
    state_trajectory: np.ndarray | None = None
    sample_trajectory: np.ndarray | None = None
    critic_trajectory: np.ndarray | None = None
    metric_trajectory: dict | None = None
    nonfinite_step: np.ndarray | None = None


def _identity(x):
    return x


def _all_finite_per_sample(tensor):
    finite = tf.math.is_finite(tensor)
    if tensor.shape.rank > 1:
        finite = tf.reduce_all(finite, axis=list(range(1, tensor.shape.rank)))
    return finite


def _where_per_sample(condition, x, y):
    """`tf.where` with a `[batch]` condition broadcast over the other axes."""
    condition = tf.reshape(
        condition, tf.concat([tf.shape(condition), tf.ones([x.shape.rank - 1], tf.int32)], 0)
    )
    return tf.where(condition, x, y)


def drift(generator, critic, divergence, states, log_prior=None):
    """The DGflow drift `s(d(g(z))) * grad_z d(g(z))` for a batch of states.

    Args:
        generator: callable mapping states to samples (identity in data space).
        critic: a `Critic`, returning `[batch]` log density ratios.
        divergence: a `Divergence`.
        states: `[batch, ...]` floating tensor.
        log_prior: optional callable `states -> [batch]` log prior density
            (up to a constant) whose gradient is added to the drift, as in
            DDLS's energy. DGflow itself has none. Defaults to `None`.

    Returns:
        A tuple `(drift, samples, logits)`: the drift (shape of `states`), the
        samples `g(states)` and the critic values `d(g(states))`.

    Raises:
        ValueError: if the critic's value does not depend on `states` through
            differentiable ops, or the generator changes the batch size.
    """
    with tf.GradientTape() as tape:
        tape.watch(states)
        samples = generator(states)
        logits = critic(samples)
        prior_values = None if log_prior is None else log_prior(states)
    if samples.shape[0] is not None and states.shape[0] is not None and samples.shape[0] != states.shape[0]:
        raise ValueError(
            f"`generator` must return one sample per latent. Received {samples.shape[0]} samples "
            f"for {states.shape[0]} latents."
        )
    # s(d) is a per-sample constant of the update, not differentiated: it
    # enters as the output gradient of the single backward pass.
    scale = tf.stop_gradient(divergence.drift_scale(logits))
    if prior_values is None:
        gradient = tape.gradient(logits, states, output_gradients=scale)
    else:
        gradient = tape.gradient(
            [logits, prior_values], states, output_gradients=[scale, tf.ones_like(prior_values)]
        )
    if gradient is None:
        raise ValueError(
            "The critic's output does not depend on the refined states through differentiable "
            "operations (the gradient is disconnected), so DGflow has no drift. Check that the "
            "generator and critic are built from TensorFlow ops, do not call .numpy() or "
            "tf.stop_gradient, and (in latent space) that the critic is applied to the "
            "generator's output."
        )
    return gradient, samples, logits


def simulate(
    generator,
    critic,
    divergence,
    states,
    positions,
    seed,
    *,
    step_size,
    entropy_weight,
    num_steps,
    trajectory_every=0,
    log_prior=None,
    constrain=None,
):
    """Runs `num_steps` DGflow steps from `states` in one graph loop.

    Args:
        generator: callable from states to samples (identity in data space).
        critic: a `Critic`.
        divergence: a `Divergence`.
        states: `[batch, ...]` floating tensor, the initial states.
        positions: `[batch]` integer tensor, each sample's index in the full
            input, which keys its noise.
        seed: `[2]` int32 stateless seed.
        step_size: positive float, `eta`.
        entropy_weight: non-negative float, `gamma`.
        num_steps: non-negative Python int, `K`.
        trajectory_every: Python int; if positive, also record the state,
            sample and critic value every this many steps and at step `K`.
        log_prior: optional callable `states -> [batch]` whose gradient is
            added to the drift (see `drift`). Defaults to `None`.
        constrain: optional callable applied to the states after every step,
            e.g. `priors.constrain` for a bounded latent prior. Defaults to
            `None`.

    Returns:
        A dict with `samples`, `states`, `nonfinite_step` (`[batch]` int32,
        the first step at which a sample became NaN/Inf, `num_steps` for the
        final output, -1 if never), and, when recording,
        `state_trajectory`, `sample_trajectory` and `critic_trajectory`.

    A sample that turns non-finite is frozen at its last finite state: step
    `k` is rejected for it if `g(z_k)`, `d(g(z_k))` or `z_{k+1}` has a NaN or
    Inf, and it keeps the last state whose sample and critic value were
    finite for the remaining steps. Finite samples are unaffected (bit for
    bit), so one bad sample never costs the others. A sample whose very
    first state is already non-finite under the generator stays non-finite.
    """
    dtype = states.dtype
    batch_size = tf.shape(states)[0]
    eta = tf.constant(step_size, dtype)
    noise_std = math.sqrt(2.0 * entropy_weight * step_size)
    noisy = num_steps > 0 and noise_std > 0.0
    noise_scale = tf.constant(noise_std, dtype)

    record_steps = _record_steps(num_steps, trajectory_every)
    num_records = len(record_steps)

    def record(arrays, index, state, sample, logit):
        return tuple(
            array.write(index, value) for array, value in zip(arrays, (state, sample, logit), strict=True)
        )

    def body(step, state, last_good, nonfinite_step, *arrays):
        velocity, sample, logit = drift(generator, critic, divergence, state, log_prior)
        new_state = state + eta * velocity
        if noisy:
            # Drawn here, one step at a time: memory does not grow with num_steps.
            xi = noise_lib.step_noise_at(seed, positions, step, state.shape[1:], dtype)
            new_state = new_state + noise_scale * xi
        if constrain is not None:
            new_state = constrain(new_state)
        active = nonfinite_step < 0
        state_ok = _all_finite_per_sample(sample) & tf.math.is_finite(logit)
        last_good = _where_per_sample(active & state_ok, state, last_good)
        step_ok = state_ok & _all_finite_per_sample(new_state)
        nonfinite_step = tf.where(active & ~step_ok, step, nonfinite_step)
        # Frozen samples sit at their last finite state for the rest of the run.
        new_state = _where_per_sample(nonfinite_step < 0, new_state, last_good)
        if num_records:
            arrays = tf.cond(
                tf.equal(step % trajectory_every, 0),
                lambda: record(arrays, step // trajectory_every, state, sample, logit),
                lambda: tuple(arrays),
            )
        return (step + 1, new_state, last_good, nonfinite_step, *arrays)

    arrays = ()
    if num_records:
        arrays = tuple(
            tf.TensorArray(array_dtype, size=num_records, element_shape=None)
            for array_dtype in (dtype, dtype, dtype)
        )
    initial_nonfinite = tf.fill([batch_size], tf.constant(-1, tf.int32))
    _, states, last_good, nonfinite_step, *arrays = tf.while_loop(
        lambda step, *_: step < num_steps,
        body,
        (tf.constant(0, tf.int32), states, states, initial_nonfinite, *arrays),
        maximum_iterations=num_steps,
    )
    samples = generator(states)
    newly_bad = (nonfinite_step < 0) & ~_all_finite_per_sample(samples)
    nonfinite_step = tf.where(newly_bad, num_steps, nonfinite_step)
    if num_steps > 0:
        # The last step's output is non-finite for some samples: fall back to
        # their last finite state (one more generator pass, only if needed).
        states = _where_per_sample(newly_bad, last_good, states)
        samples = tf.cond(
            tf.reduce_any(newly_bad),
            lambda: _where_per_sample(newly_bad, generator(states), samples),
            lambda: samples,
        )
    outputs = {"samples": samples, "states": states, "nonfinite_step": nonfinite_step}
    if num_records:
        if record_steps[-1] == num_steps:
            # The final state was not visited by the loop body: evaluate it once.
            logit = critic(samples)
            arrays = record(arrays, num_records - 1, states, samples, logit)
        outputs["state_trajectory"] = arrays[0].stack()
        outputs["sample_trajectory"] = arrays[1].stack()
        outputs["critic_trajectory"] = arrays[2].stack()
    return outputs


def _record_steps(num_steps, every):
    if not every:
        return []
    steps = list(range(0, num_steps + 1, every))
    if steps[-1] != num_steps:
        steps.append(num_steps)
    return steps


def _infer_input_shape(generator):
    """The per-sample input shape of a Keras/tf_keras model, if it declares one."""
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


@keras.saving.register_keras_serializable(package="dgflow_tf")
class RefinementModel(keras.Model):
    """Refines a generative model's samples with Discriminator Gradient flow.

    DGflow moves each latent `z` (or sample `x`) along the gradient flow of an
    entropy-regularised f-divergence between the model and the data, using
    the density ratio that a discriminator already estimates:

        z_{k+1} = z_k + step_size * s(d(g(z_k))) * grad_z d(g(z_k))
                  + sqrt(2 * entropy_weight * step_size) * xi_k

    and returns `g(z_K)`. See Ansari et al., "Refining Deep Generative Models
    via Discriminator Gradient Flow", ICLR 2021
    (https://arxiv.org/abs/2012.00780).

    The K steps run inside one compiled `tf.function` (`tf.while_loop`). The
    noise each sample receives depends only on the seed and the sample's
    position in the input, so results do not depend on `batch_size`.

    Args:
        generator: callable mapping latents `[batch, ...]` to samples: a
            Keras 3 or tf_keras model, a `tf.Module`, an object from
            `hub.load`, or a function of tensors. With `space="data"` it may
            be `None`. A conditional generator is called as
            `generator([z, conditions])`.
        critic: callable mapping samples to one log density ratio
            `d(x) = log(mu(x) / rho(x))` per sample, shape `[batch]` or
            `[batch, 1]`. Plain callables are read as GAN discriminator
            logits; wrap a WGAN critic in `critics.WassersteinCritic`, a
            sigmoid output in `critics.ProbabilityCritic`. A conditional
            critic is called as `critic([x, conditions])`.
        divergence: `"KL"`, `"JS"`, `"logD"`, `"chi2"`, a convex function
            `f(r)` with `f(1) = 0`, or a `divergences.Divergence`. Defaults to
            `"KL"`.
        step_size: positive float, `eta`. Defaults to `0.1`.
        entropy_weight: float >= 0, `gamma`; `0` gives the deterministic
            flow. Defaults to `0.01`.
        num_steps: integer >= 0, `K`. Defaults to `25`.
        space: `"latent"` refines `z` and returns `g(z_K)`; `"data"` refines
            samples directly: inputs are samples when `generator` is `None`,
            or latents whose `g(z)` is refined in data space otherwise.
            Defaults to `"latent"`.
        seed: `None` for fresh noise at every call, or an int (or `[2]`
            integer tensor) for reproducible refinements. Defaults to `None`.
        latent_shape: per-sample shape of the inputs, used to validate them.
            Defaults to the generator's declared input shape when it has one.
        latent_prior: the generator's latent prior: `"normal"`, `"uniform"`
            (the box `[-1, 1]`), `"truncated_normal"` (`[-2, 2]`), a
            `priors.LatentPrior` or a TFP distribution over one latent (e.g.
            a flow's base). It draws initial latents (`sample_latents`) and,
            when bounded, bounds the refined latents. Defaults to `"normal"`.
        boundary: how latent-space refinement stays in a bounded prior's
            support after each step: `"reflect"` (mirror back into the box,
            which keeps the diffusion's law inside it), `"clip"` (Euclidean
            projection onto the box) or `"none"`. Unused for unbounded
            priors. Defaults to `"reflect"`.
        conditional: whether the generator and critic take a second input,
            e.g. class labels, passed through unchanged. Inputs are then
            `(z, conditions)` pairs. Defaults to `False`.
        on_nonfinite: what a sample that turns NaN or Inf does to the call.
            Either way the sample is frozen at its last finite state and the
            others are refined as if it were not there. `"raise"` then raises
            `NonFiniteRefinementError` (listing samples and steps, with the
            refined batch in `error.samples`); `"freeze"` returns the batch
            and warns with `NonFiniteRefinementWarning`. Defaults to
            `"raise"`.
        jit_compile: `True`, `False` or `"auto"`. `"auto"` uses plain graph
            mode, which `benchmarks/step_cost.py` measured faster than XLA
            for convolutional nets on CPU. Defaults to `"auto"`.
        **kwargs: standard `keras.Model` arguments (`name`, `dtype`).

    Raises:
        TypeError: if `generator` or `critic` is not callable, or
            `divergence`, `latent_prior` or `conditional` has an unsupported
            type.
        ValueError: for a non-positive or non-finite `step_size`, a negative
            `entropy_weight` or `num_steps`, an unknown `divergence`,
            `space`, `latent_prior`, `boundary` or `on_nonfinite`, or a
            missing generator in latent space.

    Example:

    >>> generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> critic = lambda x: -tf.reduce_sum(tf.square(x), axis=-1)
    >>> model = RefinementModel(generator, critic, num_steps=5, seed=0)
    >>> model.predict(model.sample_latents(8, seed=1), verbose=0).shape
    (8, 2)
    """

    def __init__(
        self,
        generator,
        critic,
        *,
        divergence="KL",
        step_size=0.1,
        entropy_weight=0.01,
        num_steps=25,
        space="latent",
        seed=None,
        latent_shape=None,
        latent_prior=None,
        boundary="reflect",
        conditional=False,
        on_nonfinite="raise",
        jit_compile="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if space not in SPACES:
            raise ValueError(f"Unknown space {space!r}. Expected one of: {list(SPACES)}")
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
        self.step_size = check_positive_float(step_size, "step_size")
        self.entropy_weight = check_non_negative_float(entropy_weight, "entropy_weight")
        self.num_steps = check_non_negative_int(num_steps, "num_steps")
        self.divergence = divergences_lib.get(divergence)
        self.space = space
        if seed is not None:
            noise_lib.sanitize_seed(seed)  # validates type and shape early
        self.seed = seed
        self.latent_prior = priors_lib.get(latent_prior)
        self.boundary = priors_lib.check_boundary(boundary)
        if not isinstance(conditional, bool):
            raise TypeError(f"`conditional` must be True or False. Received: conditional={conditional!r}")
        self.conditional = conditional
        self.on_nonfinite = check_on_nonfinite(on_nonfinite)
        self.generator = None if generator is None else as_layer(generator, name="generator")
        self.critic = critics_lib.get(critic)
        if latent_shape is None and generator is not None and not conditional:
            latent_shape = _infer_input_shape(generator)
        self.latent_shape = None if latent_shape is None else tuple(int(d) for d in latent_shape)
        if jit_compile not in (True, False, "auto"):
            raise ValueError(
                f"`jit_compile` must be True, False or 'auto'. Received: jit_compile={jit_compile!r}"
            )
        self._jit_compile_setting = jit_compile
        # Measured on CPU (benchmarks/step_cost.py): XLA is slower for conv
        # nets there, so "auto" keeps graph mode.
        self.jit_compile = False if jit_compile == "auto" else jit_compile
        # Caches of compiled functions, kept out of TensorFlow's object
        # tracking so that SavedModel export does not try to save them.
        self._caches = _Caches()
        # Subclasses that sample a posterior (DDLS) add the prior's gradient.
        self._log_prior = None
        # The model owns no weights; its generator and critic build themselves.
        self.built = True

    # -- the computation ---------------------------------------------------

    def _generate(self, latents, conditions=None):
        if self.conditional:
            return self.generator([latents, conditions], training=False)
        return self.generator(latents, training=False)

    def _refines_latents(self):
        return self.space == "latent"

    def _parts(self, latents, conditions):
        """`(generator, critic, initial states, constrain)` of the flow for these inputs."""
        if self.conditional:

            def critic(samples):
                return self.critic([samples, conditions])

        else:
            critic = self.critic
        if self.space == "data":
            states = latents if self.generator is None else self._generate(latents, conditions)
            return _identity, critic, states, None
        constrain = None
        if self.latent_prior.bounded and self.boundary != "none":
            constrain = lambda z: priors_lib.constrain(z, self.latent_prior, self.boundary)  # noqa: E731
        return (lambda z: self._generate(z, conditions)), critic, latents, constrain

    def _simulate(self, latents, positions, seed, conditions=None, trajectory_every=0):
        generator, critic, states, constrain = self._parts(latents, conditions)
        return simulate(
            generator,
            critic,
            self.divergence,
            states,
            positions,
            seed,
            step_size=self.step_size,
            entropy_weight=self.entropy_weight,
            num_steps=self.num_steps,
            trajectory_every=trajectory_every,
            log_prior=self._log_prior,
            constrain=constrain,
        )

    def _validate_by_tracing(self, latents, conditions):
        """Traces one drift step for the input's batch size, without running it.

        The refinement graph leaves the batch size unknown (see
        `_graph_function`), so a critic that returns one value per batch, or
        a generator that changes the batch size, would only fail at run time.
        This trace raises those errors early, as `ValueError`s naming the
        argument; it runs once, when a graph function is first built.
        """
        specs = [tf.TensorSpec(latents.shape, latents.dtype)]
        if conditions is not None:
            specs.append(tf.TensorSpec(conditions.shape, conditions.dtype))

        mismatch = []

        def probe(latents, conditions=None):
            generator, critic, states, _ = self._parts(latents, conditions)
            try:
                return drift(generator, critic, self.divergence, states, self._log_prior)[0]
            except (ValueError, TypeError) as error:
                if "`generator`" not in str(error) and "`critic`" not in str(error):
                    mismatch.append(_name_the_culprit(generator, critic, states, error))
                raise

        try:
            tf.function(probe).get_concrete_function(*specs)
        except (ValueError, TypeError) as error:
            if mismatch and mismatch[0] is not None:
                raise ValueError(mismatch[0]) from error
            raise

    def _graph_function(self, latents, conditions, trajectory_every):
        """The compiled refinement for inputs like these, traced once per kind.

        The batch axis is traced as unknown. Grappler rewrites a graph with a
        known batch size differently (a 1-ULP change in the noisy update), so
        one batch-agnostic graph is what makes `refine`, `predict` and the
        exported SavedModel agree bit for bit on the same batches.
        """
        key = (trajectory_every, _spec_key(latents), None if conditions is None else _spec_key(conditions))
        if key not in self._caches.functions:
            self._validate_by_tracing(latents, conditions)
            signature = [
                _batch_spec(latents),
                tf.TensorSpec([None], tf.int64),
                tf.TensorSpec([2], tf.int32),
            ]
            if conditions is None:

                def run(latents, positions, seed):
                    return self._simulate(latents, positions, seed, None, trajectory_every)

            else:
                signature.append(_batch_spec(conditions))

                def run(latents, positions, seed, conditions):
                    return self._simulate(latents, positions, seed, conditions, trajectory_every)

            self._caches.functions[key] = tf.function(
                run, input_signature=signature, jit_compile=self.jit_compile
            )
        return self._caches.functions[key]

    def _run(self, latents, positions, seed, conditions=None, trajectory_every=0):
        function = self._graph_function(latents, conditions, trajectory_every)
        arguments = (
            (latents, positions, seed) if conditions is None else (latents, positions, seed, conditions)
        )
        return function(*arguments)

    def call(self, inputs, training=None):
        """Refines a batch; returns samples as a tensor.

        Args:
            inputs: `[batch, ...]` latents (or samples in data space), a
                `(latents, conditions)` pair for a conditional model, or a
                dict with `"latents"`, `"positions"` (each sample's index in
                the full input, which keys its noise) and, if conditional,
                `"conditions"`.

        Returns:
            The refined samples. With `on_nonfinite="raise"`, a non-finite
            result fails the graph with an `InvalidArgumentError` naming the
            samples; with `"freeze"`, bad samples come back frozen.
        """
        latents, positions, conditions = self._unpack(inputs)
        outputs = self._simulate(latents, positions, noise_lib.sanitize_seed(self.seed), conditions)
        return self._apply_policy_in_graph(outputs, positions)

    def _apply_policy_in_graph(self, outputs, positions):
        if self.on_nonfinite == "freeze":
            return outputs["samples"]
        return _assert_finite(outputs, positions)

    def _unpack(self, inputs):
        conditions = None
        if isinstance(inputs, dict):
            latents, positions = inputs["latents"], inputs.get("positions")
            conditions = inputs.get("conditions")
        elif isinstance(inputs, (tuple, list)):
            if not self.conditional or len(inputs) != 2:
                raise ValueError(self._inputs_error(inputs))
            (latents, conditions), positions = inputs, None
        else:
            latents, positions = inputs, None
        if self.conditional and conditions is None:
            raise ValueError(self._inputs_error(inputs))
        latents = tf.convert_to_tensor(latents)
        if positions is None:
            positions = tf.range(tf.shape(latents)[0], dtype=tf.int64)
        self._check_latents_tensor(latents)
        return latents, tf.cast(positions, tf.int64), conditions

    def _inputs_error(self, inputs):
        name = self._input_name()
        if self.conditional:
            return (
                f"This model is conditional: pass `({name}, conditions)`, a pair of arrays with one row "
                f"per sample. Received: {type(inputs).__name__}"
            )
        return (
            f"This model is not conditional: pass `{name}` as one array. Received: a "
            f"{type(inputs).__name__}. For labelled generators build the model with conditional=True."
        )

    def _input_name(self):
        return "z" if self.space == "latent" or self.generator is not None else "x"

    def _check_latents_tensor(self, latents):
        check_batch_tensor(latents, self._input_name(), self.latent_shape)

    def _host_inputs(self, x):
        """Validated `(latents, conditions)` tensors from user input."""
        conditions = None
        if self.conditional:
            if not (isinstance(x, (tuple, list)) and len(x) == 2):
                raise ValueError(self._inputs_error(x))
            x, conditions = x
        elif isinstance(x, (tuple, list)) and len(x) == 2 and not np.isscalar(x[0]) and np.ndim(x[0]) > 1:
            raise ValueError(self._inputs_error(x))
        latents = as_batch_tensor(x, self._input_name(), self.latent_shape, self.compute_dtype)
        if (
            self._input_name() == "z"
            and self.latent_prior.bounded
            and not self.latent_prior.contains(latents)
        ):
            raise ValueError(
                f"`z` has values outside the latent prior's support [{self.latent_prior.low}, "
                f"{self.latent_prior.high}] ({self.latent_prior!r}). Draw latents with "
                "`model.sample_latents`, or pass the generator's real prior as `latent_prior`."
            )
        if conditions is not None:
            conditions = tf.convert_to_tensor(conditions)
            if conditions.shape.rank == 0 or conditions.shape[0] != latents.shape[0]:
                raise ValueError(
                    "`conditions` must have one row per latent. Received: conditions with shape "
                    f"{conditions.shape.as_list()} for {latents.shape[0]} latents."
                )
        return latents, conditions

    # -- public API --------------------------------------------------------

    def sample_latents(self, num_samples, seed=None, start=0):
        """Draws initial latents from the model's `latent_prior`.

        Sample `i` is keyed by `(seed, start + i)`, so draws made in pieces
        equal one draw of the whole, at any batch size.

        Args:
            num_samples: positive int.
            seed: `None` (fresh draws) or an int. Defaults to `None`.
            start: position of the first sample. Defaults to `0`.

        Returns:
            A NumPy array `[num_samples, *latent_shape]` in the model's dtype.

        Raises:
            ValueError: if the model does not know its `latent_shape`.
        """
        if self.latent_shape is None:
            raise ValueError(
                "The model does not know its latent shape: pass latent_shape=... to RefinementModel."
            )
        start = check_non_negative_int(start, "start")
        draws = self.latent_prior.sample(num_samples, self.latent_shape, seed, self.compute_dtype, start)
        return draws.numpy()

    def generate(self, x, batch_size=64):
        """The unrefined samples `g(z)`, for before/after comparisons.

        Args:
            x: `[N, ...]` latents, or a `(latents, conditions)` pair for a
                conditional model.
            batch_size: samples per generator call. Defaults to `64`.

        Returns:
            `[N, ...]` NumPy array.

        Raises:
            ValueError: if the model has no generator.
        """
        if self.generator is None:
            raise ValueError(
                "This model refines samples directly (generator=None): there is nothing to generate."
            )
        latents, conditions = self._host_inputs(x)
        batch_size = check_positive_int(batch_size, "batch_size")
        if self._caches.generate is None:
            self._caches.generate = tf.function(self._generate, reduce_retracing=True)
        outputs = []
        for start in range(0, int(latents.shape[0]), batch_size):
            stop = start + batch_size
            batch_conditions = None if conditions is None else conditions[start:stop]
            outputs.append(self._caches.generate(latents[start:stop], batch_conditions).numpy())
        return np.concatenate(outputs)

    def predict_on_batch(self, x):
        """Refines `x` as one batch; returns NumPy samples (`predict` with one batch, no progress bar)."""
        count = len(x[0]) if self.conditional and isinstance(x, (tuple, list)) else len(x)
        return self.predict(x, batch_size=max(1, count), verbose=0)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Refines `x` batch by batch; returns the refined samples as NumPy.

        Inside a `tf.distribute` strategy's scope the batches are spread over
        its replicas (`dgflow_tf.distributed`): each refines
        `ceil(batch_size / num_replicas)` rows at a time, and the result is
        bit for bit that of a single-device call with that batch size.

        Args:
            x: `[N, ...]` latents (samples in data space with no generator),
                or a `(latents, conditions)` pair for a conditional model.
            batch_size: samples per batch (per step across all replicas
                under a strategy). Defaults to 32. The noise does not depend
                on it.
            verbose: `"auto"`, 0, 1 or 2, as in `keras.Model.predict`.
            steps: number of batches to run. Defaults to all.
            callbacks: Keras callbacks.

        Returns:
            `[N, ...]` NumPy array of refined samples.

        Raises:
            NonFiniteRefinementError: if any sample became NaN or Inf (with
                `on_nonfinite="raise"`); the error lists which and at which
                step, and carries the refined batch.
            ValueError: under `MultiWorkerMirroredStrategy` without an
                integer `seed` (the workers must share the noise), or with
                `steps`.
        """
        latents, conditions = self._host_inputs(x)
        batch_size = 32 if batch_size is None else check_positive_int(batch_size, "batch_size")
        count = int(latents.shape[0])
        num_batches = math.ceil(count / batch_size)
        if steps is not None:
            num_batches = min(num_batches, check_positive_int(steps, "steps"))
        strategy = tf.distribute.get_strategy() if tf.distribute.has_strategy() else None
        rows = batch_size
        if strategy is not None:
            self._check_distributable(strategy, steps)
            rows = distributed_lib.per_replica_batch_size(batch_size, strategy)
            num_batches = math.ceil(count / (rows * strategy.num_replicas_in_sync))
        # One seed per call (a fresh one if the model's seed is None): the
        # noise stays keyed by position across batches.
        seed = noise_lib.sanitize_seed(self.seed)
        if verbose == "auto":
            verbose = 1
        callbacks = keras.callbacks.CallbackList(
            callbacks, add_progbar=verbose != 0, verbose=verbose, epochs=1, steps=num_batches, model=self
        )
        if count == 0:
            # An empty input gives an empty result of the right shape and dtype.
            positions = tf.range(0, dtype=tf.int64)
            return self._run(latents, positions, seed, conditions)["samples"].numpy()
        samples, nonfinite = self._refine_in_batches(
            latents, conditions, seed, rows, num_batches=num_batches, callbacks=callbacks
        )
        raise_if_nonfinite(nonfinite, policy=self.on_nonfinite, samples=samples)
        return samples

    def _refine_in_batches(
        self, latents, conditions, seed, rows, *, start=0, num_batches=None, callbacks=None
    ):
        """Refines validated host inputs `rows` at a time; returns NumPy `(samples, nonfinite_step)`.

        Shared by `predict` and `streaming`. Inside a `tf.distribute` scope
        each replica refines `rows` at a time (`distributed.predict_distributed`).
        Otherwise the batches run through the same batch-agnostic graph as
        `refine` and the exported SavedModel, so all agree bit for bit. `start`
        is the position of the first input in the whole run (its noise key);
        `num_batches` stops early (Keras' `steps`).
        """
        if tf.distribute.has_strategy():
            return distributed_lib.predict_distributed(
                self,
                latents,
                conditions,
                seed,
                strategy=tf.distribute.get_strategy(),
                per_replica_batch_size=rows,
                start=start,
                callbacks=callbacks,
            )
        count = int(latents.shape[0])
        positions = tf.range(start, start + count, dtype=tf.int64)
        num_batches = math.ceil(count / rows) if num_batches is None else num_batches
        samples, nonfinite = [], []
        if callbacks is not None:
            callbacks.on_predict_begin()
        for step in range(num_batches):
            if callbacks is not None:
                callbacks.on_predict_batch_begin(step)
            batch = slice(step * rows, (step + 1) * rows)
            outputs = self._run(
                latents[batch], positions[batch], seed, None if conditions is None else conditions[batch]
            )
            samples.append(outputs["samples"].numpy())
            nonfinite.append(outputs["nonfinite_step"].numpy())
            if callbacks is not None:
                callbacks.on_predict_batch_end(step, {"outputs": samples[-1]})
        if callbacks is not None:
            callbacks.on_predict_end()
        return np.concatenate(samples), np.concatenate(nonfinite)

    def _check_distributable(self, strategy, steps):
        if steps is not None:
            raise ValueError(
                "`steps` is not supported inside a tf.distribute strategy; slice the inputs instead."
            )
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and not isinstance(self.seed, int):
            raise ValueError(
                "Under MultiWorkerMirroredStrategy every worker must draw the same noise: build the "
                f"model with an integer seed (e.g. seed=0). Received: seed={self.seed!r}."
            )

    def refine(self, x, seed=None, trajectory_every=0, metrics=None):
        """Refines `x` in one call and returns states, samples and diagnostics.

        Args:
            x: `[N, ...]` latents (samples in data space with no generator),
                or a `(latents, conditions)` pair for a conditional model.
            seed: overrides the model's seed for this call. Defaults to the
                model's `seed` (fresh noise if that is `None`).
            trajectory_every: if positive, record states, samples and critic
                values every this many steps (and at the last step).
                Defaults to `0`.
            metrics: optional dict `{name: fn}`; each `fn` maps a NumPy batch
                of samples to a number and is evaluated on every recorded
                step (e.g. FID every 5 steps, as in the paper). Needs
                `trajectory_every > 0`. Defaults to `None`.

        Returns:
            A `RefinementResult`; `metric_trajectory` holds each metric's
            values at `trajectory_steps`.

        Raises:
            NonFiniteRefinementError: if any sample became NaN or Inf (with
                `on_nonfinite="raise"`).
            ValueError: for `metrics` without `trajectory_every`.
            TypeError: if `metrics` is not a dict of callables.
        """
        trajectory_every = check_non_negative_int(trajectory_every, "trajectory_every")
        metrics = _check_metrics(metrics, trajectory_every)
        latents, conditions = self._host_inputs(x)
        seed = noise_lib.sanitize_seed(self.seed if seed is None else seed)
        positions = tf.range(tf.shape(latents)[0], dtype=tf.int64)
        outputs = self._run(latents, positions, seed, conditions, trajectory_every)
        outputs = {key: value.numpy() for key, value in outputs.items()}
        raise_if_nonfinite(outputs["nonfinite_step"], policy=self.on_nonfinite, samples=outputs["samples"])
        steps = _record_steps(self.num_steps, trajectory_every)
        metric_trajectory = None
        if metrics:
            metric_trajectory = {
                name: np.array([float(fn(frame)) for frame in outputs["sample_trajectory"]])
                for name, fn in metrics.items()
            }
        return RefinementResult(
            samples=outputs["samples"],
            states=outputs["states"],
            trajectory_steps=np.asarray(steps) if steps else None,
            state_trajectory=outputs.get("state_trajectory"),
            sample_trajectory=outputs.get("sample_trajectory"),
            critic_trajectory=outputs.get("critic_trajectory"),
            metric_trajectory=metric_trajectory,
            nonfinite_step=outputs["nonfinite_step"],
        )

    def export(self, filepath, format="tf_saved_model", verbose=False, input_signature=None, **kwargs):
        """Writes a SavedModel that refines latents with the steps inside its graph.

        The SavedModel's `serve` signature takes `z` (`[batch, *latent_shape]`
        in the model's dtype), for a conditional model `conditions`, and
        `seed` (a scalar int64), and returns the refined samples. It loads
        with `tf.saved_model.load` in a process without `dgflow_tf` (or
        TFP) and returns exactly what `model.refine(z, seed=seed).samples`
        returns here.

        Args:
            filepath: directory to write the SavedModel to.
            format: must be `"tf_saved_model"`.
            verbose: whether to print the endpoint summary (its captured
                variables included). Defaults to `False`.
            input_signature: not supported; the signature is fixed.
            **kwargs: `condition_spec`, a `tf.TensorSpec` of one batch of
                conditions, for conditional models whose generator does not
                declare its inputs.

        Raises:
            ValueError: for another `format`, an `input_signature`, an
                unknown `latent_shape`, or a conditional model without a
                condition spec.

        Example:

        >>> model.export("/tmp/refiner")  # doctest: +SKIP
        >>> loaded = tf.saved_model.load("/tmp/refiner")  # doctest: +SKIP
        >>> loaded.serve(z, tf.constant(0, tf.int64))  # doctest: +SKIP
        """
        if format != "tf_saved_model":
            raise ValueError(f"`format` must be 'tf_saved_model'. Received: format={format!r}")
        if input_signature is not None:
            raise ValueError(
                "RefinementModel.export writes its own signature (z, [conditions,] seed); "
                "`input_signature` is not supported."
            )
        condition_spec = kwargs.pop("condition_spec", None)
        if kwargs:
            raise TypeError(f"Unknown arguments to export: {sorted(kwargs)}")
        if self.latent_shape is None:
            raise ValueError("Exporting needs the latent shape: build the model with latent_shape=...")
        latent_spec = tf.TensorSpec([None, *self.latent_shape], self.compute_dtype, name="z")
        seed_spec = tf.TensorSpec([], tf.int64, name="seed")

        def refine(z, seed, conditions=None):
            positions = tf.range(tf.shape(z)[0], dtype=tf.int64)
            outputs = self._simulate(z, positions, noise_lib.seed_from_int64(seed), conditions)
            return self._apply_policy_in_graph(outputs, positions)

        archive = keras.export.ExportArchive()
        archive.track(self)
        if self.conditional:
            condition_spec = self._condition_spec(condition_spec)
            archive.add_endpoint(
                "serve",
                lambda z, conditions, seed: refine(z, seed, conditions),
                input_signature=[latent_spec, condition_spec, seed_spec],
            )
        else:
            archive.add_endpoint(
                "serve", lambda z, seed: refine(z, seed), input_signature=[latent_spec, seed_spec]
            )
        archive.write_out(filepath, verbose=verbose)

    def _condition_spec(self, condition_spec):
        if condition_spec is not None:
            shape = tf.TensorShape(condition_spec.shape)
            return tf.TensorSpec([None, *shape[1:]], condition_spec.dtype, name="conditions")
        inputs = getattr(self.generator, "inputs", None)
        if isinstance(inputs, (list, tuple)) and len(inputs) == 2:
            spec = inputs[1]
            return tf.TensorSpec([None, *spec.shape[1:]], spec.dtype, name="conditions")
        raise ValueError(
            "Exporting a conditional model needs the conditions' spec: pass "
            "condition_spec=tf.TensorSpec([None], tf.int32) (or your labels' shape and dtype)."
        )

    def evaluations_per_sample(self):
        """Forward evaluations each refined sample costs: `{"generator": .., "critic": ..}`.

        Each of the `K` steps runs the critic (and, in latent space, the
        generator) forward and backward once; the latent-space result adds
        one generator pass for `g(z_K)`.
        """
        if self.space == "latent":
            generator = self.num_steps + 1
        else:
            generator = 0 if self.generator is None else 1
        return {"generator": generator, "critic": self.num_steps}

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "generator": None if self.generator is None else serialize_callable(self.generator),
            "critic": serialize_callable(self.critic),
            "divergence": divergences_lib.serialize(self.divergence),
            "step_size": self.step_size,
            "entropy_weight": self.entropy_weight,
            "num_steps": self.num_steps,
            "space": self.space,
            "seed": self.seed,
            "latent_shape": None if self.latent_shape is None else list(self.latent_shape),
            "latent_prior": priors_lib.serialize(self.latent_prior),
            "boundary": self.boundary,
            "conditional": self.conditional,
            "on_nonfinite": self.on_nonfinite,
            "jit_compile": self._jit_compile_setting,
        }

    @classmethod
    def from_config(cls, config):
        """Rebuilds a model from `get_config()`.

        Keras generators and critics are stored as Keras configs; any other
        callable is stored as the live object, so a config holding one
        round-trips in the same process only.
        """
        config = dict(config)
        for key in ("generator", "critic"):
            config[key] = deserialize_callable(config.get(key))
        return cls(**config)


class _Caches:
    """Plain containers that TensorFlow's tracking leaves alone."""

    def __init__(self):
        self.functions = {}
        self.generate = None


def _name_the_culprit(generator, critic, states, error):
    """Says whether the generator or the critic failed, when a drift step could not be traced.

    Called only after a failure: the generator and critic are called outside the gradient tape
    here, which would break TFP bijectors' caching of `forward` results in a working model.
    """
    try:
        samples = generator(states)
    except (ValueError, TypeError):
        return f"`generator` cannot be applied to inputs of shape {states.shape.as_list()}: {error}"
    try:
        critic(samples)
    except (ValueError, TypeError):
        return (
            f"`critic` cannot be applied to the generator's samples of shape {samples.shape.as_list()}: "
            f"check that the generator and critic belong together. {error}"
        )
    return None


def _batch_spec(tensor):
    return tf.TensorSpec([None, *tensor.shape[1:]], tensor.dtype)


def _spec_key(tensor):
    return (tuple(tensor.shape[1:]), tensor.dtype.name)


def _assert_finite(outputs, positions):
    bad = tf.where(outputs["nonfinite_step"] >= 0)[:, 0]
    with tf.control_dependencies(
        [
            tf.debugging.Assert(
                tf.equal(tf.size(bad), 0),
                [
                    "Refinement produced NaN or Inf. Sample positions:",
                    tf.gather(positions, bad),
                    "first non-finite steps:",
                    tf.gather(outputs["nonfinite_step"], bad),
                ],
                summarize=20,
            )
        ]
    ):
        return tf.identity(outputs["samples"])


def _check_metrics(metrics, trajectory_every):
    if metrics is None:
        return {}
    if not isinstance(metrics, dict) or not all(callable(fn) for fn in metrics.values()):
        raise TypeError(
            "`metrics` must be a dict mapping names to callables of a batch of samples, e.g. "
            "{'fid': lambda x: frechet_distance(x, reference)}."
        )
    if metrics and not trajectory_every:
        raise ValueError(
            "`metrics` are evaluated on the recorded steps: pass trajectory_every > 0 (e.g. 5) as well."
        )
    return metrics
