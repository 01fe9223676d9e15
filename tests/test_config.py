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


def test_manifests_record_the_step_schedule_only_when_it_is_not_constant():
    constant = RefinementConfig.create(step_size=0.1).manifest_settings("float32")
    assert set(constant) == FIRST_RELEASE_KEYS
    linear = RefinementConfig.create(step_size=0.1, step_schedule="linear").manifest_settings("float32")
    assert set(linear) == FIRST_RELEASE_KEYS | {"step_schedule"} and linear["step_schedule"] == "linear"


def test_a_schedule_with_mala_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="Use step_schedule='constant' with solver='mala'"):
        RefinementConfig.create(step_size=0.1, solver="mala", step_schedule="linear")
    assert RefinementConfig.create(step_size=0.1, solver="mala").step_schedule == "constant"


def test_an_unknown_step_schedule_is_named_with_the_choices():
    with pytest.raises(ValueError) as caught:
        RefinementConfig.create(step_schedule="cosine")
    assert str(caught.value) == "Unknown step_schedule 'cosine'. Expected one of: ['constant', 'linear']"


def test_noise_distributions_are_checked_and_recorded_only_when_not_normal():
    with pytest.raises(ValueError) as caught:
        RefinementConfig.create(noise_distribution="uniform")
    assert str(caught.value) == (
        "Unknown noise_distribution 'uniform'. Expected one of: ['normal', 'rademacher']"
    )
    with pytest.raises(ValueError, match="Use noise_distribution='normal' with solver='mala'"):
        RefinementConfig.create(step_size=0.1, solver="mala", noise_distribution="rademacher")
    signs = RefinementConfig.create(step_size=0.1, noise_distribution="rademacher")
    settings = signs.manifest_settings("float32")
    assert set(settings) == FIRST_RELEASE_KEYS | {"noise_distribution"}
    assert settings["noise_distribution"] == "rademacher"
    assert signs.get_config()["noise_distribution"] == "rademacher"


def test_an_unknown_argument_is_named_with_every_accepted_one():
    with pytest.raises(TypeError) as caught:
        RefinementConfig.create(stepsize=0.1)
    message = str(caught.value)
    assert message.startswith("Unknown refinement arguments ['stepsize']. Expected some of: [")
    for name in ("step_size", "entropy_weight", "num_steps", "solver", "noise_distribution"):
        assert repr(name) in message


def test_an_unknown_solver_is_named_with_the_choices():
    with pytest.raises(ValueError) as caught:
        RefinementConfig.create(solver="heun")
    assert str(caught.value) == "Unknown solver 'heun'. Expected one of: ['euler', 'mala', 'adaptive']"


def test_only_mala_needs_noise():
    with pytest.raises(ValueError, match=r"^solver='mala' needs entropy_weight > 0: .* Use solver='euler'"):
        RefinementConfig.create(step_size=0.1, solver="mala", entropy_weight=0.0)
    deterministic = RefinementConfig.create(step_size=0.1, solver="euler", entropy_weight=0.0)
    assert deterministic.entropy_weight == 0.0 and deterministic.solver == "euler"


def test_a_schedule_with_mala_names_the_schedule_and_the_fix_in_full():
    with pytest.raises(ValueError) as caught:
        RefinementConfig.create(step_size=0.1, solver="mala", step_schedule="linear")
    assert str(caught.value) == (
        "step_schedule='linear' applies to solver='euler'; solver='mala' adapts each sample's step "
        "itself. Use step_schedule='constant' with solver='mala'."
    )
