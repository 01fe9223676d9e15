"""Bad input raises ValueError/TypeError that names the argument; faults are reported."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf import NonFiniteRefinementError, RefinementModel, critics, noise


def _generator():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def _critic(x):
    return -tf.reduce_sum(tf.square(x), axis=-1)


Z = np.zeros((4, 3), "float32")


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (
            {"step_size": 0.0},
            ValueError,
            r"`step_size` must be a finite positive number. Received: step_size=0.0",
        ),
        ({"step_size": -0.1}, ValueError, r"step_size=-0.1"),
        ({"step_size": float("nan")}, ValueError, r"step_size=nan"),
        ({"step_size": float("inf")}, ValueError, r"step_size=inf"),
        ({"step_size": "0.1"}, ValueError, r"step_size='0.1'"),
        ({"entropy_weight": -1.0}, ValueError, r"`entropy_weight` must be a finite number >= 0"),
        ({"entropy_weight": float("nan")}, ValueError, r"entropy_weight=nan"),
        ({"num_steps": -1}, ValueError, r"`num_steps` must be an integer >= 0. Received: num_steps=-1"),
        ({"num_steps": 2.5}, ValueError, r"num_steps=2.5"),
        ({"num_steps": True}, ValueError, r"num_steps=True"),
        ({"divergence": "kll"}, ValueError, r"Unknown divergence 'kll'. Expected one of"),
        ({"divergence": 3}, TypeError, r"`divergence` must be"),
        ({"space": "pixel"}, ValueError, r"Unknown space 'pixel'. Expected one of: \['latent', 'data'\]"),
        ({"seed": 1.5}, TypeError, r"`seed` must be None, an int"),
        ({"seed": -3}, ValueError, r"seed=-3"),
        ({"seed": [1, 2, 3]}, ValueError, r"shape \[2\]"),
        ({"jit_compile": "yes"}, ValueError, r"`jit_compile` must be True, False or 'auto'"),
    ],
)
def test_bad_settings(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        RefinementModel(_generator(), _critic, **kwargs)


def test_generator_must_be_callable():
    with pytest.raises(TypeError, match="`generator` must be a callable"):
        RefinementModel("generator.keras", _critic)


def test_latent_space_needs_generator():
    with pytest.raises(ValueError, match="`generator` is required with space='latent'"):
        RefinementModel(None, _critic)


def test_critic_must_be_callable():
    with pytest.raises(TypeError, match="`critic` must be a callable"):
        RefinementModel(_generator(), 0.5)


@pytest.mark.parametrize(
    "z, error, pattern",
    [
        (
            np.zeros((4, 5), "float32"),
            ValueError,
            r"`z` must have shape \[batch, 3\].*Received: shape \[4, 5\]",
        ),
        (np.zeros(3, "float32"), ValueError, r"`z` must have a batch axis"),
        (np.zeros((4, 3), "int32"), TypeError, r"`z` must be a floating-point array. Received: dtype int32"),
        (np.full((4, 3), np.nan, "float32"), ValueError, r"`z` contains NaN or Inf"),
        (
            tf.data.Dataset.from_tensor_slices(np.zeros((4, 3), "float32")),
            TypeError,
            r"datasets are not supported",
        ),
    ],
)
def test_bad_latents(z, error, pattern):
    model = RefinementModel(_generator(), _critic, num_steps=1)
    with pytest.raises(error, match=pattern):
        model.predict(z, verbose=0)
    if not isinstance(z, tf.data.Dataset):
        with pytest.raises(error, match=pattern):
            model.refine(z)


@pytest.mark.parametrize("bad", [0, -5, 2.0])
def test_bad_batch_size(bad):
    model = RefinementModel(_generator(), _critic, num_steps=1)
    with pytest.raises(
        ValueError, match=f"`batch_size` must be a positive integer. Received: batch_size={bad}"
    ):
        model.predict(Z, batch_size=bad, verbose=0)


@pytest.mark.parametrize(
    "critic, error, pattern",
    [
        (lambda x: x, ValueError, r"`critic` must return one value per sample.*Received: shape \[4, 2\]"),
        (lambda x: tf.cast(x[:, 0] > 0, tf.int32), TypeError, r"`critic` must return floating-point values"),
        (lambda x: (x[:, 0], x[:, 1]), TypeError, r"`critic` must return a single tensor"),
        (lambda x: tf.reduce_sum(x)[None], ValueError, r"Received 1 values for a batch of 4 samples"),
    ],
)
def test_bad_critic_output(critic, error, pattern):
    model = RefinementModel(_generator(), critic, num_steps=1)
    with pytest.raises(error, match=pattern):
        model.refine(Z)


def test_disconnected_critic_gradient_is_an_error():
    model = RefinementModel(_generator(), lambda x: tf.stop_gradient(_critic(x)), num_steps=1)
    with pytest.raises(ValueError) as caught:
        model.refine(Z)
    # In graph mode TensorFlow prefixes where the error came from; the message is whole inside it.
    assert (
        "The critic's output does not depend on the refined states through differentiable operations "
        "(the gradient is disconnected), so DGflow has no drift. Check that the generator and critic"
    ) in str(caught.value)


def test_generator_that_changes_batch_size_is_an_error():
    model = RefinementModel(lambda z: tf.concat([z, z], axis=0), _critic, num_steps=1, latent_shape=(3,))
    with pytest.raises(ValueError, match="`generator` must return one sample per latent"):
        model.refine(Z)


def _nan_for_negative_first_coordinate(z):
    # A generator that breaks for some latents: NaN where z[:, 0] < 0.
    return tf.where(z[:, :1] < 0.0, tf.math.log(z[:, :1]), z[:, :1]) + 0.0 * z


def test_nonfinite_samples_are_reported_with_positions_and_steps():
    z = np.array([[1.0, 0.0], [-1.0, 0.0], [2.0, 0.0], [-2.0, 1.0]], "float32")
    model = RefinementModel(_nan_for_negative_first_coordinate, _critic, num_steps=3, latent_shape=(2,))
    with pytest.raises(NonFiniteRefinementError, match="NaN or Inf for 2 of 4 samples") as caught:
        model.predict(z, batch_size=3, verbose=0)
    np.testing.assert_array_equal(caught.value.sample_indices, [1, 3])
    np.testing.assert_array_equal(caught.value.steps, [0, 0])
    with pytest.raises(NonFiniteRefinementError):
        model.refine(z)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Refinement produced NaN or Inf"):
        model(z)


def test_sanitize_seed_types():
    assert noise.sanitize_seed(5).dtype == tf.int32
    assert noise.sanitize_seed(np.int64(5)).shape == (2,)
    with pytest.raises(TypeError, match="`seed` must be None, an int"):
        noise.sanitize_seed("5")
    with pytest.raises(TypeError, match="dtype float32"):
        noise.sanitize_seed(tf.constant([1.0, 2.0]))


def test_wasserstein_scale_must_be_positive():
    with pytest.raises(ValueError, match="`scale` must be a finite positive number. Received: scale=0.0"):
        critics.WassersteinCritic(_critic, scale=0.0)


def test_sum_critic_needs_critics():
    with pytest.raises(ValueError, match="`critics` must contain at least one critic"):
        critics.SumCritic([])


def test_a_missing_or_uncallable_generator_is_named_with_the_fix():
    from dgflow_tf import RefinementModel

    with pytest.raises(
        ValueError, match=r"^`generator` is required with space='latent'\. Received: generator=None"
    ):
        RefinementModel(None, lambda x: x[:, 0])
    with pytest.raises(
        TypeError, match=r"^`generator` must be a callable mapping latents to samples \(a Keras"
    ):
        RefinementModel("generator.keras", lambda x: x[:, 0])


@pytest.mark.parametrize(
    "space, generator, name",
    [("latent", lambda z: z, "z"), ("data", lambda z: z, "z"), ("data", None, "x")],
)
def test_input_errors_call_the_input_z_when_a_generator_maps_it_and_x_otherwise(space, generator, name):
    from dgflow_tf import RefinementModel

    model = RefinementModel(generator, lambda x: x[:, 0], space=space, latent_shape=(2,), step_size=0.1)
    with pytest.raises(ValueError, match=rf"`{name}` must have shape \[batch, 2\]"):
        model.predict(np.zeros((3, 5), "float32"), verbose=0)


def test_numbers_given_as_strings_are_named_not_crashed_on():
    from dgflow_tf._validation import check_non_negative_float, check_positive_float

    with pytest.raises(
        ValueError, match=r"^`step_size` must be a finite positive number\. Received: step_size='0.1'$"
    ):
        check_positive_float("0.1", "step_size")
    with pytest.raises(
        ValueError, match=r"^`entropy_weight` must be a finite number >= 0\. Received: entropy_weight='0'$"
    ):
        check_non_negative_float("0", "entropy_weight")
    with pytest.raises(ValueError, match=r"^`entropy_weight` must be a finite number >= 0"):
        RefinementModel(_generator(), _critic, entropy_weight=-0.5)


def test_host_inputs_are_cast_to_the_models_dtype_and_overflow_is_named():
    from dgflow_tf._validation import as_batch_tensor

    cast = as_batch_tensor(np.array([[1.5, -2.0]], "float64"), "z", dtype=tf.float32)
    assert cast.dtype == tf.float32 and cast.numpy().tolist() == [[1.5, -2.0]]
    # 1e300 is finite in float64 and Inf in float32: the cast must not pass it on.
    with pytest.raises(ValueError) as overflow:
        as_batch_tensor(np.array([[1e300, 0.0]]), "z", dtype=tf.float32)
    assert str(overflow.value) == (
        "`z` has values beyond the range of the model's dtype float32 (largest finite: 3.4e+38). Rescale "
        "the inputs or build the model with a wider dtype."
    )
    with pytest.raises(
        TypeError, match=r"^`z` must be a floating-point array or tensor\. Received: list that"
    ):
        as_batch_tensor([[1.0], [1.0, 2.0]], "z")  # ragged rows: TensorFlow cannot convert them


def test_a_missing_batch_axis_shows_the_shape_as_a_list_or_unknown():
    from dgflow_tf._validation import check_batch_tensor

    with pytest.raises(ValueError, match=r"Received: shape \[3\]\. For one sample use z\[None\]\.$"):
        check_batch_tensor(tf.zeros([3]), "z")

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32)])
    def unknown_rank(x):
        check_batch_tensor(x, "x")
        return x

    with pytest.raises(ValueError, match=r"Received: shape <unknown>\. For one sample use x\[None\]\.$"):
        unknown_rank(tf.zeros([2, 2]))
