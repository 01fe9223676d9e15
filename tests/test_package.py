"""The package namespace: lazy names and submodules, and what `dir` lists."""

import importlib

import pytest

import dgflow_tf


@pytest.mark.parametrize("name", ["tuning", "priors", "adapters"])
def test_a_submodule_is_loaded_on_first_access(name, monkeypatch):
    module = importlib.import_module(f"dgflow_tf.{name}")
    # As in a fresh interpreter, where `import dgflow_tf` has not bound the submodule yet.
    monkeypatch.delattr(dgflow_tf, name)
    assert dgflow_tf.__getattr__(name) is module


def test_dir_lists_every_public_name_and_unknown_names_are_refused():
    assert set(dgflow_tf.__all__) <= set(dir(dgflow_tf))
    with pytest.raises(AttributeError, match="module 'dgflow_tf' has no attribute 'refine_all'"):
        dgflow_tf.refine_all  # noqa: B018
