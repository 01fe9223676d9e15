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
from dgflow_tf import divergences as divergences_lib
from dgflow_tf import noise as noise_lib
from dgflow_tf._validation import (
    as_batch_tensor,
    check_batch_tensor,
    check_non_negative_float,
    check_non_negative_int,
    check_positive_float,
    check_positive_int,
)
from dgflow_tf.adapters.callables import as_layer, deserialize_callable, serialize_callable
from dgflow_tf.errors import raise_if_nonfinite

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
    """

    samples: np.ndarray
    states: np.ndarray
    trajectory_steps: np.ndarray | None = None
    state_trajectory: np.ndarray | None = None
    sample_trajectory: np.ndarray | None = None
    critic_trajectory: np.ndarray | None = None


def _identity(x):
    return x


def _all_finite_per_sample(tensor):
    finite = tf.math.is_finite(tensor)
    if tensor.shape.rank > 1:
        finite = tf.reduce_all(finite, axis=list(range(1, tensor.shape.rank)))
    return finite


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

    Returns:
        A dict with `samples`, `states`, `nonfinite_step` (`[batch]` int32,
        the first step at which a sample became NaN/Inf, `num_steps` for the
        final output, -1 if never), and, when recording,
        `state_trajectory`, `sample_trajectory` and `critic_trajectory`.
    """
    dtype = states.dtype
    batch_size = tf.shape(states)[0]
    eta = tf.constant(step_size, dtype)
    noise_std = math.sqrt(2.0 * entropy_weight * step_size)
    if num_steps > 0 and noise_std > 0.0:
        noise = noise_lib.step_noise(seed, positions, num_steps, states.shape[1:], dtype)
        noise = noise * tf.constant(noise_std, dtype)
    else:
        noise = None

    record_steps = _record_steps(num_steps, trajectory_every)
    num_records = len(record_steps)

    def record(arrays, index, state, sample, logit):
        return tuple(
            array.write(index, value) for array, value in zip(arrays, (state, sample, logit), strict=True)
        )

    def body(step, state, nonfinite_step, *arrays):
        velocity, sample, logit = drift(generator, critic, divergence, state, log_prior)
        new_state = state + eta * velocity
        if noise is not None:
            new_state = new_state + tf.gather(noise, step, axis=1)
        finite = _all_finite_per_sample(new_state) & tf.math.is_finite(logit)
        nonfinite_step = tf.where((nonfinite_step < 0) & ~finite, step, nonfinite_step)
        if num_records:
            arrays = tf.cond(
                tf.equal(step % trajectory_every, 0),
                lambda: record(arrays, step // trajectory_every, state, sample, logit),
                lambda: tuple(arrays),
            )
        return (step + 1, new_state, nonfinite_step, *arrays)

    arrays = ()
    if num_records:
        arrays = tuple(
            tf.TensorArray(array_dtype, size=num_records, element_shape=None)
            for array_dtype in (dtype, dtype, dtype)
        )
    initial_nonfinite = tf.fill([batch_size], tf.constant(-1, tf.int32))
    _, states, nonfinite_step, *arrays = tf.while_loop(
        lambda step, *_: step < num_steps,
        body,
        (tf.constant(0, tf.int32), states, initial_nonfinite, *arrays),
        maximum_iterations=num_steps,
    )
    samples = generator(states)
    finite = _all_finite_per_sample(samples)
    nonfinite_step = tf.where((nonfinite_step < 0) & ~finite, num_steps, nonfinite_step)
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
            be `None`.
        critic: callable mapping samples to one log density ratio
            `d(x) = log(mu(x) / rho(x))` per sample, shape `[batch]` or
            `[batch, 1]`. Plain callables are read as GAN discriminator
            logits; wrap a WGAN critic in `critics.WassersteinCritic`, a
            sigmoid output in `critics.ProbabilityCritic`.
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
        jit_compile: `True`, `False` or `"auto"`. `"auto"` uses plain graph
            mode, which `benchmarks/step_cost.py` measured faster than XLA
            for convolutional nets on CPU. Defaults to `"auto"`.
        **kwargs: standard `keras.Model` arguments (`name`, `dtype`).

    Raises:
        TypeError: if `generator` or `critic` is not callable, or
            `divergence` has an unsupported type.
        ValueError: for a non-positive or non-finite `step_size`, a negative
            `entropy_weight` or `num_steps`, an unknown `divergence` or
            `space`, or a missing generator in latent space.

    Example:

    >>> generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> critic = lambda x: -tf.reduce_sum(tf.square(x), axis=-1)
    >>> model = RefinementModel(generator, critic, num_steps=5, seed=0)
    >>> model.predict(np.zeros((8, 2), "float32"), verbose=0).shape
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
        self.generator = None if generator is None else as_layer(generator, name="generator")
        self.critic = critics_lib.get(critic)
        if latent_shape is None and generator is not None:
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
        self._compiled_simulate = None
        # Subclasses that sample a posterior (DDLS) add the prior's gradient.
        self._log_prior = None

    # -- the computation ---------------------------------------------------

    def _generate(self, latents):
        return self.generator(latents, training=False)

    def _simulate(self, latents, positions, seed, trajectory_every=0):
        if self.space == "data":
            states = latents if self.generator is None else self._generate(latents)
            generator = _identity
        else:
            states, generator = latents, self._generate
        return simulate(
            generator,
            self.critic,
            self.divergence,
            states,
            positions,
            seed,
            step_size=self.step_size,
            entropy_weight=self.entropy_weight,
            num_steps=self.num_steps,
            trajectory_every=trajectory_every,
            log_prior=self._log_prior,
        )

    def call(self, inputs, training=None):
        """Refines a batch; returns samples as a tensor.

        Args:
            inputs: `[batch, ...]` latents (or samples in data space), or a
                dict with `"latents"` and `"positions"` (each sample's index
                in the full input, which keys its noise).

        Returns:
            The refined samples. A non-finite result fails the graph with an
            `InvalidArgumentError` naming the samples.
        """
        latents, positions = self._unpack(inputs)
        outputs = self._simulate(latents, positions, noise_lib.sanitize_seed(self.seed))
        bad = tf.where(outputs["nonfinite_step"] >= 0)[:, 0]
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
        return outputs["samples"]

    def _unpack(self, inputs):
        if isinstance(inputs, dict):
            latents, positions = inputs["latents"], inputs["positions"]
        else:
            latents = inputs
            positions = tf.range(tf.shape(latents)[0], dtype=tf.int64)
        latents = tf.convert_to_tensor(latents)
        self._check_latents_tensor(latents)
        return latents, tf.cast(positions, tf.int64)

    def _input_name(self):
        return "z" if self.space == "latent" or self.generator is not None else "x"

    def _check_latents_tensor(self, latents):
        check_batch_tensor(latents, self._input_name(), self.latent_shape)

    def _as_latents(self, x):
        return as_batch_tensor(x, self._input_name(), self.latent_shape, self.compute_dtype)

    # -- public API --------------------------------------------------------

    def predict_step(self, data):
        outputs = self._simulate(
            data["latents"], tf.cast(data["positions"], tf.int64), noise_lib.sanitize_seed(self.seed)
        )
        return {"samples": outputs["samples"], "nonfinite_step": outputs["nonfinite_step"]}

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Refines `x` batch by batch; returns the refined samples as NumPy.

        Args:
            x: `[N, ...]` latents (samples in data space with no generator).
            batch_size: samples per batch. Defaults to 32. The result does
                not depend on it.
            verbose: `"auto"`, 0, 1 or 2, as in `keras.Model.predict`.
            steps: number of batches to run. Defaults to all.
            callbacks: Keras callbacks.

        Returns:
            `[N, ...]` NumPy array of refined samples.

        Raises:
            NonFiniteRefinementError: if any sample became NaN or Inf; the
                error lists which and at which step.
        """
        latents = self._as_latents(x)
        batch_size = 32 if batch_size is None else check_positive_int(batch_size, "batch_size")
        positions = tf.range(tf.shape(latents)[0], dtype=tf.int64)
        # A dataset of our own: Keras' array adapter would cast float64
        # latents to floatx, silently losing a float64 model's precision.
        dataset = tf.data.Dataset.from_tensor_slices({"latents": latents, "positions": positions})
        outputs = super().predict(
            dataset.batch(batch_size), verbose=verbose, steps=steps, callbacks=callbacks
        )
        raise_if_nonfinite(outputs["nonfinite_step"])
        return outputs["samples"]

    def refine(self, x, seed=None, trajectory_every=0):
        """Refines `x` in one call and returns states, samples and diagnostics.

        Args:
            x: `[N, ...]` latents (samples in data space with no generator).
            seed: overrides the model's seed for this call. Defaults to the
                model's `seed` (fresh noise if that is `None`).
            trajectory_every: if positive, record states, samples and critic
                values every this many steps (and at the last step).
                Defaults to `0`.

        Returns:
            A `RefinementResult`.

        Raises:
            NonFiniteRefinementError: if any sample became NaN or Inf.
        """
        trajectory_every = check_non_negative_int(trajectory_every, "trajectory_every")
        latents = self._as_latents(x)
        seed = noise_lib.sanitize_seed(self.seed if seed is None else seed)
        positions = tf.range(tf.shape(latents)[0], dtype=tf.int64)
        if self._compiled_simulate is None:
            self._compiled_simulate = tf.function(
                self._simulate, jit_compile=self.jit_compile, reduce_retracing=True
            )
        outputs = self._compiled_simulate(latents, positions, seed, trajectory_every)
        outputs = {key: value.numpy() for key, value in outputs.items()}
        raise_if_nonfinite(outputs["nonfinite_step"])
        steps = _record_steps(self.num_steps, trajectory_every)
        return RefinementResult(
            samples=outputs["samples"],
            states=outputs["states"],
            trajectory_steps=np.asarray(steps) if steps else None,
            state_trajectory=outputs.get("state_trajectory"),
            sample_trajectory=outputs.get("sample_trajectory"),
            critic_trajectory=outputs.get("critic_trajectory"),
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
