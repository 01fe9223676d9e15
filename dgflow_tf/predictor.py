"""`Predictor`: the ways to run a `RefinementModel` on host data, as Keras' `Trainer` is a model's fit.

A mixin of `RefinementModel` (`dgflow_tf.refinement`), which holds the
configuration, the generator and critic, and the graph-level `call`. The
methods here take NumPy arrays (or `(latents, conditions)` pairs), check them
(`dgflow_tf.inputs`) and hand them to the batching loop (`dgflow_tf.batching`),
the `tf.distribute` path (`dgflow_tf.distributed`), the one-call refinement
with diagnostics (`dgflow_tf.results`) or the SavedModel writer
(`dgflow_tf.export`).
"""

from collections.abc import Callable, Mapping

import numpy as np

from dgflow_tf import batching, distributed, export, results
from dgflow_tf import inputs as inputs_lib
from dgflow_tf._validation import check_non_negative_int
from dgflow_tf.results import RefinementResult
from dgflow_tf.runner import batch_spec, compile_once


class Predictor:
    """Host-side entry points of `RefinementModel`: `sample_latents`, `generate`, `predict`,
    `predict_on_batch`, `refine`, `export` and `evaluations_per_sample`.

    The model provides `config` and its properties, `generator`, `latent_prior`,
    `compute_dtype`, `_generate`, `_caches` and `resolve_step_size`.
    """

    def sample_latents(self, num_samples: int, seed: int | None = None, start: int = 0) -> np.ndarray:
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

    def generate(self, x: np.ndarray | tuple, batch_size: int = 64) -> np.ndarray:
        """The unrefined samples `g(z)`, for before/after comparisons.

        Args:
            x: `[N, ...]` latents, or a `(latents, conditions)` pair.
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
        latents, conditions = inputs_lib.host_inputs(self, x)
        specs = [batch_spec(t) for t in (latents, conditions) if t is not None]
        key = tuple((tuple(spec.shape[1:]), spec.dtype.name) for spec in specs)
        if key not in self._caches.generate:
            self._caches.generate[key] = compile_once(self._generate, specs)
        return batching.map_batches(self._caches.generate[key], [latents, conditions], batch_size)

    def predict_on_batch(self, x):
        """Refines `x` as one batch; returns NumPy samples (`predict` with one batch, no progress bar)."""
        count = len(x[0]) if self.conditional and isinstance(x, (tuple, list)) else len(x)
        return self.predict(x, batch_size=max(1, count), verbose=0)

    def predict(
        self,
        x: np.ndarray | tuple,
        batch_size: int | None = None,
        verbose: str | int = "auto",
        steps: int | None = None,
        callbacks: list | None = None,
    ) -> np.ndarray:
        """Refines `x` batch by batch; returns the refined samples as NumPy.

        Inside a `tf.distribute` strategy's scope each replica refines
        `ceil(batch_size / num_replicas)` rows at a time, bit for bit as one
        device would (`dgflow_tf.distributed`).

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
        latents, conditions = inputs_lib.host_inputs(self, x)
        return distributed.predict(self, latents, conditions, batch_size, verbose, steps, callbacks)

    def refine(
        self,
        x: np.ndarray | tuple,
        seed: int | None = None,
        trajectory_every: int = 0,
        metrics: Mapping[str, Callable] | None = None,
    ) -> RefinementResult:
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
        latents, conditions = inputs_lib.host_inputs(self, x)
        return results.refine(self, latents, conditions, seed, trajectory_every, metrics)

    def export(
        self,
        filepath: str,
        format: str = "tf_saved_model",
        verbose: bool = False,
        input_signature: list | None = None,
        **kwargs,
    ) -> None:
        """Writes a SavedModel whose `serve(z, [conditions,] seed)` refines with the steps in its graph.

        It loads with `tf.saved_model.load` without `dgflow_tf` and returns
        exactly `model.refine(z, seed=seed).samples` (see `dgflow_tf.export`).

        Args:
            filepath: directory to write the SavedModel to.
            format: must be `"tf_saved_model"`.
            verbose: whether to print the endpoint summary. Defaults to `False`.
            input_signature: not supported; the signature is fixed.
            **kwargs: `condition_spec`, a `tf.TensorSpec` of one batch of
                conditions, for conditional models whose generator does not
                declare its inputs.

        Raises:
            ValueError: for another `format`, an `input_signature`, an unknown
                `latent_shape`, or a conditional model without a condition spec.

        Examples:
            >>> model.export("/tmp/refiner")  # doctest: +SKIP
            >>> tf.saved_model.load("/tmp/refiner").serve(z, tf.constant(0, tf.int64))  # doctest: +SKIP
        """
        export.export_refinement(
            self, filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs
        )

    def evaluations_per_sample(self) -> dict[str, int]:
        """Forward evaluations per refined sample, `{"generator": .., "critic": ..}`: each of the K
        steps runs the critic (in latent space also the generator) once; latent space adds `g(z_K)`
        (Euler) or the start (MALA, which also evaluates the critic there)."""
        # MALA evaluates the start and each of the K proposals, and keeps g(z) of the accepted one.
        critic = self.num_steps + (1 if self.solver == "mala" else 0)
        if self.space == "latent":
            generator = self.num_steps + 1
        else:
            generator = 0 if self.generator is None else 1
        return {"generator": generator, "critic": critic}
