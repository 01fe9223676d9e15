import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the long experiments marked slow (minutes to an hour each; not run by CI)",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow") or os.environ.get("DGFLOW_TF_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="a long experiment: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def point_models(tmp_path_factory):
    """A small 2-D generator and critic saved as .keras files: `(folder, generator, critic)`."""
    import keras

    keras.utils.set_random_seed(0)
    generator = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(2)]
    )
    critic = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)]
    )
    folder = tmp_path_factory.mktemp("models")
    generator.save(folder / "generator.keras")
    critic.save(folder / "critic.keras")
    return folder, generator, critic
