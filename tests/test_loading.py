"""`dgflow_tf.loading`: which network a path gives for each role, and how bad paths are named."""

import pathlib
import re
import shutil
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from dgflow_tf.errors import ModelFileError
from dgflow_tf.loading import load_callable
from dgflow_tf.zoo import hub_modules

WEIGHT = np.array([[1.0, -0.5], [0.25, 2.0]], "float32")


@pytest.fixture(scope="module")
def gan_module(tmp_path_factory):
    # g(z) = z W and d(x) = -|x - 1|^2: closed forms to tell the two roles apart.
    return hub_modules.save_gan_module(
        str(tmp_path_factory.mktemp("gan") / "module"),
        lambda z: tf.matmul(z, tf.constant(WEIGHT)),
        lambda x: -tf.reduce_sum(tf.square(x - 1.0), axis=-1, keepdims=True),
        latent_shape=(2,),
    )


class _Doubler(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def __call__(self, x):
        return {"output": 2.0 * x}


@pytest.fixture(scope="module")
def single_signature(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("single") / "doubler")
    module = _Doubler()
    tf.saved_model.save(module, path, signatures={"serving_default": module.__call__})
    return path


def test_a_gan_module_gives_its_generator_and_discriminator_by_role(gan_module):
    z = np.array([[1.0, 2.0], [-1.0, 0.5]], "float32")
    np.testing.assert_allclose(load_callable(gan_module, "generator")(z).numpy(), z @ WEIGHT, rtol=1e-6)
    scores = load_callable(gan_module, "discriminator")(z).numpy().reshape(-1)
    np.testing.assert_allclose(scores, -((z - 1.0) ** 2).sum(axis=1), rtol=1e-6)


def test_a_single_signature_savedmodel_serves_either_role(single_signature):
    x = np.array([[1.0, -3.0]], "float32")
    for role in ("generator", "discriminator"):
        np.testing.assert_allclose(load_callable(single_signature, role)(x).numpy(), 2.0 * x)


def test_the_batch_size_picks_a_compare_gan_metagraph(tmp_path):
    weights = hub_modules.compare_gan_mlp_weights(latent_dim=3, image_shape=(2,), seed=0)
    module = hub_modules.save_compare_gan_mlp(tmp_path / "module", weights, batch_sizes=(4, 8))
    assert load_callable(module, "generator").fixed_batch_size == 8  # the largest by default
    assert load_callable(module, "generator", batch_size=4).fixed_batch_size == 4
    # compare_gan's layout names its layers as the signature layout does.
    assert load_callable(module, "discriminator", batch_size=4).name == "hub_discriminator"


def test_a_text_format_savedmodel_loads(single_signature, tmp_path):
    # saved_model.pbtxt instead of saved_model.pb: TensorFlow reads either.
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    source = pathlib.Path(single_signature)
    path = tmp_path / "text"
    shutil.copytree(source / "variables", path / "variables")
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((source / "saved_model.pb").read_bytes())
    (path / "saved_model.pbtxt").write_text(text_format.MessageToString(proto))
    x = np.array([[0.5, 1.0]], "float32")
    np.testing.assert_allclose(load_callable(path, "generator")(x).numpy(), 2.0 * x)


def test_paths_that_are_not_models_are_named_with_the_fix(tmp_path):
    with pytest.raises(ValueError) as legacy:
        load_callable(tmp_path / "model.h5", "generator")
    assert str(legacy.value) == (
        f"{str(tmp_path / 'model.h5')!r} is a legacy HDF5 file. Load it with tf_keras and save it as "
        "`.keras`, or pass a SavedModel directory."
    )
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError) as empty:
        load_callable(tmp_path / "empty", "generator")
    assert (
        str(empty.value)
        == f"{str(tmp_path / 'empty')!r} is not a SavedModel directory: it has no saved_model.pb."
    )


def test_unreadable_keras_files_name_the_path_and_the_part(tmp_path):
    not_zip = tmp_path / "text.keras"
    not_zip.write_text("not a model")
    with pytest.raises(ModelFileError) as caught:
        load_callable(not_zip, "generator")
    assert (caught.value.path, caught.value.part) == (str(not_zip), "zip archive")
    assert str(caught.value) == (
        f"{str(not_zip)!r} is not a readable .keras file (not a zip archive): it may be truncated or in "
        "another format. Save the model again with model.save('model.keras')."
    )
    # A well-formed archive (intact CRCs and JSON) whose weights file is not HDF5: the part is named.
    import keras

    saved = tmp_path / "model.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(saved)
    bad_weights = tmp_path / "bad_weights.keras"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(bad_weights, "w") as target:
        for name in source.namelist():
            data = b"not hdf5" if name == "model.weights.h5" else source.read(name)
            target.writestr(name, data)
    with pytest.raises(
        ModelFileError, match=re.escape("Its weights (model.weights.h5) may be damaged")
    ) as caught:
        load_callable(bad_weights, "generator")
    assert (caught.value.path, caught.value.part) == (str(bad_weights), "member 'model.weights.h5'")
