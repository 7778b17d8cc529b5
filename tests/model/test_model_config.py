"""Refusals of the model config and of the options around it (docs/bad-input.md, rows X13 on): each is one line
naming the file (the config file where the config is at fault), exit 2 from the CLI, no report written, and,
where it is known before inference, no image ever reaches the model. Callables (Python only) raise one
``AuditError`` line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.hardening_helpers import assert_clear_error, run_main
from helpers.image_fixtures import CLASSES, build_models, write_image_folder

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from helpers.onnx_fixtures import _save, linear_classifier  # noqa: E402

from audit.errors import AuditError  # noqa: E402
from audit.model import onnx_model  # noqa: E402
from audit.model.image_audit import model_source  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("config-refusals")
    return {"root": root, "data": write_image_folder(root / "imgs", per_class=4),
            "same": write_image_folder(root / "same", per_class=4, seed=2, odd_sizes=False),
            "keras": build_models(root / "models")}


@pytest.fixture
def no_inference(monkeypatch):
    """Records every ONNX session run: a refusal before inference leaves it empty."""
    ran = []
    monkeypatch.setattr(onnx_model.OnnxClassifier, "runner", lambda self: ran.append(1))
    return ran


def config_file(tmp_path: Path, text: str, name: str = "model.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def refused(world, tmp_path, capfd, model, named, *fragments, extra=(), command="run") -> str:
    out = tmp_path / ("r" if command == "run" else "p.npz")
    args = [command, "--model", model, "--data", world["data"], "--out", out, *extra]
    code = run_main(*args, *(["--no-record"] if command == "run" else []))
    assert code == 2
    line = assert_clear_error(capfd.readouterr().err, named, *fragments)
    assert not out.exists()
    return line


# -- X13, X14: a config output that contradicts the model ------------------------------------------------


def test_declared_logits_on_a_softmax_model_is_refused_before_inference(world, tmp_path, capfd, no_inference):
    config = config_file(tmp_path, 'output = "logits"\n')
    onnx = linear_classifier(tmp_path / "soft.onnx", layout="NHWC", softmax=True)
    refused(world, tmp_path, capfd, onnx, config, 'model config: output = "logits"',
            "the model's output comes from a Softmax node", extra=["--model-config", config])
    assert not no_inference
    refused(world, tmp_path, capfd, world["keras"]["sequential"], config, 'output = "logits"',
            "comes from a softmax activation", extra=["--model-config", config], command="predict")


def test_declared_logits_is_refused_through_nodes_that_only_pass_the_softmax_on(world, tmp_path, capfd,
                                                                                 no_inference):
    """Softmax -> Identity -> Reshape (what some exporters append) still ends in probabilities."""
    import onnx
    from onnx import helper

    from audit.model.onnx_scan import scan_model

    soft = linear_classifier(tmp_path / "soft.onnx", layout="NHWC", softmax=True)
    proto = onnx.load(soft)
    out = proto.graph.output[0].name
    proto.graph.node[-1].output[0] = "p0"
    shape = helper.make_tensor("shape", onnx.TensorProto.INT64, [2], [-1, 3])
    proto.graph.initializer.append(shape)
    proto.graph.node.extend([helper.make_node("Identity", ["p0"], ["p1"]),
                             helper.make_node("Reshape", ["p1", "shape"], [out])])
    wrapped = tmp_path / "soft-identity-reshape.onnx"
    onnx.save(proto, wrapped)
    assert scan_model(wrapped.read_bytes()).output_ops == {out: "Softmax"}
    config = config_file(tmp_path, 'output = "logits"\n')
    refused(world, tmp_path, capfd, wrapped, config, 'model config: output = "logits"',
            "the model's output comes from a Softmax node", extra=["--model-config", config])
    assert not no_inference


def test_declared_logits_on_a_log_softmax_model_is_right(world, tmp_path):
    """softmax(log_softmax(z)) = softmax(z): a LogSoftmax output declared as logits gives the probabilities."""
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(0).normal(size=(8 * 8 * 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Flatten", ["x"], ["f"], axis=1), helper.make_node("MatMul", ["f", "W"], ["z"]),
             helper.make_node("LogSoftmax", ["z"], ["y"], axis=1)]
    model = _save(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, 8, 3])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                  [numpy_helper.from_array(weight, "W")], tmp_path / "logsoftmax.onnx")
    source = model_source(model, world["data"], model_config={"output": "logits"}, thumbnails=False)
    plain = model_source(model, world["data"], thumbnails=False)  # inferred: rows do not sum to 1, logits
    np.testing.assert_allclose(source.pred.probs, plain.pred.probs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(source.pred.probs.sum(1), 1, atol=1e-12)


def test_declared_probabilities_on_logits_names_the_config(world, tmp_path, capfd):
    config = config_file(tmp_path, 'output = "probabilities"\n')
    onnx = linear_classifier(tmp_path / "logits.onnx", layout="NHWC")
    refused(world, tmp_path, capfd, onnx, config, 'model config: output = "probabilities" but the model\'s outputs '
            "are not probabilities (image 'bird/000.png': row sums to", 'set output = "logits"',
            extra=["--model-config", config])
    refused(world, tmp_path, capfd, world["keras"]["functional-logits"], config,
            'output = "probabilities" but', extra=["--model-config", config], command="predict")


# -- X15-X20: ONNX options and keys that do not fit -------------------------------------------------------


def test_trust_model_and_rescale_do_not_apply_to_onnx(world, tmp_path, capfd, no_inference):
    onnx = linear_classifier(tmp_path / "m.onnx")
    refused(world, tmp_path, capfd, onnx, onnx, "--trust-model applies to .keras models",
            "runs no Python code when loaded", extra=["--trust-model"])
    refused(world, tmp_path, capfd, onnx, onnx, "--rescale applies to .keras models",
            "set scale/mean/std in --model-config", extra=["--rescale", "1/255"])
    assert not no_inference


def test_pixel_keys_on_a_uint8_model(world, tmp_path, capfd, no_inference):
    from onnx import TensorProto

    onnx = linear_classifier(tmp_path / "u8.onnx", layout="NHWC", elem=TensorProto.UINT8)
    config = config_file(tmp_path, "scale = 0.5\n")
    refused(world, tmp_path, capfd, onnx, config, "model config: scale does not apply: the model takes uint8 "
            "pixels and scales them itself", extra=["--model-config", config])
    config = config_file(tmp_path, "mean = [0.5]\nstd = [0.25]\n")
    refused(world, tmp_path, capfd, onnx, config, "model config: mean/std do not apply",
            extra=["--model-config", config])
    assert not no_inference


def test_layout_that_does_not_fit_the_input(world, tmp_path, capfd, no_inference):
    onnx = linear_classifier(tmp_path / "nhwc.onnx", layout="NHWC")
    config = config_file(tmp_path, 'layout = "NCHW"\n')
    refused(world, tmp_path, capfd, onnx, config, "model config: layout NCHW does not fit the model input shape "
            "(N, 8, 8, 3)", extra=["--model-config", config])
    assert not no_inference


def test_onnxruntime_cannot_load_the_model(world, tmp_path, capfd):
    from onnx import TensorProto, helper

    nodes = [helper.make_node("NoSuchOperator", ["x"], ["y"])]  # the default domain: the scan lets it through
    model = _save(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [], tmp_path / "bad-op.onnx")
    refused(world, tmp_path, capfd, model, model, "onnxruntime cannot load the model: ")


def test_mean_or_std_count_differs_from_the_channels(world, tmp_path, capfd, no_inference):
    grey = linear_classifier(tmp_path / "grey.onnx", channels=1)
    config = config_file(tmp_path, "mean = [0.5, 0.5, 0.5]\n")
    refused(world, tmp_path, capfd, grey, config, "model config: mean has 3 values; the model takes 1 channel(s)",
            extra=["--model-config", config])
    assert not no_inference


def test_dynamic_size_with_images_of_several_sizes(world, tmp_path, capfd, no_inference):
    onnx = linear_classifier(tmp_path / "dyn.onnx", dynamic_size=True)
    refused(world, tmp_path, capfd, onnx, onnx, "input height or width is dynamic and the images differ in size",
            "set input_size = [H, W] in --model-config")
    assert not no_inference


def half_dynamic(path: Path, *, fixed_height: int = 8) -> Path:
    """An NCHW model whose height is fixed and width dynamic: input (N, 3, fixed_height, W)."""
    import onnx

    linear_classifier(path, dynamic_size=True)
    proto = onnx.load(str(path))
    proto.graph.input[0].type.tensor_type.shape.dim[2].dim_value = fixed_height
    onnx.save(proto, str(path))
    return path


def test_half_dynamic_input_checks_its_fixed_dimension(world, tmp_path, capfd, no_inference):
    model = half_dynamic(tmp_path / "h8.onnx")
    config = config_file(tmp_path, "input_size = [6, 5]\n")
    refused(world, tmp_path, capfd, model, config, "model config: input_size [6, 5] differs from the model's fixed "
            "input size [8, dynamic]", extra=["--model-config", config])
    with pytest.raises(AuditError, match=r"input_size=\(6, 5\) differs from the model's fixed input size "
                                         r"\[8, dynamic\]") as err:
        model_source(model, world["data"], input_size=(6, 5))
    assert Path(err.value.path) == model
    assert not no_inference


def test_half_dynamic_input_fills_only_the_dynamic_dimension(world, tmp_path):
    from helpers.image_fixtures import load_uint8_folder
    from helpers.onnx_fixtures import run_directly

    from audit.model.image_audit import softmax

    model = half_dynamic(tmp_path / "h8.onnx")
    sized = model_source(model, world["data"], input_size=(8, 5), thumbnails=False)
    assert sized.model_input["input"] == "8x5x3"
    from helpers.image_fixtures import write_image_folder

    wide = write_image_folder(tmp_path / "sixteen", per_class=2, size=16, odd_sizes=False)
    taken = model_source(model, wide, thumbnails=False)  # 16 x 16 images: the height stays the model's 8
    assert taken.model_input["input"] == "8x16x3" and taken.model_input["resized"] == 6
    own = model_source(model, world["same"], thumbnails=False)  # 8 x 8 images: the width taken from them
    assert own.model_input["input"] == "8x8x3"
    x = load_uint8_folder(world["same"], own.pred.sample_ids).astype(np.float32) / np.float32(255)
    np.testing.assert_allclose(own.pred.probs, softmax(run_directly(model, x.transpose(0, 3, 1, 2).copy())),
                               rtol=0, atol=1e-12)


# -- X21-X23: keys that do not apply to a Keras model, names given twice -----------------------------------


def test_nchw_layout_for_a_keras_model(world, tmp_path, capfd):
    config = config_file(tmp_path, 'layout = "NCHW"\n')
    refused(world, tmp_path, capfd, world["keras"]["sequential"], config, "model config: layout 'NCHW' does not "
            "apply to a Keras model, which takes NHWC (channels last)", extra=["--model-config", config])


def test_rescale_and_config_scaling_together(world, tmp_path, capfd):
    config = config_file(tmp_path, "scale = 0.00392156862745098\nmean = [0.5]\n")
    refused(world, tmp_path, capfd, world["keras"]["sequential"], config, "--rescale and the model config's "
            "scale/mean both set the pixel scaling; give one", extra=["--model-config", config, "--rescale", "1/255"])


def test_class_names_given_twice(world, tmp_path, capfd, no_inference):
    config = config_file(tmp_path, f"class_names = {list(CLASSES)}\n")
    names = tmp_path / "names.txt"
    names.write_text("\n".join(CLASSES))
    refused(world, tmp_path, capfd, linear_classifier(tmp_path / "m.onnx"), config, "class names given twice: by "
            "--class-names and by the model config's class_names; give one",
            extra=["--model-config", config, "--class-names", names])
    assert not no_inference


# -- X24-X27: Python callables -----------------------------------------------------------------------------


def _one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def classify(images):
    return np.ones((len(images), 3)) / 3


def test_callable_pixel_keys_and_layout(world):
    with pytest.raises(AuditError) as err:
        model_source(classify, world["data"], input_size=(8, 8), model_config={"mean": [0.5]})
    assert "model config: mean does not apply to a callable model, which takes uint8 pixels" in _one_line(err)
    with pytest.raises(AuditError) as err:
        model_source(classify, world["data"], input_size=(8, 8), model_config={"scale": 0.5, "std": [2]})
    assert "model config: scale/std do not apply to a callable model" in _one_line(err)
    with pytest.raises(AuditError) as err:
        model_source(classify, world["data"], input_size=(8, 8), model_config={"layout": "NCHW"})
    assert ("model config: layout 'NCHW' does not apply to a callable model, which takes uint8 NHWC batches"
            in _one_line(err))


def test_callable_needs_its_input_size(world):
    with pytest.raises(AuditError) as err:
        model_source(classify, world["data"])  # the images differ in size
    assert "a callable model needs its input size: pass input_size=(H, W)" in _one_line(err)
    assert model_source(classify, world["same"], thumbnails=False).model_input["input"] == "8x8x3"


def test_callable_that_returns_no_scores_array(world):
    with pytest.raises(AuditError) as err:
        model_source(lambda images: object(), world["data"], input_size=(8, 8))
    assert "the model callable" in _one_line(err) and "returned object; expected an array of shape" in str(err.value)

    def flat(images):
        return np.zeros(len(images))

    with pytest.raises(AuditError) as err:
        model_source(flat, world["data"], input_size=(8, 8))
    assert f"{flat.__qualname__} returned shape (12,) for 12 images" in _one_line(err)


# -- X29, X30: scikit-learn's ONNX export (skl2onnx), and a pipeline as a callable ---------------------


def skl2onnx_like(path: Path) -> Path:
    """What skl2onnx writes for a classifier (with zipmap=False): a flat (N, 192) float input, an int64
    ``label`` output and a float ``probabilities`` output."""
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(0).normal(size=(8 * 8 * 3, 3)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["z"]), helper.make_node("Softmax", ["z"], ["probabilities"]),
             helper.make_node("ArgMax", ["z"], ["label"], axis=1, keepdims=0)]
    return _save(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 192])],
                 [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
                  helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])],
                 [numpy_helper.from_array(weight, "W")], path)


def test_an_skl2onnx_classifier_audits_to_onnxruntime_numbers(world, tmp_path):
    """A flat (N, 192) input fed each image flattened in NHWC order (numpy's reshape(n, -1)), and the float
    probabilities read beside the int64 labels."""
    from helpers.image_fixtures import load_uint8_folder
    from helpers.onnx_fixtures import run_directly

    model = skl2onnx_like(tmp_path / "sk.onnx")
    source = model_source(model, world["same"], thumbnails=False)  # 8 x 8 images: the size taken from them
    x = load_uint8_folder(world["same"], source.pred.sample_ids).astype(np.float32) / np.float32(255)
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    label, probs = session.run(None, {"x": x.reshape(len(x), -1)})
    np.testing.assert_allclose(source.pred.probs, probs, rtol=0, atol=1e-7)
    assert (source.pred.probs.argmax(1) == label).all()
    mi = source.model_input
    assert mi["input"] == "8x8x3" and mi["flattened"] == "each image flattened to 192 values in NHWC order"
    sized = model_source(model, world["data"], input_size=(8, 8), thumbnails=False)  # images of several sizes
    assert sized.model_input["input"] == "8x8x3"
    with pytest.raises(AuditError, match=r"takes a flat \(N, features\) input .* set input_size = \[H, W\]"):
        model_source(model, world["data"], thumbnails=False)  # several sizes, no input_size
    assert run_directly  # (the helper runs single-output models; this one has two)


def test_an_skl2onnx_zipmap_or_a_flat_width_that_fits_no_image_size_is_refused(world, tmp_path, capfd,
                                                                               no_inference):
    import onnx
    from onnx import helper

    model = skl2onnx_like(tmp_path / "sk.onnx")
    refused(world, tmp_path, capfd, model, model, "the model input 'x' has shape (N, 192): a flat input holds "
            "H x W x 3 (300) or H x W (100) values for images of 10 x 10", extra=["--model-config", config_file(
                tmp_path, "input_size = [10, 10]\n")])
    proto = onnx.load(model)  # the default export: probabilities as a sequence of {class: probability} maps
    proto.opset_import.append(helper.make_opsetid("ai.onnx.ml", 3))
    proto.graph.node.append(helper.make_node("ZipMap", ["probabilities"], ["output_probability"],
                                             domain="ai.onnx.ml", classlabels_int64s=[0, 1, 2]))
    del proto.graph.output[1]
    proto.graph.output.append(helper.make_value_info("output_probability", helper.make_sequence_type_proto(
        helper.make_map_type_proto(onnx.TensorProto.INT64, helper.make_tensor_type_proto(onnx.TensorProto.FLOAT, [])))))
    zipmap = tmp_path / "sk-zipmap.onnx"
    onnx.save(proto, zipmap)
    refused(world, tmp_path, capfd, zipmap, zipmap, "the model output 'output_probability' is a sequence of maps "
            "(skl2onnx's ZipMap): export the classifier with options={'zipmap': False}")
    assert not no_inference


def test_an_sklearn_pipeline_as_a_callable(world):
    """The documented way to audit an sklearn pipeline (docs/images.md): its own predict_proba, in the order of
    its classes_."""
    from helpers.image_fixtures import load_uint8_folder
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = model_source(classify, world["data"], input_size=(8, 8), thumbnails=False)
    x = load_uint8_folder(world["data"], probe.pred.sample_ids)
    flat = x.reshape(len(x), -1) / 255
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(
        flat, np.asarray(probe.pred.class_names)[probe.pred.labels])
    source = model_source(lambda b: pipe.predict_proba(b.reshape(len(b), -1) / 255), world["data"],
                          input_size=(8, 8), class_names=list(pipe.classes_), thumbnails=False)
    np.testing.assert_allclose(source.pred.probs, pipe.predict_proba(flat), rtol=0, atol=1e-12)
