"""ONNX models and Python callables on image files: each audits to the numbers of onnxruntime (or the callable)
run directly on the same preprocessed arrays; the model config is applied and recorded; every refusal of
docs/bad-input.md's ONNX rows is one line, exit 2, no report; the ONNX path never imports TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.hardening_helpers import assert_clear_error, run_main
from helpers.image_fixtures import CLASSES, load_uint8_folder, write_image_folder, write_metadata
from helpers.onnx_fixtures import MEAN, STD, linear_classifier, run_directly, with_external_data

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from audit.errors import AuditError  # noqa: E402
from audit.model import onnx_model  # noqa: E402
from audit.model.image_audit import (OUTPUTS_LOGITS, OUTPUTS_LOGITS_DECLARED, OUTPUTS_PROBS,  # noqa: E402
                                     image_predictions, softmax)
from audit.model.model_config import MSG_UNKNOWN_KEYS, load_model_config, parse_model_config  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    data = write_image_folder(root / "imgs", per_class=12)
    same = write_image_folder(root / "same", per_class=6, seed=2, odd_sizes=False)
    meta = write_metadata(data, root / "meta.csv")
    config = root / "torch.toml"
    config.write_text(f'layout = "NCHW"\nmean = {list(MEAN)}\nstd = {list(STD)}\noutput = "logits"\n')
    return {"root": root, "data": data, "same": same, "meta": meta, "config": config}


def _pixels(data: Path, ids, *, channels: int = 3) -> np.ndarray:
    # grey-scale: Pillow's "L" conversion of the file, then the resize, as the pipeline
    return load_uint8_folder(data, ids, channels=channels)


def test_nchw_with_mean_std_and_logits_audits_to_onnxruntime_numbers(world):
    model = linear_classifier(world["root"] / "nchw.onnx")
    run = image_predictions(model, world["data"], model_config=world["config"], progress=False, batch_size=5)
    x = _pixels(world["data"], run.pred.sample_ids).astype(np.float32) / np.float32(255)
    x = ((x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)).transpose(0, 3, 1, 2).copy()
    np.testing.assert_allclose(run.pred.probs, softmax(run_directly(model, x)), rtol=0, atol=1e-12)
    mi = run.model_input
    assert mi["framework"] == "onnxruntime" and mi["layout"] == "NCHW" and mi["outputs"] == OUTPUTS_LOGITS_DECLARED
    assert mi["scaling"].startswith("(x / 255 - mean) / std") and mi["model_config"]["mean"] == list(MEAN)
    assert run.provenance["model_sha256"] == {"nchw.onnx": run.inputs.classifier.sha256}
    assert run.provenance["data_sha256"]["torch.toml"] == load_model_config(world["config"]).sha256
    assert run.pred.class_names == CLASSES


def test_nhwc_with_probabilities_and_inferred_layout(world):
    model = linear_classifier(world["root"] / "nhwc.onnx", layout="NHWC", softmax=True)
    run = image_predictions(model, world["data"], progress=False, batch_size=7)
    x = _pixels(world["data"], run.pred.sample_ids).astype(np.float32) / np.float32(255)
    np.testing.assert_allclose(run.pred.probs, run_directly(model, x), rtol=0, atol=1e-12)
    assert run.model_input["outputs"] == OUTPUTS_PROBS and run.model_input["layout"] == "NHWC"


def test_dynamic_batch_and_size_take_the_images_own_size_or_input_size(world, tmp_path):
    model = linear_classifier(world["root"] / "dynamic.onnx", dynamic_size=True)
    run = image_predictions(model, world["same"], progress=False, batch_size=4)
    assert run.model_input["input"] == "8x8x3"
    x = _pixels(world["same"], run.pred.sample_ids).astype(np.float32) / np.float32(255)
    np.testing.assert_allclose(run.pred.probs, softmax(run_directly(model, x.transpose(0, 3, 1, 2).copy())),
                               rtol=0, atol=1e-12)
    assert run.model_input["outputs"] == OUTPUTS_LOGITS
    with pytest.raises(AuditError, match="input_size"):  # images of several sizes, no input_size
        image_predictions(model, world["data"], progress=False)
    sized = image_predictions(model, world["data"], progress=False, input_size=(6, 5))
    assert sized.model_input["input"] == "6x5x3" and sized.model_input["resized"] == len(sized.pred.sample_ids)


def test_a_dynamic_channel_dimension_with_a_layout_is_fed_rgb(world, tmp_path):
    model = linear_classifier(world["root"] / "dynchan.onnx", dynamic_channels=True)
    with pytest.raises(AuditError, match='set layout = "NCHW" or "NHWC"'):  # (N, C, 8, 8): the layout is unclear
        image_predictions(model, world["data"], progress=False)
    config = tmp_path / "nchw.toml"
    config.write_text('layout = "NCHW"\n')  # what that message advises; then the model is fed RGB
    run = image_predictions(model, world["data"], model_config=config, progress=False)
    assert run.model_input["input"] == "8x8x3"
    x = _pixels(world["data"], run.pred.sample_ids).astype(np.float32) / np.float32(255)
    np.testing.assert_allclose(run.pred.probs, softmax(run_directly(model, x.transpose(0, 3, 1, 2).copy())),
                               rtol=0, atol=1e-12)


def test_an_input_size_that_differs_from_a_fixed_one_names_where_it_came_from(world, tmp_path):
    model = linear_classifier(world["root"] / "fixed8.onnx")
    with pytest.raises(AuditError, match=r"input_size=\(6, 5\) differs from the model's fixed input size \[8, 8\]") as err:
        image_predictions(model, world["data"], progress=False, input_size=(6, 5))
    assert Path(err.value.path) == model  # the argument has no file: the model's is named
    config = tmp_path / "sized.toml"
    config.write_text("input_size = [6, 5]\n")
    with pytest.raises(AuditError, match=r"model config: input_size \[6, 5\] differs") as err:
        image_predictions(model, world["data"], model_config=config, progress=False)
    assert Path(err.value.path) == config


def test_grey_scale_model(world):
    model = linear_classifier(world["root"] / "grey.onnx", channels=1)
    run = image_predictions(model, world["data"], progress=False)
    x = _pixels(world["data"], run.pred.sample_ids, channels=1).astype(np.float32) / np.float32(255)
    np.testing.assert_allclose(run.pred.probs, softmax(run_directly(model, x.transpose(0, 3, 1, 2).copy())),
                               rtol=0, atol=1e-12)
    assert run.model_input["input"] == "8x8x1"


def test_grey_scale_model_with_corruptions(world):
    """A 1-channel model's images are corrupted as RGB (R = G = B) and converted back to grey as the pipeline
    converts (Pillow "L"): a drawless corruption's cell equals onnxruntime on those images; noise runs too."""
    import audit
    from audit.robustness import corrupt

    model = linear_classifier(world["root"] / "grey-robust.onnx", channels=1)
    source = audit.model_source(model, world["data"], thumbnails=False)
    result = audit.run_audit(source, n_bootstrap=0, robustness=audit.RobustnessSettings(
        corruptions=("contrast", "gaussian_noise"), severities=(2,), n_samples=36, data_dir=None, given=True))
    cells = {c["corruption"]: c for c in result.data["robustness"]["cells"]}
    assert cells["contrast"]["n"] == 36 and cells["gaussian_noise"]["n"] == 36
    x = _pixels(world["data"], source.pred.sample_ids, channels=1)
    xc = corrupt(x, "contrast", 2).astype(np.float32) / np.float32(255)
    want = (run_directly(model, xc.transpose(0, 3, 1, 2).copy()).argmax(1) == source.pred.labels).mean()
    assert cells["contrast"]["accuracy"] == pytest.approx(want, abs=1e-12)
    assert "converted to grey-scale L by Pillow" in source.provenance["images"]["conversion"]


def test_uint8_and_float16_inputs(world):
    from onnx import TensorProto

    for elem, name in ((TensorProto.UINT8, "u8.onnx"), (TensorProto.FLOAT16, "f16.onnx")):
        model = linear_classifier(world["root"] / name, layout="NHWC", elem=elem)
        run = image_predictions(model, world["data"], progress=False)
        x = _pixels(world["data"], run.pred.sample_ids)
        x = x if elem == TensorProto.UINT8 else (x.astype(np.float32) / np.float32(255)).astype(np.float16)
        np.testing.assert_allclose(run.pred.probs, softmax(run_directly(model, x)), rtol=0, atol=1e-12)


def test_a_callable_audits_to_its_own_numbers(world, tmp_path):
    import audit

    weights = np.random.default_rng(1).normal(size=(8 * 8 * 3, 3))
    seen = []

    def classify(images):
        seen.append((images.dtype, images.shape[1:]))
        return images.reshape(len(images), -1).astype(np.float64) / 255 @ weights

    source = audit.model_source(classify, world["data"], metadata=world["meta"], group_cols=["site"], batch_size=9,
                                input_size=(8, 8))
    x = _pixels(world["data"], source.pred.sample_ids)
    np.testing.assert_allclose(source.pred.probs, softmax(x.reshape(len(x), -1) / 255 @ weights), rtol=0, atol=1e-12)
    assert set(seen) == {(np.dtype(np.uint8), (8, 8, 3))}
    assert source.model_input["framework"] == "python callable" and source.provenance["model_sha256"] is None
    result = audit.run_audit(source, n_bootstrap=0, robustness=audit.RobustnessSettings(
        corruptions=("fog",), severities=(1,), n_samples=12, data_dir=None, given=True))
    assert [c["corruption"] for c in result.data["robustness"]["cells"]] == ["fog"]
    assert any(m.get("thumbnail") for m in result.data["mistakes"])
    assert {d["name"] for d in result.data["disparity"]} >= {"site", "brightness"}


def test_cli_run_with_onnx_metadata_config_and_corruptions(world, tmp_path, capfd):
    model = linear_classifier(world["root"] / "cli.onnx")
    out = tmp_path / "r"
    code = run_main("run", "--model", model, "--data", world["data"], "--model-config", world["config"],
                    "--metadata", world["meta"], "--group-col", "site", "--calibration-data", world["same"],
                    "--corruptions", "fog", "--severities", "1", "--corruption-samples", "12", "--out", out,
                    "--bootstrap", "0", "--no-record")
    assert code == 0, capfd.readouterr().err
    result = json.loads((out / "audit.json").read_text())
    settings = result["provenance"]["settings"]["model_input"]
    assert settings["framework"] == "onnxruntime" and settings["model_config"]["layout"] == "NCHW"
    assert list(result["provenance"]["model_sha256"]) == ["cli.onnx"]
    assert result["robustness"]["cells"][0]["corruption"] == "fog"
    html = (out / "report.html").read_text()
    assert "onnxruntime" in html and "(x / 255 - mean) / std" in html
    pred = tmp_path / "p.parquet"
    assert run_main("predict", "--model", model, "--data", world["data"], "--model-config", world["config"],
                    "--out", pred) == 0
    side = json.loads(Path(str(pred) + ".provenance.json").read_text()) if Path(str(pred) + ".provenance.json").exists() \
        else json.loads(next(tmp_path.glob("p*.provenance.json")).read_text())
    assert "onnxruntime" in side["predicted_by"]["versions"] and "tensorflow" not in side["predicted_by"]["versions"]


def test_onnx_run_never_imports_tensorflow(world, tmp_path):
    model = linear_classifier(world["root"] / "fresh.onnx")
    code = (
        "import sys\n"
        "from audit.cli import main\n"
        "try:\n"
        f"    main(['run', '--model', {str(model)!r}, '--data', {str(world['data'])!r}, '--out', "
        f"{str(tmp_path / 'out')!r}, '--bootstrap', '0', '--no-record', '--corruptions', 'fog', '--severities', '1',"
        " '--corruption-samples', '9'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "report.html").exists()


def test_model_config_unknown_keys_and_bad_values():
    with pytest.raises(AuditError) as info:
        parse_model_config({"layout": "NCHW", "mean_rgb": [0.5]})
    assert MSG_UNKNOWN_KEYS.split("{")[0] in str(info.value) and "'mean_rgb'" in str(info.value)
    for bad in ({"layout": "CHW"}, {"scale": 0}, {"std": [1, 0, 1]}, {"mean": [1, 2]}, {"output": "scores"},
                {"input_size": [32]}, {"class_names": ["a", "a"]}):
        with pytest.raises(AuditError):
            parse_model_config(bad)
    assert parse_model_config({"scale": 1 / 255}).scale == pytest.approx(1 / 255)


def test_model_config_as_a_mapping_from_python(world, tmp_path):
    """``model_config=`` takes a mapping with the file's keys, checked as the file is."""
    import audit

    model = linear_classifier(world["root"] / "mapping.onnx")
    keys = {"layout": "NCHW", "mean": list(MEAN), "std": list(STD), "output": "logits"}
    from_file = image_predictions(model, world["data"], model_config=world["config"], progress=False)
    from_mapping = audit.model_source(model, world["data"], model_config=keys, thumbnails=False)
    np.testing.assert_array_equal(from_mapping.pred.probs, from_file.pred.probs)
    recorded = from_mapping.model_input["model_config"]
    assert recorded["file"] is None and recorded["mean"] == list(MEAN) and recorded["output"] == "logits"
    assert "(in Python)" in from_mapping.model_input["scaling_source"]
    pythonic = {"layout": "NCHW", "mean": tuple(np.float32(m) for m in MEAN), "std": np.asarray(STD),
                "output": "logits", "input_size": (np.int64(8), 8)}  # tuples, arrays, numpy numbers
    from_python = audit.model_source(model, world["data"], model_config=pythonic, thumbnails=False)
    np.testing.assert_allclose(from_python.pred.probs, from_file.pred.probs, rtol=0, atol=1e-6)
    from audit.model.model_config import parse_model_config

    assert parse_model_config({"class_names": ("a", np.str_("b")), "input_size": (8, 8)}).input_size == (8, 8)
    with pytest.raises(AuditError, match=r"unknown key\(s\) 'mean_rgb'"):
        audit.model_source(model, world["data"], model_config={"mean_rgb": [0.5]})
    with pytest.raises(AuditError, match="output must be 'logits' or 'probabilities'"):
        audit.model_source(model, world["data"], model_config={"output": "scores"})
    with pytest.raises(AuditError, match="model_config must be a path to a TOML file, a mapping"):
        audit.model_source(model, world["data"], model_config=42)


def _bad(tmp_path, name):
    return tmp_path / name


BAD = [
    ("custom-domain", lambda p: linear_classifier(p, custom_domain="com.example.ops"),
     "custom domains (com.example.ops::Mystery)"),
    ("external-missing", lambda p: with_external_data(p, "weights.bin"), "external data file 'weights.bin'"),
    ("external-outside", lambda p: with_external_data(p, "../outside.bin"), "points outside the model's folder"),
    ("external-absolute", lambda p: with_external_data(p, str(p.parent.parent / "outside.bin")),
     "points outside the model's folder"),
    ("not-onnx", lambda p: (p.write_bytes(b"PK\x03\x04 this is a zip, not a model" * 3), p)[1], "not an ONNX model"),
    ("random-bytes", lambda p: (p.write_bytes(np.random.default_rng(3).bytes(4096)), p)[1], "not an ONNX model"),
    ("two-inputs", lambda p: linear_classifier(p, extra_input=True), "has 2 inputs (x, mask)"),
    ("two-outputs", lambda p: linear_classifier(p, n_outputs=2), "has 2 outputs"),
    ("width", lambda p: linear_classifier(p, n_classes=5), "the model has 5 outputs but the data has 3 classes"),
    ("int64-input", lambda p: linear_classifier(p, elem=__import__("onnx").TensorProto.INT64),
     "is tensor(int64); supported input types: float32, float16, uint8"),
]


@pytest.mark.parametrize("name, build, message", BAD, ids=[b[0] for b in BAD])
def test_unsafe_or_unfit_onnx_models_are_refused_before_inference(world, tmp_path, capfd, monkeypatch, name, build,
                                                                   message):
    folder = tmp_path / "models" / "inner"
    folder.mkdir(parents=True)
    model = build(folder / f"{name}.onnx")
    ran = []
    monkeypatch.setattr(onnx_model.OnnxClassifier, "runner", lambda self: ran.append(1))
    if name in ("external-outside", "external-absolute"):
        (tmp_path / "models" / "outside.bin").write_bytes(b"\0" * 1000)
    out = tmp_path / "r"
    code = run_main("run", "--model", model, "--data", world["data"], "--out", out, "--no-record")
    assert code == 2
    assert_clear_error(capfd.readouterr().err, model if name != "width" else world["data"], message)
    assert not out.exists() and not ran


def test_model_over_the_size_limit_is_refused_before_reading(world, tmp_path, capfd, monkeypatch):
    model = linear_classifier(tmp_path / "big.onnx")
    monkeypatch.setattr(onnx_model, "MAX_MODEL_BYTES", 100)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read"))
    code = run_main("run", "--model", model, "--data", world["data"], "--out", tmp_path / "r", "--no-record")
    assert code == 2
    assert_clear_error(capfd.readouterr().err, model, "above the limit of 100", "refused before reading")
    assert not (tmp_path / "r").exists()


def test_a_fixed_batch_of_one_is_fed_in_pieces(world, tmp_path):
    import onnx

    model = linear_classifier(tmp_path / "b1.onnx", layout="NHWC", softmax=True)
    proto = onnx.load(str(model))
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(proto, str(model))
    run = image_predictions(model, world["data"], progress=False, batch_size=5)
    x = _pixels(world["data"], run.pred.sample_ids).astype(np.float32) / np.float32(255)
    want = np.concatenate([run_directly(model, x[i:i + 1]) for i in range(len(x))])
    np.testing.assert_allclose(run.pred.probs, want, rtol=0, atol=1e-12)


def test_seed_network_exported_to_onnx_gives_keras_probabilities(trained, small_data, tmp_path):
    """The seed network with its trained weights as an NCHW ONNX graph (as a PyTorch port exports it):
    probabilities within 1e-5 of Keras's on the same PNG files, the same predicted classes."""
    from PIL import Image
    from helpers.onnx_fixtures import seed_to_onnx

    from audit.model.keras_model import load_classifier

    folder = tmp_path / "pngs"
    for i in range(60):
        name = small_data.class_names[small_data.y_test[i]]
        (folder / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(small_data.x_test[i]).save(folder / name / f"{i:03d}.png")
    names = tmp_path / "names.txt"
    names.write_text("\n".join(small_data.class_names))
    exported = seed_to_onnx(load_classifier(trained.out_dir).model, tmp_path / "seed.onnx")
    keras_run = image_predictions(trained.out_dir, folder, class_names_file=names, progress=False)
    onnx_run = image_predictions(exported, folder, class_names_file=names, progress=False)
    assert np.abs(onnx_run.pred.probs - keras_run.pred.probs).max() < 1e-5
    assert (onnx_run.pred.probs.argmax(1) == keras_run.pred.probs.argmax(1)).all()
    assert onnx_run.model_input["layout"] == "NCHW" and onnx_run.model_input["scaling"] == "x / 255"


def test_model_config_unknown_key_exits_2(world, tmp_path, capfd):
    model = linear_classifier(tmp_path / "m.onnx")
    config = tmp_path / "typo.toml"
    config.write_text('layout = "NCHW"\nmean_rgb = [0.5, 0.5, 0.5]\n')
    code = run_main("run", "--model", model, "--data", world["data"], "--model-config", config, "--out", tmp_path / "r",
                    "--no-record")
    assert code == 2
    assert_clear_error(capfd.readouterr().err, config, "unknown key(s) 'mean_rgb'", "layout, scale, mean, std")
    assert not (tmp_path / "r").exists()
