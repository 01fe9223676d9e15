"""Exceptions and warnings raised by dgflow_tf beyond the standard `ValueError`/`TypeError`.

Non-finite samples follow one of two policies, chosen by
`RefinementModel(on_nonfinite=...)`:

- `"raise"` (the default): the call raises `NonFiniteRefinementError`,
  which lists the bad samples and their first bad step and still carries
  every refined sample in `error.samples`, so no finished work is lost.
- `"freeze"`: the call returns normally and warns with
  `NonFiniteRefinementWarning`; bad samples are frozen at their last finite
  state and flagged (`RefinementResult.nonfinite_step`, the shard manifest of
  `streaming.refine_to_shards`).

In both, the engine freezes a bad sample at its last finite state as soon as
it turns NaN or Inf, so the other samples are refined exactly as if it were
not in the batch.
"""

import os
import sys
import warnings

import numpy as np
import tensorflow as tf

from dgflow_tf.config import ON_NONFINITE_POLICIES as ON_NONFINITE

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def caller_stacklevel():
    """The `stacklevel` for `warnings.warn` that names the first line outside dgflow_tf: the user's.

    A fixed number points inside the package whenever a warning is reached through more or fewer
    of its own calls (`predict`, `refine` and the loaders all get there differently).

    Examples:
        >>> warnings.warn("...", stacklevel=caller_stacklevel())  # doctest: +SKIP
    """

    def inside(frame):
        return frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep)

    frame = sys._getframe(1)
    while frame is not None and not inside(frame):  # a wrapper (decorator, instrumentation) of this call
        frame = frame.f_back
    level = 1  # the frame that warns
    while inside(frame):
        frame, level = frame.f_back, level + 1
    return level


def _describe(sample_indices, steps, num_samples):
    shown = ", ".join(f"sample {i} at step {s}" for i, s in zip(sample_indices[:10], steps[:10], strict=True))
    more = "" if len(sample_indices) <= 10 else f", and {len(sample_indices) - 10} more"
    return f"Refinement produced NaN or Inf for {len(sample_indices)} of {num_samples} samples: {shown}{more}"


class NonFiniteRefinementError(FloatingPointError):
    """A refinement produced NaN or Inf for some samples.

    Attributes:
        sample_indices: int array, positions (in the full input) of the
            samples whose state, critic value or output became non-finite.
        steps: int array of the same length, the first step at which each of
            them did (`num_steps` means the final generator output).
        samples: the whole refined batch, or `None`: good samples fully
            refined, bad ones frozen at their last finite state.
    """

    def __init__(self, sample_indices, steps, num_samples, samples=None):
        self.sample_indices = np.asarray(sample_indices)
        self.steps = np.asarray(steps)
        self.samples = samples
        super().__init__(
            f"{_describe(self.sample_indices, self.steps, num_samples)}. Check the critic's scale "
            "(an exploding gradient), lower `step_size`, or inspect the generator on those latents. "
            "`error.samples` holds the refined batch (bad samples frozen at their last finite "
            "state); on_nonfinite='freeze' returns it with a warning instead of raising."
        )


class ModelFileError(ValueError):
    """A model file or directory is damaged (truncated, zero-filled, or with changed bytes).

    Raised by the loaders (`loading.load_callable`, `adapters.hub.load_gan`,
    the command line's `--generator` and `--critic`) instead of whatever the
    file reader raised, which is kept as `__cause__`
    (`dgflow_tf.integrity`).

    Attributes:
        path: the file or directory.
        part: the damaged part, e.g. `"variables index (variables/variables.index)"`.
    """

    def __init__(self, message, path=None, part=None):
        super().__init__(message)
        self.path = path
        self.part = part


class WorkerLostError(ConnectionError):
    """A multi-worker run lost contact with one of its workers (killed, pre-empted, or not answering
    within the collectives' timeout).

    The shards written before the loss are kept; restarting every worker with the same command
    resumes the run bit for bit (`dgflow_tf.streaming`).

    Attributes:
        lost: the lost tasks as `"worker 1 (host:port)"` strings (every other task when
            TensorFlow's error does not say which).
        shards_done: how many shards the directory holds.
    """

    def __init__(self, message, lost=(), shards_done=0):
        super().__init__(message)
        self.lost = list(lost)
        self.shards_done = shards_done


class NonFiniteRefinementWarning(UserWarning):
    """Some samples turned NaN or Inf and were frozen (`on_nonfinite="freeze"`)."""


def check_on_nonfinite(policy):
    """Validates an `on_nonfinite` policy name.

    Raises:
        ValueError: if `policy` is not one of `ON_NONFINITE`.
    """
    if policy not in ON_NONFINITE:
        raise ValueError(
            f"Unknown on_nonfinite={policy!r}. Expected one of: {list(ON_NONFINITE)} "
            "('raise' stops with an error listing the samples, 'freeze' keeps them frozen and flags them)."
        )
    return policy


def raise_if_nonfinite(nonfinite_step, offset=0, policy="raise", samples=None):
    """Applies the non-finite policy to one refinement's per-sample flags.

    Args:
        nonfinite_step: `[batch]` int array, the first non-finite step of
            each sample or -1.
        offset: position of the first sample in the full input.
        policy: `"raise"` or `"freeze"`. Defaults to `"raise"`.
        samples: the refined batch, attached to the error. Defaults to `None`.

    Raises:
        NonFiniteRefinementError: under `"raise"`, if any entry is >= 0.
    """
    nonfinite_step = np.asarray(nonfinite_step)
    bad = np.flatnonzero(nonfinite_step >= 0)
    if not bad.size:
        return
    if policy == "freeze":
        warnings.warn(
            f"{_describe(bad + offset, nonfinite_step[bad], nonfinite_step.size)}. They were frozen at "
            "their last finite state (on_nonfinite='freeze').",
            NonFiniteRefinementWarning,
            stacklevel=caller_stacklevel(),
        )
        return
    raise NonFiniteRefinementError(bad + offset, nonfinite_step[bad], nonfinite_step.size, samples)


def apply_policy_in_graph(policy, outputs, positions):
    """The policy inside a graph (`RefinementModel.call`, a served SavedModel); returns the samples.

    Under `"raise"` a non-finite sample fails the graph with an
    `InvalidArgumentError` naming the sample positions and first bad steps;
    under `"freeze"` the frozen samples are returned.

    Args:
        policy: `"raise"` or `"freeze"`.
        outputs: the engine's dict (`samples`, `nonfinite_step`).
        positions: `[batch]` positions of the samples in the full input.
    """
    if policy == "freeze":
        return outputs["samples"]
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
