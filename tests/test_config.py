"""`RefinementConfig`: the settings' checks and what a stream's manifest records from them."""

import pytest

from dgflow_tf.config import RefinementConfig

# The settings a manifest of the first release recorded: directories written then must still resume,
# so an Euler run (the only solver then) records exactly these keys.
FIRST_RELEASE_KEYS = {
    "divergence",
    "step_size",
    "entropy_weight",
    "num_steps",
    "space",
    "latent_shape",
    "latent_prior",
    "boundary",
    "on_nonfinite",
    "dtype",
}


def test_an_unknown_space_is_named_with_the_choices():
    with pytest.raises(ValueError) as caught:
        RefinementConfig.create(space="pixels")
    assert str(caught.value) == "Unknown space 'pixels'. Expected one of: ['latent', 'data']"


def test_manifests_record_the_solver_only_when_it_is_not_euler():
    euler = RefinementConfig.create(step_size=0.1, latent_shape=(2,)).manifest_settings("float32")
    assert set(euler) == FIRST_RELEASE_KEYS
    mala = RefinementConfig.create(step_size=0.1, solver="mala").manifest_settings("float32")
    assert set(mala) == FIRST_RELEASE_KEYS | {"solver"} and mala["solver"] == "mala"
    assert euler["step_size"] == 0.1 and euler["latent_shape"] == [2] and euler["dtype"] == "float32"
