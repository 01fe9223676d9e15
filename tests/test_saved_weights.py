"""zoo.saved_weights: the record beside the weights, and a save that is interrupted before its rename."""

import json
import os

import keras
import numpy as np
import pytest

from dgflow_tf.zoo import saved_weights


def _build(info=None):
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])


def test_the_record_is_indented_sorted_json_and_the_weights_round_trip(tmp_path):
    model = _build()
    path = str(tmp_path / "m.weights.h5")
    info = {"seed": 4, "epochs": 2, "final": {"loss": 0.5}}
    saved_weights.save(model, _build, path, info)
    text = (tmp_path / "m.json").read_text(encoding="utf-8")
    assert text == json.dumps(info, indent=2, sort_keys=True)  # readable in a diff of the shipped files
    loaded, loaded_info = saved_weights.load(path, _build, "missing")
    assert loaded_info == info
    for saved, restored in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, restored)


def test_an_interrupted_save_leaves_no_file_a_load_would_take_for_the_model(tmp_path, monkeypatch):
    path = str(tmp_path / "m.weights.h5")

    def interrupted(source, target):
        raise KeyboardInterrupt  # the process stops between writing and renaming

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        saved_weights.save(_build(), _build, path, {"seed": 0})
    # The weights went to a temporary file beside the target, under a name loads never look for.
    assert sorted(os.listdir(tmp_path)) == ["m.tmp.weights.h5"]
    with pytest.raises(FileNotFoundError, match="train it first"):
        saved_weights.load(path, _build, "No model: train it first.")
