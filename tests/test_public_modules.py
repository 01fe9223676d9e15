"""Every module of the package imports, and the package's public names resolve (CI runs this on 3.12 too)."""

import importlib
import pkgutil

import pytest

import dgflow_tf

MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(dgflow_tf.__path__, prefix="dgflow_tf.")
    if not name.endswith("__main__")
)


def test_the_package_has_its_modules():
    assert {
        "dgflow_tf.engine",
        "dgflow_tf.refinement",
        "dgflow_tf.adapters.hub.gan",
        "dgflow_tf.cli.app",
    } <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name):
    importlib.import_module(name)


def test_public_names_resolve():
    for name in dgflow_tf.__all__:
        assert getattr(dgflow_tf, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        _ = dgflow_tf.nothing
