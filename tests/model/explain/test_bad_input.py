"""Bad ``--explain-layer`` through ``audit run`` in-process (docs/bad-input.md, rows I20-I24): exit 2, one line
naming the model file and the problem, no report; refused before the audit's metrics."""

from __future__ import annotations

import pytest
from helpers.hardening_helpers import assert_clear_error, run_main, write_predictions
from helpers.image_fixtures import build_models, write_image_folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return build_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("imgs") / "imgs", per_class=4, odd_sizes=False)


def _run(capfd, tmp_path, *args) -> tuple[int, str]:
    code = run_main("run", *args, "--out", tmp_path / "report", "--bootstrap", "0", "--no-record")
    err = capfd.readouterr().err
    assert not (tmp_path / "report").exists(), "a report was written despite the error"
    return code, err


def test_explain_layer_naming_a_missing_layer(models, data, tmp_path, capfd):
    model = models["functional-logits"]
    code, err = _run(capfd, tmp_path, "--model", model, "--data", data, "--explain-layer", "conv9")
    assert code == 2
    assert_clear_error(err, model, "--explain-layer 'conv9': the model has no such layer",
                       "layers with a 4-D output: conv2d")


def test_explain_layer_naming_a_layer_without_a_4d_output(models, data, tmp_path, capfd):
    from audit.model.quiet import import_keras

    model = models["functional-logits"]
    last = import_keras().models.load_model(model).layers[-1].name  # the Dense layer, (None, 3)
    code, err = _run(capfd, tmp_path, "--model", model, "--data", data, "--explain-layer", last)
    assert code == 2
    assert_clear_error(err, model, f"--explain-layer '{last}'", "output has shape (None, 3)",
                       "Grad-CAM needs a 4-D (N, height, width, channels) output")


def test_explain_layer_on_a_keras_model_without_a_4d_layer(models, data, tmp_path, capfd):
    model = models["sequential"]
    code, err = _run(capfd, tmp_path, "--model", model, "--data", data, "--explain-layer", "no_such_layer")
    assert code == 2
    assert_clear_error(err, model, "no such layer; layers with a 4-D output: none")


def test_explain_layer_on_an_onnx_model(data, tmp_path, capfd):
    pytest.importorskip("onnxruntime")
    from helpers.onnx_fixtures import linear_classifier

    model = linear_classifier(tmp_path / "m.onnx")
    code, err = _run(capfd, tmp_path, "--model", model, "--data", data, "--explain-layer", "conv")
    assert code == 2
    assert_clear_error(err, model, "--explain-layer names a layer of a Keras model; this model is onnxruntime")


@pytest.mark.parametrize("extra, fragment", [
    (("--no-explanations",), "--no-explanations turns them off"),
    ((), "a predictions file has no model"),
])
def test_explain_layer_usage_errors(extra, fragment, tmp_path, capfd):
    preds = write_predictions(tmp_path / "p.npz")
    code, err = _run(capfd, tmp_path, "--predictions", preds, "--explain-layer", "conv", *extra)
    assert code == 2 and fragment in err and "Traceback" not in err
