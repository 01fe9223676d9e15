"""Exceptions raised by dgflow_tf beyond the standard `ValueError`/`TypeError`."""

import numpy as np


class NonFiniteRefinementError(FloatingPointError):
    """A refinement produced NaN or Inf for some samples.

    Attributes:
        sample_indices: int array, positions (in the full input) of the
            samples whose state, critic value or output became non-finite.
        steps: int array of the same length, the first step at which each of
            them did (`num_steps` means the final generator output).
    """

    def __init__(self, sample_indices, steps, num_samples):
        self.sample_indices = np.asarray(sample_indices)
        self.steps = np.asarray(steps)
        shown = ", ".join(
            f"sample {i} at step {s}" for i, s in zip(self.sample_indices[:10], self.steps[:10], strict=True)
        )
        more = "" if len(self.sample_indices) <= 10 else f", and {len(self.sample_indices) - 10} more"
        super().__init__(
            f"Refinement produced NaN or Inf for {len(self.sample_indices)} of {num_samples} "
            f"samples: {shown}{more}. Check the critic's scale (an exploding gradient), lower "
            "`step_size`, or inspect the generator on those latents."
        )


def raise_if_nonfinite(nonfinite_step, offset=0):
    """Raises `NonFiniteRefinementError` if any entry of `nonfinite_step` is >= 0.

    Args:
        nonfinite_step: `[batch]` int array, the first non-finite step of
            each sample or -1.
        offset: position of the first sample in the full input.
    """
    nonfinite_step = np.asarray(nonfinite_step)
    bad = np.flatnonzero(nonfinite_step >= 0)
    if bad.size:
        raise NonFiniteRefinementError(bad + offset, nonfinite_step[bad], nonfinite_step.size)
