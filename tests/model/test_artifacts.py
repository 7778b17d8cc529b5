"""Loading a saved model: both paths give identical predictions; every bad model file is one clear error."""

from __future__ import annotations

import json
import re
import shutil
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from audit.errors import AuditError
from audit.model.artifacts import (
    ARCHITECTURE_FILE,
    KERAS_FILE,
    MSG_CORRUPT_WEIGHTS,
    MSG_MODEL_MISSING,
    WEIGHTS_FILE,
    load_model,
    read_manifest,
)
from audit.model.keras_config import HINT_REBUILD, MSG_NEEDS_CODE, MSG_NOT_KERAS
from audit.model.predict import predict

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def keras():
    from audit.model.quiet import import_keras

    return import_keras()


def test_both_load_paths_give_identical_predictions(trained, small_data):
    x = small_data.x_test[:64]
    via_keras = predict(load_model(trained.out_dir), x)
    via_json = predict(load_model(trained.out_dir, via="json"), x)
    assert_array_equal(via_keras, via_json)
    assert_array_equal(via_keras, predict(trained.model, x))
    # the files themselves can be named as well as the folder
    assert_array_equal(predict(load_model(trained.out_dir / KERAS_FILE), x), via_keras)
    assert_array_equal(predict(load_model(trained.out_dir / ARCHITECTURE_FILE), x), via_keras)
    np.testing.assert_allclose(via_keras.sum(axis=1), 1, atol=1e-5)


def test_missing_model(tmp_path):
    with pytest.raises(AuditError, match=MSG_MODEL_MISSING) as err:
        load_model(tmp_path / "nope")
    assert err.value.path == str(tmp_path / "nope")
    with pytest.raises(AuditError, match=f"{KERAS_FILE} missing"):
        load_model(tmp_path)
    with pytest.raises(AuditError, match=f"{ARCHITECTURE_FILE} missing"):
        load_model(tmp_path, via="json")


def test_not_a_zip(tmp_path, trained):
    bad = tmp_path / "m.keras"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(AuditError, match=re.escape(MSG_NOT_KERAS)):
        load_model(bad)
    half = tmp_path / "half.keras"
    raw = (trained.out_dir / KERAS_FILE).read_bytes()
    half.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(AuditError, match=re.escape(MSG_NOT_KERAS)) as err:
        load_model(half)
    assert err.value.path == str(half)


def test_zip_with_damaged_weights(tmp_path, trained):
    damaged = tmp_path / "damaged.keras"
    with zipfile.ZipFile(trained.out_dir / KERAS_FILE) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            payload = src.read(item)
            dst.writestr(item, b"garbage" if item.filename.endswith(".h5") else payload)
    with pytest.raises(AuditError, match="corrupt model file") as err:
        load_model(damaged)
    assert err.value.path == str(damaged)


def test_corrupt_weights_file_on_the_json_path(tmp_path, trained):
    folder = tmp_path / "m"
    shutil.copytree(trained.out_dir, folder)
    (folder / WEIGHTS_FILE).write_bytes(b"\x89HDF\r\n\x1a\n" + b"0" * 100)
    with pytest.raises(AuditError, match=MSG_CORRUPT_WEIGHTS.split("(")[0].strip()) as err:
        load_model(folder, via="json")
    assert err.value.path == str(folder / WEIGHTS_FILE)


def test_architecture_not_json(tmp_path, trained):
    folder = tmp_path / "m"
    shutil.copytree(trained.out_dir, folder)
    (folder / ARCHITECTURE_FILE).write_text("{ not json")
    with pytest.raises(AuditError, match="architecture is not JSON"):
        load_model(folder, via="json")


def test_wrong_input_shape_is_named(tmp_path, keras):
    net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    net.save(tmp_path / "mnist.keras")
    with pytest.raises(AuditError, match=r"model input shape is \(None, 28, 28, 1\); CIFAR-10 images need"):
        load_model(tmp_path / "mnist.keras")


def test_outputs_that_are_not_probabilities(tmp_path, keras):
    net = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    net.save(tmp_path / "logits.keras")
    with pytest.raises(AuditError, match="model outputs are not probabilities") as err:
        load_model(tmp_path / "logits.keras")
    assert "last layer activation: linear" in str(err.value) and "softmax" in str(err.value)
    sig = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10, activation="sigmoid")])
    sig.save(tmp_path / "sigmoid.keras")
    with pytest.raises(AuditError, match="rows sum to .*, not 1 .*sigmoid"):
        load_model(tmp_path / "sigmoid.keras")


def test_lambda_layer_refused_with_the_reason(tmp_path, keras):
    net = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Lambda(lambda t: t * 1.0, name="sneaky"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    net.save(tmp_path / "lambda.keras")
    with pytest.raises(AuditError) as err:
        load_model(tmp_path / "lambda.keras")
    text = str(err.value)
    assert "Lambda layer ('sneaky')" in text and "safe mode" in text and "arbitrary code execution" in text
    assert HINT_REBUILD in text
    (tmp_path / "arch.json").write_text(net.to_json())
    net.save_weights(tmp_path / "lambda.weights.h5")
    with pytest.raises(AuditError, match="arbitrary code execution"):
        load_model(tmp_path / "arch.json", via="json")


CUSTOM_CODE = {
    # what to change in the Dense layer's config -> what the refusal names
    "custom-class": ({"module": "my_company.layers", "registered_name": "MyCompany>Dense"},
                     "the custom object 'MyCompany>Dense' from module 'my_company.layers'"),
    "custom-function": ({"config": {"activation": {"module": "builtins", "class_name": "function",
                                                   "config": "exec", "registered_name": "function"}}},
                        "the function 'exec' from module 'builtins'"),
}


def _edit_dense(config: dict, change: dict) -> dict:
    dense = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")
    for key, value in change.items():
        if key == "config":
            dense["config"].update(value)
        else:
            dense[key] = value
    return config


@pytest.mark.parametrize("case", list(CUSTOM_CODE))
def test_custom_class_or_function_refused_on_both_load_paths(case, tmp_path, keras, monkeypatch):
    """The seed-folder loader scans for custom classes and functions as well as Lambda layers, in the
    .keras file and in the architecture JSON, before Keras reads either."""
    change, named = CUSTOM_CODE[case]
    net = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                            keras.layers.Dense(10, activation="softmax")])
    net.save(tmp_path / "good.keras")
    bad = tmp_path / "custom.keras"
    with zipfile.ZipFile(tmp_path / "good.keras") as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            payload = src.read(item)
            if item.filename == "config.json":
                payload = json.dumps(_edit_dense(json.loads(payload), change)).encode()
            dst.writestr(item, payload)
    (tmp_path / "arch.json").write_text(json.dumps(_edit_dense(json.loads(net.to_json()), change)))
    net.save_weights(tmp_path / "custom.weights.h5")
    monkeypatch.setattr(keras.models, "load_model", lambda *a, **k: pytest.fail("Keras was asked to load it"))
    monkeypatch.setattr(keras.models, "model_from_json", lambda *a, **k: pytest.fail("Keras was asked to load it"))
    for path in (bad, tmp_path / "arch.json"):
        with pytest.raises(AuditError) as err:
            load_model(path)
        assert err.value.path == str(path)
        assert err.value.message == MSG_NEEDS_CODE.format(what=named) and err.value.hint == HINT_REBUILD


def test_read_manifest(trained, tmp_path):
    assert read_manifest(trained.out_dir)["model"]["params"] == 4_200_842
    assert read_manifest(trained.out_dir / KERAS_FILE)["seed"] == 7
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(AuditError, match="not a JSON object"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(AuditError, match="unreadable manifest"):
        read_manifest(tmp_path)
    json.loads((trained.out_dir / "manifest.json").read_text())  # the real one is valid JSON
