"""Property-based tests of the public API (Hypothesis).

Each property draws inputs, works out independently what must happen (the right numbers from a
closed form, or which argument is at fault) and checks that the library does exactly that: a
correct result, or a `ValueError`/`TypeError` whose message names the argument. Never a crash
from deep inside TensorFlow, never a wrong answer.

Example generation is derandomized, so the same cases run every time and the suite cannot
flake. `pytest tests/test_properties.py --hypothesis-show-statistics` prints how many ran.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dgflow_tf import NonFiniteRefinementError, RefinementModel, noise

PROPERTY_SETTINGS = settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# A linear generator and a quadratic critic: with no noise each KL step multiplies z by
# (1 - 4 * A * ETA) (d(g(z)) = -A/2 |2z|^2, grad = -4 A z), so g(z_K) = 2 z (1 - 4 A ETA)^K.
A, ETA, K = 0.5, 0.1, 3
FACTOR = 2.0 * (1.0 - 4.0 * A * ETA) ** K


def _closed_form_model():
    return RefinementModel(
        lambda z: 2.0 * z,
        lambda x: -0.5 * A * tf.reduce_sum(tf.square(x), axis=-1),
        step_size=ETA,
        entropy_weight=0.0,
        num_steps=K,
        seed=0,
        latent_shape=(2,),
    )


MODEL = _closed_form_model()

FLOAT_DTYPES = [np.float16, np.float32, np.float64]
OTHER_DTYPES = [np.int32, np.int64, np.bool_, np.str_]
# NaN/Inf; float64-only magnitudes; float32-finite ones whose square overflows in the critic;
# subnormals and signed zeros.
SPECIAL_VALUES = [math.nan, math.inf, -math.inf, 1e300, -1e300, 1e20, -3e38, 1e-310, 5e-324, 1e-40, 0.0, -0.0]


@st.composite
def latent_arrays(draw):
    """Arrays of any dtype and rank; half of them of the valid [batch, 2] shape."""
    dtype = draw(st.sampled_from(FLOAT_DTYPES * 2 + OTHER_DTYPES))
    if draw(st.booleans()):
        shape = (draw(st.integers(0, 6)), 2)
    else:
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    if dtype in FLOAT_DTYPES:
        values = st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
            st.floats(-10, 10, allow_nan=False, allow_infinity=False),
            st.sampled_from(SPECIAL_VALUES),
        )
        raw = draw(hnp.arrays(np.float64, shape, elements=values))
        with np.errstate(over="ignore", invalid="ignore"):
            return raw.astype(dtype)
    if dtype is np.str_:
        return draw(
            hnp.arrays(np.dtype("U3"), shape, elements=st.text(st.characters(min_codepoint=1), max_size=3))
        )
    return draw(hnp.arrays(dtype, shape))


def _expected_error(z):
    """The error the inputs must raise, worked out from NumPy alone, or None."""
    if z.dtype.kind != "f":
        return TypeError, "`z` must be a floating-point array"
    if z.ndim < 2:  # [batch] alone has no room for the latent axis
        return ValueError, "`z` must have a batch axis"
    if z.shape[1:] != (2,):
        return ValueError, r"`z` must have shape \[batch, 2\]"
    if not np.isfinite(z).all():
        return ValueError, "`z` contains NaN or Inf"
    if np.abs(z.astype(np.float64)).max(initial=0.0) > np.finfo(np.float32).max:
        return ValueError, "`z` has values beyond the range of the model's dtype float32"
    return None


def _overflows_float32(z):
    # The critic squares g(z) = 2z: past sqrt(float32 max) that is Inf, a numerical fault.
    return (np.abs(2.0 * z.astype(np.float64)) > math.sqrt(np.finfo(np.float32).max)).any(axis=1)


@settings(PROPERTY_SETTINGS, max_examples=1500)
@given(z=latent_arrays(), batch_size=st.integers(1, 5), use_predict=st.booleans())
def test_any_input_gives_the_closed_form_or_an_error_naming_z(z, batch_size, use_predict):
    expected = _expected_error(z)
    run = (
        (lambda: MODEL.predict(z, batch_size=batch_size, verbose=0))
        if use_predict
        else (lambda: MODEL.refine(z).samples)
    )
    if expected is not None:
        event(f"{expected[0].__name__}: {expected[1]}")
        with pytest.raises(expected[0], match=expected[1]):
            run()
        return
    overflow = _overflows_float32(z)
    if overflow.any():
        event("NonFiniteRefinementError (float32 overflow in the critic)")
        with pytest.raises(NonFiniteRefinementError) as caught:
            run()
        np.testing.assert_array_equal(caught.value.sample_indices, np.flatnonzero(overflow))
        return
    event("result equal to the closed form" + (" (empty batch)" if not len(z) else ""))
    samples = run()
    assert samples.shape == z.shape and samples.dtype == np.float32
    reference = FACTOR * z.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(samples, reference, rtol=2e-6, atol=1e-37)


def _hyperparameter_values():
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-3, 40),
        st.booleans(),
        st.text(max_size=2),
        st.none(),
    )


def _valid(name, value):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return False
    if name == "num_steps":
        return isinstance(value, int) and value >= 0
    if not math.isfinite(value):
        return False
    return value > 0 if name == "step_size" else value >= 0


@PROPERTY_SETTINGS
@given(
    step_size=_hyperparameter_values(),
    entropy_weight=_hyperparameter_values(),
    num_steps=_hyperparameter_values(),
)
def test_hyperparameters_are_accepted_or_rejected_by_name(step_size, entropy_weight, num_steps):
    values = {"step_size": step_size, "entropy_weight": entropy_weight, "num_steps": num_steps}
    invalid = [name for name, value in values.items() if not _valid(name, value)]
    event("rejected" if invalid else "accepted")
    if invalid:
        # The constructor checks in this order; the first bad one is named.
        with pytest.raises((ValueError, TypeError), match=f"`{invalid[0]}`"):
            RefinementModel(lambda z: z, lambda x: -tf.reduce_sum(x**2, -1), **values)
        return
    model = RefinementModel(lambda z: z, lambda x: -tf.reduce_sum(x**2, -1), **values)
    assert (model.step_size, model.entropy_weight, model.num_steps) == (step_size, entropy_weight, num_steps)


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(
    latent_dim=st.integers(1, 4),
    generator_width=st.integers(1, 4),
    critic_width=st.integers(1, 4),
    critic_outputs=st.integers(1, 3),
    batch=st.integers(1, 4),
)
def test_mismatched_generator_and_critic_is_an_error_naming_the_critic(
    latent_dim, generator_width, critic_width, critic_outputs, batch
):
    generator = keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(generator_width)])
    critic = keras.Sequential([keras.Input((critic_width,)), keras.layers.Dense(critic_outputs)])
    model = RefinementModel(generator, critic, num_steps=2, seed=0)
    z = np.zeros((batch, latent_dim), np.float32)
    event("mismatched widths" if generator_width != critic_width else f"critic outputs: {critic_outputs}")
    if generator_width != critic_width:
        with pytest.raises(ValueError, match="`critic` cannot be applied to the generator's samples"):
            model.predict(z, verbose=0)
    elif critic_outputs != 1:
        with pytest.raises(ValueError, match="`critic`"):
            model.predict(z, verbose=0)
    else:
        assert model.predict(z, verbose=0).shape == (batch, generator_width)


@PROPERTY_SETTINGS
@given(seed=st.one_of(st.integers(-(2**64), 2**64), st.floats(), st.text(max_size=2), st.booleans()))
def test_seeds_are_accepted_or_rejected_by_name(seed):
    if isinstance(seed, bool) or not isinstance(seed, int):
        with pytest.raises(TypeError, match="`seed` must be None, an int"):
            noise.sanitize_seed(seed)
    elif not 0 <= seed < 2**63:
        with pytest.raises(ValueError, match=r"`seed` must be in \[0, 2\*\*63\)"):
            noise.sanitize_seed(seed)
    else:
        np.testing.assert_array_equal(noise.sanitize_seed(seed), noise.sanitize_seed(seed))


NOISE_SEED = noise.sanitize_seed(11)
ALL_NOISE = noise.step_noise(NOISE_SEED, tf.range(40, dtype=tf.int64), 3, (2,), tf.float32).numpy()


@PROPERTY_SETTINGS
@given(positions=st.lists(st.integers(0, 39), min_size=1, max_size=40))
def test_a_samples_noise_depends_on_its_position_only(positions):
    # Any batch (any size, order, repeats) gets exactly the noise of those positions in the whole.
    noise_rows = noise.step_noise(NOISE_SEED, tf.constant(positions, tf.int64), 3, (2,), tf.float32)
    np.testing.assert_array_equal(noise_rows.numpy(), ALL_NOISE[positions])
