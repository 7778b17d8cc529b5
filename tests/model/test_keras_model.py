"""Loading arbitrary .keras classifiers safely: what needs code, input size, pixel scaling."""

from __future__ import annotations

import re

import numpy as np
import pytest

from audit.errors import AuditError
from audit.model.keras_config import (HINT_REBUILD, HINT_TRUST, MSG_CORRUPT, MSG_NEEDS_CODE, MSG_NOT_KERAS,
                                      check_code, code_needed, read_architecture, read_keras_config)
from audit.model.keras_model import Preprocessing, parse_rescale


@pytest.mark.parametrize("node, found", [
    ({"class_name": "Dense", "module": "keras.layers", "config": {"name": "d"}}, []),
    ({"class_name": "Lambda", "module": "keras.layers", "config": {"name": "sneaky"}}, ["a Lambda layer ('sneaky')"]),
    ({"class_name": "MyLayer", "module": "company.layers", "registered_name": "Co>MyLayer"},
     ["the custom object 'Co>MyLayer' from module 'company.layers'"]),
    ({"class_name": "function", "module": "builtins", "config": "exec"},
     ["the function 'exec' from module 'builtins'"]),
    ({"class_name": "function", "module": "keras.src.utils.file_utils", "config": "get_file"},
     ["the function 'get_file' from module 'keras.src.utils.file_utils'"]),
    ({"class_name": "function", "module": "keras.activations", "config": "relu"}, []),
])
def test_code_needed(node, found):
    assert code_needed({"config": {"layers": [node]}}) == found


def test_check_code_names_three_objects_and_counts_the_rest():
    layers = [{"class_name": "Lambda", "config": {"name": f"l{i}"}} for i in range(5)]
    config = {"config": {"layers": layers}}
    with pytest.raises(AuditError) as err:
        check_code(config, "m.keras", hint=HINT_REBUILD)
    shown = "a Lambda layer ('l0'); a Lambda layer ('l1'); a Lambda layer ('l2'); and 2 more"
    assert err.value.message == MSG_NEEDS_CODE.format(what=shown)
    assert err.value.path == "m.keras" and err.value.hint == HINT_REBUILD
    with pytest.raises(AuditError) as err:
        check_code(config, "m.keras")
    assert err.value.hint == HINT_TRUST  # the default: the command offers --trust-model
    assert check_code(config, "m.keras", trust=True) == [f"a Lambda layer ('l{i}')" for i in range(5)]
    assert check_code({"config": {"layers": []}}, "m.keras") == []


def test_architecture_that_is_not_a_json_object(tmp_path):
    arch = tmp_path / "arch.json"
    arch.write_text("[1, 2]")
    with pytest.raises(AuditError, match=re.escape(MSG_CORRUPT.format(reason="the architecture is not a JSON object"))):
        read_architecture(arch)
    arch.write_text("{ not json")
    with pytest.raises(AuditError, match="corrupt model file \\(architecture is not JSON: ") as err:
        read_architecture(arch)
    assert err.value.path == str(arch)


@pytest.mark.parametrize("text, want", [
    ("1/255", (1.0, 255.0, 0.0)), ("none", (1.0, 1.0, 0.0)), ("1/127.5,-1", (1.0, 127.5, -1.0)),
    ("0.5", (1.0, 2.0, 0.0)), ("2", (2.0, 1.0, 0.0)),
])
def test_parse_rescale(text, want):
    assert parse_rescale(text) == want


@pytest.mark.parametrize("bad", ["abc", "1/0", "0", "1/255,x", "nan"])
def test_parse_rescale_refuses(bad):
    with pytest.raises(AuditError, match="--rescale must be"):
        parse_rescale(bad)


def test_default_preprocessing_is_the_seed_networks_division():
    x = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    got = Preprocessing(16, 16, 1)(x)
    want = x.astype(np.float32)
    want /= 255
    np.testing.assert_array_equal(got, want)  # bit-identical to the seed path's x / 255
    assert Preprocessing(16, 16, 1, 1.0, 127.5, -1.0)(x).min() == -1.0


def test_not_a_keras_file(tmp_path):
    bad = tmp_path / "m.keras"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(AuditError, match=re.escape(MSG_NOT_KERAS)) as err:
        read_keras_config(bad)
    assert err.value.path == str(bad)


def test_scaling_layer_found_behind_augmentation_and_in_a_nested_model():
    from audit.model.keras_model import model_scaling_layer
    from audit.model.quiet import import_keras

    keras = import_keras()
    L = keras.layers
    aug = keras.Sequential([L.RandomFlip("horizontal")])
    inp = keras.Input((8, 8, 3))
    x = L.Normalization(mean=100.0, variance=400.0)(aug(inp))
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(x)))
    assert model_scaling_layer(model) == "Normalization"
    plain = keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(2, 3), L.Rescaling(1 / 255)])
    assert model_scaling_layer(plain) is None


def test_output_activation():
    from audit.model.keras_model import output_activation
    from audit.model.quiet import import_keras

    keras = import_keras()
    L = keras.layers
    inp = keras.Input((4,))
    assert output_activation(keras.Model(inp, L.Dense(3, activation="sigmoid")(inp))) == "sigmoid"
    assert output_activation(keras.Model(inp, L.Softmax()(L.Dense(3)(inp)))) == "softmax"
    assert output_activation(keras.Sequential([inp, L.Dense(3)])) == "linear"


def test_logits_within_zero_one_are_still_logits():
    """Rows not summing to 1 are logits even when every value happens to lie in [0, 1]; only a
    model ending in a sigmoid is refused (tests/hardening/test_image_errors.py)."""
    from types import SimpleNamespace

    from audit.model.image_audit import OUTPUTS_LOGITS, Predictor, softmax
    from audit.model.quiet import import_keras

    keras = import_keras()
    model = keras.Sequential([keras.Input((2, 2, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])
    raw = np.array([[0.2, 0.1, 0.3], [0.5, 0.0, 0.25]])
    predictor = Predictor(SimpleNamespace(model=model, path="m.keras"))
    predictor.raw = lambda images: raw
    np.testing.assert_allclose(predictor(np.zeros((2, 2, 2, 3), np.uint8)), softmax(raw))
    assert predictor.outputs == OUTPUTS_LOGITS
