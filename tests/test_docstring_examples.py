"""Every docstring example in the package runs and prints what it shows, so the API reference cannot rot."""

import doctest
import importlib
import pkgutil

import pytest

import dgflow_tf


def _modules():
    names = [dgflow_tf.__name__]
    for module in pkgutil.walk_packages(dgflow_tf.__path__, prefix="dgflow_tf."):
        if not module.name.endswith("__main__"):
            names.append(module.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, report=True, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
