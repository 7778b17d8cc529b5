"""Any Keras classifier on an image folder, end to end: the numbers equal model.predict, metadata groups
reach the disparity section, ``audit predict`` files audit to the same numbers, unsafe models never run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.hardening_helpers import assert_clear_error, run_main
from helpers.image_fixtures import (CLASSES, build_lambda_model, build_models, load_uint8_folder, write_image_folder,
                                    write_metadata)

from audit.commands.run import MSG_RELEASED_IMAGES
from audit.errors import AuditError
from audit.model.image_audit import (OUTPUTS_LOGITS, OUTPUTS_PROBS, image_predictions, open_image_inputs,
                                     softmax)
from audit.model.keras_config import HINT_TRUST


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("byo")
    data = write_image_folder(root / "imgs", per_class=12)
    calib = write_image_folder(root / "calib", per_class=6, seed=1, odd_sizes=False)
    meta = write_metadata(data, root / "meta.csv")
    models = build_models(root / "models")
    return {"root": root, "data": data, "calib": calib, "meta": meta, "models": models}


def _expected(model_file: Path, data: Path, paths, *, raw_pixels: bool, logits: bool) -> np.ndarray:
    from audit.model.quiet import import_keras

    keras = import_keras()
    model = keras.models.load_model(model_file, compile=False, safe_mode=True)
    x = load_uint8_folder(data, paths).astype(np.float32)
    if not raw_pixels:
        x /= 255
    out = model.predict(x, verbose=0).astype(np.float64)
    return softmax(out) if logits else out


@pytest.mark.parametrize("name, raw_pixels, logits", [
    ("sequential", False, False), ("functional-logits", False, True), ("rescaling", True, True)])
def test_probabilities_equal_model_predict(world, name, raw_pixels, logits):
    run = image_predictions(world["models"][name], world["data"], progress=False, batch_size=5)
    want = _expected(world["models"][name], world["data"], run.pred.sample_ids, raw_pixels=raw_pixels, logits=logits)
    np.testing.assert_allclose(run.pred.probs, want, rtol=0, atol=1e-6)
    images = run.provenance["images"]
    assert images["outputs"] == (OUTPUTS_LOGITS if logits else OUTPUTS_PROBS)
    assert images["scaling"] == ("x (raw 0-255 pixel values)" if raw_pixels else "x / 255")
    assert images["decoded"]["converted"] == {"L->RGB": 1, "RGBA->RGB": 1} and images["decoded"]["resized"] == 3
    assert run.pred.class_names == CLASSES and run.pred.sample_ids[0] == "bird/000.png"


def test_rescale_option_overrides(world):
    run = image_predictions(world["models"]["functional-logits"], world["data"], rescale="1/127.5,-1",
                            progress=False)
    from audit.model.quiet import import_keras

    model = import_keras().models.load_model(world["models"]["functional-logits"], compile=False)
    x = load_uint8_folder(world["data"], run.pred.sample_ids).astype(np.float32) / np.float32(127.5) - 1
    np.testing.assert_allclose(run.pred.probs, softmax(model.predict(x, verbose=0)), atol=1e-6)
    assert run.provenance["images"]["scaling"] == "x / 127.5 - 1"


def test_library_entry_point_gives_model_images_labels_and_preprocessing(world):
    inputs = open_image_inputs(world["models"]["sequential"], world["data"])
    batch = next(inputs.batches(batch_size=10))
    assert batch.images.dtype == np.uint8 and batch.images.shape == (10, 8, 8, 3)
    x = inputs.preprocessing(batch.images)
    assert x.dtype == np.float32 and x.max() <= 1
    np.testing.assert_allclose(inputs.predictor(batch.images), inputs.classifier.model.predict(x, verbose=0),
                               atol=1e-6)


def test_class_count_must_equal_model_outputs(world, tmp_path):
    with pytest.raises(AuditError, match=r"the model has 5 outputs but the data has 3 classes \(bird, cat, dog\); "
                                         r"list the model's classes"):
        open_image_inputs(world["models"]["five-classes"], world["data"])
    names = tmp_path / "classes.txt"
    names.write_text("bird\ncat\ndog\nemu\nfox\n")
    inputs = open_image_inputs(world["models"]["five-classes"], world["data"], class_names_file=names)
    assert inputs.images.class_names == ("bird", "cat", "dog", "emu", "fox")


@pytest.mark.parametrize("name, message", [
    ("two-outputs", "the model has 2 outputs; an image classifier has one"),
    ("vector-input", "the model input shape is (None, 20); an image classifier takes (None, height, width, channels)"),
])
def test_models_that_are_not_image_classifiers(world, tmp_path, capfd, name, message):
    code = run_main("run", "--model", world["models"][name], "--data", world["data"], "--out", tmp_path / "r")
    err = capfd.readouterr().err
    assert code == 2
    assert_clear_error(err, world["models"][name], message)
    assert not (tmp_path / "r").exists()


def test_run_metadata_groups_reach_the_disparity_section(world, tmp_path, capfd):
    out = tmp_path / "report"
    code = run_main("run", "--model", world["models"]["sequential"], "--data", world["data"], "--metadata",
                    world["meta"], "--group-col", "site", "--out", out, "--bootstrap", "0", "--reproducible")
    assert code == 0, capfd.readouterr().err
    result = json.loads((out / "audit.json").read_text())
    site = next(d for d in result["disparity"] if d["name"] == "site")
    assert [(g["group"], g["n"]) for g in site["groups"]] == [("north", 18), ("south", 18)]
    assert [d["name"] for d in result["disparity"]] == ["site", "brightness", "contrast"]
    prov = result["provenance"]
    assert list(prov["model_sha256"]) == ["sequential.keras"]
    assert set(prov["data_sha256"]) == {"image_set", "meta.csv"}
    assert prov["images"]["metadata"]["columns"] == ["site"]
    assert all(m["thumbnail"].startswith("data:image/png;base64,") for m in result["mistakes"])
    # issue 23: flagged labels are named by their path under the folder and shown with their image
    lq = result["label_quality"]
    assert lq["computed"] and lq["n_flagged"] == len(lq["flagged"]) > 0
    assert all((world["data"] / f["sample_id"]).is_file() for f in lq["flagged"])
    assert all(f["thumbnail"].startswith("data:image/png;base64,") for f in lq["flagged"][:24])
    assert result["slices"]["features"][:2] == ["site", "class"] and "edge_density" in result["slices"]["features"]
    html = (out / "report.html").read_text()
    assert 'id="label-quality-gallery"' in html
    assert prov["data_sha256"]["image_set"][:12] in html and prov["model_sha256"]["sequential.keras"][:12] in html


def test_no_images_leaves_the_thumbnails_out(world, tmp_path):
    out = tmp_path / "report"
    assert run_main("run", "--model", world["models"]["sequential"], "--data", world["data"], "--out", out,
                    "--bootstrap", "0", "--no-images") == 0
    result = json.loads((out / "audit.json").read_text())
    assert result["mistakes"] and all(m["thumbnail"] is None for m in result["mistakes"])
    assert all(not f.get("thumbnail") for f in result["label_quality"]["flagged"])
    assert all(not ex.get("thumbnail") for s in result["slices"]["found"] for ex in s["examples"])
    html = (out / "report.html").read_text()
    assert 'id="label-quality"' in html and 'id="label-quality-gallery"' not in html


@pytest.mark.parametrize("ext", [".npz", ".parquet"])
def test_predict_file_audits_to_the_same_numbers(world, tmp_path, ext):
    model = world["models"]["functional-logits"]
    preds = tmp_path / f"preds{ext}"
    assert run_main("predict", "--model", model, "--data", world["data"], "--metadata", world["meta"],
                    "--out", preds) == 0
    common = ("--bootstrap", "0", "--reproducible", "--no-images")
    assert run_main("run", "--model", model, "--data", world["data"], "--metadata", world["meta"],
                    "--out", tmp_path / "a", *common) == 0
    assert run_main("run", "--predictions", preds, "--out", tmp_path / "b", *common) == 0
    a, b = (json.loads((tmp_path / x / "audit.json").read_text()) for x in "ab")
    for key in ("overall", "per_class", "confusion_matrix", "calibration", "mistakes"):
        _assert_same(a[key], b[key], key)
    groups = [d for d in a["disparity"] if d["kind"] == "group column"]  # the file has no pixels to slice
    _assert_same(groups, b["disparity"], "disparity")
    assert sorted(d["name"] for d in b["disparity"]) == ["camera", "site"]
    # the provenance written beside the file: the audit of the file names what the image run names
    for key in ("model_sha256", "data_sha256"):
        assert b["provenance"][key] == a["provenance"][key], key
    assert b["provenance"]["predicted_by"]["images"] == a["provenance"]["images"]
    assert b["provenance"]["predicted_by"]["model_input"] == a["provenance"]["settings"]["model_input"]


def test_an_audit_of_an_audit_predict_file_records_the_models_sha256(world, tmp_path, capfd):
    import hashlib

    from audit.result.schema import conformance_errors
    from audit.sources.provenance import sidecar_path

    model = world["models"]["sequential"]
    preds = tmp_path / "preds.csv"
    assert run_main("predict", "--model", model, "--data", world["data"], "--out", preds) == 0
    assert f"(provenance: {sidecar_path(preds).name})" in capfd.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.csv", "preds.csv.provenance.json"]
    assert run_main("run", "--predictions", preds, "--out", tmp_path / "r", "--bootstrap", "0") == 0
    assert "warning" not in capfd.readouterr().err
    result = json.loads((tmp_path / "r" / "audit.json").read_text())
    prov = result["provenance"]
    assert prov["model_sha256"] == {"sequential.keras": hashlib.sha256(model.read_bytes()).hexdigest()}
    assert set(prov["data_sha256"]) == {"image_set"} and result["run"]["source"] == "predictions"
    by = prov["predicted_by"]
    assert by["command"] == "audit predict" and by["model_path"] == str(model)
    assert by["provenance_file"] == str(sidecar_path(preds)) and by["versions"]["tensorflow"]
    assert by["images"]["conversion"] and by["images"]["scaling"] == "x / 255"
    assert conformance_errors(result) == []


def _assert_same(a, b, where: str) -> None:
    """Equal structures; floats equal to 1e-12 relative (a file's columns may be summed in another order)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15), where
    else:
        assert a == b, where


def test_calibration_data_fits_the_temperature(world, tmp_path):
    out = tmp_path / "r"
    assert run_main("run", "--model", world["models"]["functional-logits"], "--data", world["data"],
                    "--calibration-data", world["calib"], "--out", out, "--bootstrap", "0") == 0
    fit = json.loads((out / "audit.json").read_text())["calibration"]["temperature_fit"]
    assert fit["n"] == 18 and fit["source"].startswith("calibration images")


def test_lambda_model_is_refused_and_its_code_never_runs(world, tmp_path, capfd):
    witness = tmp_path / "lambda-ran.txt"
    model = build_lambda_model(tmp_path / "lambda.keras", witness)
    assert not witness.exists()
    for args in (("run", "--out", tmp_path / "r"), ("predict", "--out", tmp_path / "p.npz")):
        code = run_main(*args, "--model", model, "--data", world["data"])
        err = capfd.readouterr().err
        assert code == 2
        assert_clear_error(err, model, "needs Python code to load", "Lambda layer ('writes_a_file')", HINT_TRUST)
        assert not witness.exists(), "the Lambda layer's code ran"
    assert not (tmp_path / "r").exists() and not (tmp_path / "p.npz").exists()
    # the witness does work: trusting the file runs its code
    assert run_main("predict", "--model", model, "--data", world["data"], "--out", tmp_path / "p.npz",
                    "--trust-model") == 0
    assert witness.read_text() == "ran"


def test_custom_object_refused_without_running_keras(world, tmp_path, capfd, monkeypatch):
    import zipfile

    from audit.model.quiet import import_keras

    keras = import_keras()
    src = world["models"]["sequential"]
    bad = tmp_path / "custom.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][1]["module"] = "my_company.layers"
                config["config"]["layers"][1]["registered_name"] = "MyCompany>Flatten"
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    monkeypatch.setattr(keras.models, "load_model", lambda *a, **k: pytest.fail("Keras was asked to load it"))
    code = run_main("run", "--model", bad, "--data", world["data"], "--out", tmp_path / "r")
    assert code == 2
    assert_clear_error(capfd.readouterr().err, bad, "custom object 'MyCompany>Flatten' from module "
                                                    "'my_company.layers'", "--trust-model")


def test_keras_file_with_cifar_binary_data_is_a_clear_error(world, tmp_path, capfd):
    from helpers.cifar_fixtures import write_dataset

    data = write_dataset(tmp_path / "cifar-10-batches-bin", per_file=2, test=2)
    code = run_main("run", "--model", world["models"]["sequential"], "--data", data, "--out", tmp_path / "r")
    assert code == 2
    assert_clear_error(capfd.readouterr().err, world["models"]["sequential"], "audited on image files")


def test_array_inputs_feed_uint8_arrays_through_the_same_predictor(world):
    from audit.model.image_audit import array_inputs

    inputs = open_image_inputs(world["models"]["functional-logits"], world["data"])
    x = np.concatenate([b.images for b in inputs.batches(batch_size=7)])
    arrays = array_inputs(world["models"]["functional-logits"], x, inputs.images.labels, CLASSES,
                          sample_ids=inputs.images.paths)
    np.testing.assert_array_equal(arrays.predict(batch_size=5, progress=False), inputs.predict(progress=False))
    with pytest.raises(AuditError, match=r"images must be uint8 of shape \(N, 8, 8, 3\)"):
        array_inputs(world["models"]["functional-logits"], x.astype(np.float32), inputs.images.labels, CLASSES)


def test_image_property_slices_equal_those_of_the_images_held_in_memory(world):
    from audit.engine.build import build_result
    from audit.predictions import make_predictions

    run = image_predictions(world["models"]["sequential"], world["data"], progress=False, batch_size=5)
    held = make_predictions(run.pred.labels, run.pred.probs, run.pred.class_names,
                            images=load_uint8_folder(world["data"], run.pred.sample_ids))
    streamed = build_result(run.pred, n_bootstrap=0, image_properties=run.image_properties)
    in_memory = build_result(held, n_bootstrap=0)
    assert [d["name"] for d in streamed["disparity"]] == ["brightness", "contrast"]
    assert streamed["disparity"] == in_memory["disparity"]
    assert all(m["thumbnail"] is None for m in streamed["mistakes"])  # files are thumbnailed by the caller


def test_robustness_on_image_files_when_asked(world, tmp_path, capfd):
    """Image data: no robustness audit by default; with --corruptions, on the stratified subset read from the
    files at the model's input size, per group of the metadata too."""
    from audit.result.schema import Robustness, conformance_errors

    plain = tmp_path / "plain"
    assert run_main("run", "--model", world["models"]["sequential"], "--data", world["data"], "--out", plain,
                    "--bootstrap", "0") == 0
    assert "robustness" not in json.loads((plain / "audit.json").read_text())
    out = tmp_path / "robust"
    code = run_main("run", "--model", world["models"]["sequential"], "--data", world["data"], "--metadata",
                    world["meta"], "--group-col", "site", "--out", out, "--bootstrap", "0",
                    "--corruptions", "fog,contrast", "--severities", "1,3", "--corruption-samples", "12")
    assert code == 0, capfd.readouterr().err
    section = json.loads((out / "audit.json").read_text())["robustness"]
    assert conformance_errors(section, Robustness) == []
    assert [(c["corruption"], c["severity"], c["n"]) for c in section["cells"]] == [
        ("fog", 1, 12), ("fog", 3, 12), ("contrast", 1, 12), ("contrast", 3, 12)]
    assert section["sample"]["of"] == 36 and {g["name"] for g in section["groups"]} >= {"site"}
    assert "Robustness under corruption" in (out / "report.html").read_text()


def test_released_corruption_data_does_not_apply_to_image_files(world, tmp_path, capfd):
    released = tmp_path / "CIFAR-10-C"
    released.mkdir()
    out = tmp_path / "out"
    code = run_main("run", "--model", world["models"]["sequential"], "--data", world["data"], "--out", out,
                    "--bootstrap", "0", "--corruptions", "fog", "--corruption-data", released)
    err = capfd.readouterr().err.strip()
    assert code == 2  # refused before the model runs on any image
    assert err == f"audit: error: {MSG_RELEASED_IMAGES} (see 'audit run --help')"
    assert not out.exists()


# -- audit.model_source's arguments: refused by name before any file is read (issue 21, review findings 3, 4) --


@pytest.mark.parametrize("keyword, value, expected", [
    ("batch_size", 2.5, "an integer ≥ 1"), ("batch_size", True, "an integer ≥ 1"), ("batch_size", 0, "an integer ≥ 1"),
    ("input_size", (-8, 8), "(height, width), two integers ≥ 1"),
    ("input_size", (0, 8), "(height, width), two integers ≥ 1"),
    ("input_size", 8, "(height, width), two integers ≥ 1"),
    ("input_size", (8.0, 8), "(height, width), two integers ≥ 1"),
    ("input_size", (8, 8, 3), "(height, width), two integers ≥ 1"),
])
def test_model_source_numeric_arguments_are_validated(tmp_path, keyword, value, expected):
    import audit
    from audit.errors import MSG_NUMBER

    with pytest.raises(AuditError) as err:
        audit.model_source(lambda x: x, tmp_path / "no-such-folder", **{keyword: value})
    assert err.value.message == MSG_NUMBER.format(name=keyword, expected=expected, value=value)


def test_model_source_input_size_takes_numpy_integers():
    from audit.model.image_audit import check_input_size

    assert check_input_size(np.array([24, 32])) == (24, 32)
    assert check_input_size((np.int64(24), 32)) == (24, 32) and check_input_size(None) is None


def test_model_source_misspelt_keyword_names_the_closest(tmp_path):
    import audit

    with pytest.raises(TypeError, match=r"^model_source\(\) got an unexpected keyword argument 'class_name'; "
                                        r"did you mean 'class_names'\?$"):
        audit.model_source(lambda x: x, tmp_path, class_name=["a", "b"])


# -- the model config and grey-scale models with a .keras file ---------------------------------------

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def test_model_config_with_a_keras_model(world, tmp_path, capfd):
    """--model-config with a .keras model: scale/mean/std replace the default x / 255 (equal to Keras run
    directly on (x / 255 - mean) / std), output and class_names apply, and all of it is in provenance."""
    from audit.model.image_audit import OUTPUTS_LOGITS_DECLARED
    from audit.model.quiet import import_keras

    config = tmp_path / "keras.toml"
    config.write_text(f"scale = 0.00392156862745098\nmean = {list(MEAN)}\nstd = {list(STD)}\noutput = \"logits\"\n"
                      f"class_names = {list(CLASSES)}\n")
    model_file = world["models"]["functional-logits"]
    run = image_predictions(model_file, world["data"], model_config=config, progress=False, batch_size=5)
    model = import_keras().models.load_model(model_file, compile=False, safe_mode=True)
    x = load_uint8_folder(world["data"], run.pred.sample_ids).astype(np.float32) / np.float32(255)
    x = (x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    np.testing.assert_allclose(run.pred.probs, softmax(model.predict(x, verbose=0).astype(np.float64)), rtol=0,
                               atol=1e-6)
    mi = run.model_input
    assert mi["scaling"] == f"(x / 255 - mean) / std, mean = {list(MEAN)}, std = {list(STD)}"
    assert mi["scaling_source"] == f"--model-config {config}: scale, mean, std"
    assert mi["outputs"] == OUTPUTS_LOGITS_DECLARED and mi["framework"] == "keras"
    assert mi["model_config"]["sha256"] == run.provenance["data_sha256"]["keras.toml"]
    assert mi["model_config"]["class_names"] == list(CLASSES)
    assert run.provenance["images"]["class_names_source"] == "the model config's class_names"
    out = tmp_path / "r"  # and on the command line
    assert run_main("run", "--model", model_file, "--data", world["data"], "--model-config", config, "--out", out,
                    "--bootstrap", "0", "--no-record") == 0, capfd.readouterr().err
    settings = json.loads((out / "audit.json").read_text())["provenance"]["settings"]["model_input"]
    assert settings["model_config"]["mean"] == list(MEAN) and settings["scaling"].startswith("(x / 255 - mean)")


def test_grey_scale_keras_model_with_corruptions(world, tmp_path, capfd):
    """A 1-channel .keras model: images converted to grey as Pillow's "L"; the corruptions run on them as RGB
    and are converted back the same way (a drawless corruption's cell equals Keras on those images)."""
    from audit.model.quiet import import_keras
    from audit.robustness import corrupt

    keras = import_keras()
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    model_file = tmp_path / "grey.keras"
    model.save(model_file)
    out = tmp_path / "r"
    code = run_main("run", "--model", model_file, "--data", world["data"], "--out", out, "--bootstrap", "0",
                    "--no-record", "--corruptions", "contrast,gaussian_noise", "--severities", "2",
                    "--corruption-samples", "36")
    assert code == 0, capfd.readouterr().err
    result = json.loads((out / "audit.json").read_text())
    cells = {c["corruption"]: c for c in result["robustness"]["cells"]}
    run = image_predictions(model_file, world["data"], progress=False)
    x = load_uint8_folder(world["data"], run.pred.sample_ids, channels=1)
    xc = corrupt(x, "contrast", 2).astype(np.float32) / np.float32(255)
    want = (model.predict(xc, verbose=0).argmax(1) == run.pred.labels).mean()
    assert cells["contrast"]["accuracy"] == pytest.approx(want, abs=1e-12)
    assert cells["gaussian_noise"]["n"] == 36
    assert "converted to grey-scale L by Pillow" in result["provenance"]["images"]["conversion"]
