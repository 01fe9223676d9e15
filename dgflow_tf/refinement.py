"""`RefinementModel`: DGflow as a Keras 3 model.

A thin shell over the engine (`dgflow_tf.engine`, the paper's Algorithm 1):
it resolves its arguments into a `RefinementConfig`, builds the flow for its
generator and critic, and delegates the rest: its host-side methods
(`predict`, `refine`, `generate`, `export`) come from `dgflow_tf.predictor`,
which hands inputs to their checks (`dgflow_tf.inputs`), compiling
(`dgflow_tf.runner`), batching and devices (`dgflow_tf.batching`,
`dgflow_tf.distributed`) and SavedModel export (`dgflow_tf.export`).
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import keras
import numpy as np
import tensorflow as tf

from dgflow_tf import critics as critics_lib
from dgflow_tf import flow as flow_lib
from dgflow_tf import inputs as inputs_lib
from dgflow_tf import noise as noise_lib
from dgflow_tf import step_size as step_size_lib
from dgflow_tf.config import SPACES, RefinementConfig
from dgflow_tf.engine import drift, simulate
from dgflow_tf.errors import apply_policy_in_graph
from dgflow_tf.layers import as_layer, deserialize_callable, serialize_callable
from dgflow_tf.predictor import Predictor
from dgflow_tf.results import RefinementResult
from dgflow_tf.runner import CompiledRefinement

if TYPE_CHECKING:
    from dgflow_tf.tuning import SweepResult

__all__ = ["SPACES", "RefinementModel", "RefinementResult", "drift", "simulate"]


class _Caches:
    """Plain containers that TensorFlow's tracking leaves alone."""

    def __init__(self, model):
        self.compiled = CompiledRefinement(model)
        self.generate = {}
        self.step_size = None  # the float that step_size="auto" resolved to


@keras.saving.register_keras_serializable(package="dgflow_tf")
class RefinementModel(Predictor, keras.Model):
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
        step_size: positive float, `eta`, or `"auto"`: set from the model's
            own drift on a probe batch so that over the whole run the flow
            moves each coordinate of 90 % of samples at most half a prior
            standard deviation (root mean square), for a total time
            `eta * K` of at most 1
            (`dgflow_tf.step_size`; no data needed). `model.step_size` gives
            the number it resolved to. For a tuned setting, see `calibrate`.
            Defaults to `"auto"`.
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
        solver: `"euler"` (Euler-Maruyama, the paper's Algorithm 1),
            `"mala"` (each step is accepted or rejected by its Metropolis
            test and every sample adapts its own step size,
            `dgflow_tf.solvers`; needs `entropy_weight > 0`) or
            `"adaptive"` (Euler-Maruyama whose step shrinks for each sample
            whose drift reverses, i.e. that overshot a mode;
            `dgflow_tf.adaptive`; 10 steps reach the quality of 25 equal
            ones on the 2-D WGAN-GPs). All cost one critic evaluation per
            step (MALA one more). Defaults to `"euler"`.
        step_schedule: how Euler's steps spread the total time
            `step_size * num_steps`: `"constant"` (the paper's equal steps) or
            `"linear"` (steps that shrink to a tenth, so that samples settle
            on the critic's modes; at 10 steps close to the quality of 25 equal
            ones, `dgflow_tf.schedules`). `step_size` stays the mean step.
            Defaults to `"constant"`.
        noise_distribution: the distribution of Euler's step noise:
            `"normal"` (the paper's Brownian increments) or `"rademacher"`
            (each number -1 or +1: the same mean and variance, 4 times
            cheaper to draw, and the same weak order of convergence;
            `noise.step_signs_at`). For data space on large images, where
            drawing normals costs more than a small critic's step; quality at
            equal steps in `benchmarks/noise_quality.py`. Defaults to
            `"normal"`.
        **kwargs: standard `keras.Model` arguments (`name`, `dtype`).

    Raises:
        TypeError: if `generator` or `critic` is not callable, or
            `divergence`, `latent_prior` or `conditional` has an unsupported
            type.
        ValueError: for a `step_size` neither `"auto"` nor positive and finite, a negative
            `entropy_weight` or `num_steps`, an unknown `divergence`,
            `space`, `latent_prior`, `boundary`, `on_nonfinite`, `solver`,
            `step_schedule` or `noise_distribution`, a schedule with a
            solver other than `"euler"`, non-normal noise with
            `solver="mala"`, or a missing
            generator in latent space.

    Examples:
        >>> generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        >>> critic = lambda x: -tf.reduce_sum(tf.square(x), axis=-1)
        >>> model = RefinementModel(generator, critic, num_steps=5, seed=0)
        >>> model.predict(model.sample_latents(8, seed=1), verbose=0).shape
        (8, 2)
    """

    #: Optional callable `states -> [batch]` log prior density whose gradient is added to the drift
    #: (DDLS sets the standard normal's); DGflow has none.
    log_prior = None

    # The defaults are written out for readers; a test checks they are `config.DEFAULTS`.
    def __init__(
        self,
        generator: Callable | None,
        critic: Callable,
        *,
        divergence: str | Callable | Any = "KL",
        step_size: float | Literal["auto"] = "auto",
        entropy_weight: float = 0.01,
        num_steps: int = 25,
        space: Literal["latent", "data"] = "latent",
        seed: int | None = None,
        latent_shape: tuple[int, ...] | None = None,
        latent_prior: str | Any | None = None,
        boundary: Literal["reflect", "clip", "none"] = "reflect",
        conditional: bool = False,
        on_nonfinite: Literal["raise", "freeze"] = "raise",
        jit_compile: bool | Literal["auto"] = "auto",
        solver: Literal["euler", "mala", "adaptive"] = "euler",
        step_schedule: Literal["constant", "linear"] = "constant",
        noise_distribution: Literal["normal", "rademacher"] = "normal",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if space not in SPACES:
            raise ValueError(f"Unknown space {space!r}. Expected one of: {list(SPACES)}")
        inputs_lib.check_generator(generator, space)
        if latent_shape is None and generator is not None and not conditional:
            latent_shape = inputs_lib.infer_input_shape(generator)
        self.config = RefinementConfig.create(
            divergence=divergence,
            step_size=step_size,
            entropy_weight=entropy_weight,
            num_steps=num_steps,
            space=space,
            seed=seed,
            latent_shape=latent_shape,
            latent_prior=latent_prior,
            boundary=boundary,
            conditional=conditional,
            on_nonfinite=on_nonfinite,
            jit_compile=jit_compile,
            solver=solver,
            step_schedule=step_schedule,
            noise_distribution=noise_distribution,
        )
        # The resolved divergence and prior are attributes too, so TensorFlow tracks what they hold.
        self.divergence = self.config.divergence
        self.latent_prior = self.config.latent_prior
        self.generator = None if generator is None else as_layer(generator, name="generator")
        self.critic = critics_lib.get(critic)
        # Compiled functions, kept out of TensorFlow's tracking so export does not save them.
        self._caches = _Caches(self)
        # The model owns no weights; its generator and critic build themselves.
        self.built = True

    # Hyperparameters, read from the configuration.
    solver = property(lambda self: self.config.solver)
    step_schedule = property(lambda self: self.config.step_schedule)
    noise_distribution = property(lambda self: self.config.noise_distribution)

    @property
    def step_size(self):
        """The step size `eta` as a float: the setting, or the number `"auto"` resolved to.

        `"auto"` resolves once, on first use (`dgflow_tf.step_size.resolve`).
        """
        if not step_size_lib.is_auto(self.config.step_size):
            return self.config.step_size
        if self._caches.step_size is None:
            self._caches.step_size = step_size_lib.resolve(self)
        return self._caches.step_size

    def set_settings(self, **changes):
        """Changes settings in place (e.g. `step_size`, `num_steps`), validated as in the constructor.

        The compiled functions are dropped, so the next call traces with the new settings.
        """
        self.config = self.config.replace(**changes)
        self.divergence = self.config.divergence
        self.latent_prior = self.config.latent_prior
        self._caches = _Caches(self)

    def calibrate(self, real_samples: np.ndarray, **kwargs) -> "SweepResult":
        """Sets the step size (and `num_steps` if asked) that refines a tuning batch best against
        `real_samples`, never worse than no refinement; returns the sweep's table.

        See `dgflow_tf.calibration.calibrate` for the arguments (`latents`,
        `metric`, `step_sizes`, `num_steps`, `seed`, `progress`).

        Examples:
            >>> table = model.calibrate(real_images)  # doctest: +SKIP
            >>> print(table.to_markdown())  # doctest: +SKIP
        """
        from dgflow_tf.calibration import calibrate

        return calibrate(self, real_samples, **kwargs)

    def resolve_step_size(self, latents=None, conditions=None):
        """Resolves `step_size="auto"` now, on these inputs if the model cannot draw its own probe.

        Called by `predict`, `refine` and streaming with the user's inputs
        before any batching, so the result does not depend on batch sizes.
        Returns the step size.
        """
        if step_size_lib.is_auto(self.config.step_size) and self._caches.step_size is None:
            if latents is not None:
                # Errors about the user's own inputs first, in terms of their batch.
                self._caches.compiled.validate(tf.convert_to_tensor(latents), conditions)
            self._caches.step_size = step_size_lib.resolve(self, latents, conditions)
        return self.step_size

    entropy_weight = property(lambda self: self.config.entropy_weight)
    num_steps = property(lambda self: self.config.num_steps)
    space = property(lambda self: self.config.space)
    seed = property(lambda self: self.config.seed)
    latent_shape = property(lambda self: self.config.latent_shape)
    boundary = property(lambda self: self.config.boundary)
    conditional = property(lambda self: self.config.conditional)
    on_nonfinite = property(lambda self: self.config.on_nonfinite)

    def _generate(self, latents, conditions=None):
        if self.conditional:
            return self.generator([latents, conditions], training=False)
        return self.generator(latents, training=False)

    # Engine plumbing (runner, batching, export, streaming call these): private, off the API page.
    def _flow_parts(self, latents, conditions=None):
        """The `flow.FlowParts` the engine refines for these graph inputs."""
        return flow_lib.flow_parts(self, latents, conditions)

    def _flow(self, latents, positions, seed, conditions=None, trajectory_every=0):
        """Refines one batch of graph inputs with the engine (`flow.refine_batch`); a dict of tensors."""
        return flow_lib.refine_batch(self, latents, positions, seed, conditions, trajectory_every)

    def _run_batch(self, latents, positions, seed, conditions=None, trajectory_every=0):
        """`_flow` compiled: one batch through the model's `tf.function` (`dgflow_tf.runner`)."""
        return self._caches.compiled(latents, positions, seed, conditions, trajectory_every)

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
        latents, positions, conditions = inputs_lib.graph_inputs(self, inputs)
        outputs = self._flow(latents, positions, noise_lib.sanitize_seed(self.seed), conditions)
        return apply_policy_in_graph(self.on_nonfinite, outputs, positions)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "generator": None if self.generator is None else serialize_callable(self.generator),
            "critic": serialize_callable(self.critic),
            **self.config.get_config(),
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
