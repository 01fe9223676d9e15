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


def _mnist_folder():
    """MNIST's IDX folder: `DGFLOW_TF_MNIST_DIR`, else the project's shared copy beside the repository."""
    from pathlib import Path

    configured = os.environ.get("DGFLOW_TF_MNIST_DIR")
    folder = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared/data/mnist"
    if (folder / "t10k-labels-idx1-ubyte.gz").exists():
        return str(folder)
    if configured:
        # CI sets the variable: a missing folder there is a failure, never a skip.
        pytest.fail(f"DGFLOW_TF_MNIST_DIR={configured!r} does not hold MNIST's IDX files")
    pytest.skip("MNIST's IDX files are not on this machine and DGFLOW_TF_MNIST_DIR is unset (offline)")


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder of MNIST's four IDX files (skips offline without it; fails if a set variable is wrong)."""
    return _mnist_folder()


@pytest.fixture(scope="session")
def mnist_test(mnist_dir):
    """MNIST's 10,000 test images and labels, `[-1, 1]`."""
    from dgflow_tf import datasets

    return datasets.mnist("test", mnist_dir, return_labels=True)


@pytest.fixture
def package_weights_untouched():
    """Fails a test that rewrites the weights shipped inside the package, and puts them back.

    The zoo's training commands write the package's own files when given no `--output`; their
    tests redirect that path. A command that ignored the redirection would replace the shipped
    models for every later test (and every later mutant of a mutation run).
    """
    from pathlib import Path

    from dgflow_tf.zoo import saved_weights

    folder = Path(saved_weights.__file__).resolve().parent / "weights"
    before = {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}
    yield
    changed = [path for path, data in before.items() if not path.exists() or path.read_bytes() != data]
    for path in changed:
        path.write_bytes(before[path])
    added = [path for path in folder.rglob("*") if path.is_file() and path not in before]
    for path in added:
        path.unlink()
    assert not changed and not added, (
        f"the test rewrote shipped weights {[p.name for p in changed]} / added {[p.name for p in added]}"
    )
