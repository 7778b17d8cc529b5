"""Bad image data and bad models through ``audit run --model FILE.keras --data FOLDER`` (in-process, stderr
captured at the file-descriptor level): exit 2, one line naming the file and the problem, no report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.hardening_helpers import assert_clear_error, run_main
from helpers.image_fixtures import build_models, write_image_folder, write_metadata, write_png
from PIL import Image


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from audit.model.quiet import import_keras

    root = tmp_path_factory.mktemp("models")
    out = build_models(root)
    keras = import_keras()
    L = keras.layers
    sig = keras.Sequential([keras.Input((8, 8, 3)), L.Flatten(), L.Dense(3, activation="sigmoid")])
    sig.save(root / "sigmoid.keras")
    out["sigmoid"] = root / "sigmoid.keras"
    return out


@pytest.fixture
def data(tmp_path) -> Path:
    return write_image_folder(tmp_path / "imgs", per_class=4, odd_sizes=False)


def _run(capfd, tmp_path, model, data, *extra) -> tuple[int, str]:
    code = run_main("run", "--model", model, "--data", data, "--out", tmp_path / "report", "--bootstrap", "0", *extra)
    err = capfd.readouterr().err
    assert code != 2 or not (tmp_path / "report").exists(), "a report was written despite the error"
    return code, err


def test_truncated_image_is_named(models, data, tmp_path, capfd):
    bad = data / "cat" / "002.png"
    bad.write_bytes(bad.read_bytes()[:50])
    code, err = _run(capfd, tmp_path, models["sequential"], data)
    assert code == 2
    assert_clear_error(err, bad, "cat/002.png", "unreadable or truncated image")


def test_damaged_image_data_behind_a_valid_header_is_named(models, data, tmp_path, capfd):
    bad = data / "dog" / "001.png"
    raw = bad.read_bytes()
    bad.write_bytes(raw[:-40] + b"\0" * 40)
    code, err = _run(capfd, tmp_path, models["sequential"], data)
    assert code == 2
    assert_clear_error(err, bad, "dog/001.png", "unreadable or truncated image")


def test_decompression_bomb_refused_before_decoding(models, data, tmp_path, capfd):
    bomb = write_png(data / "bird" / "bomb.png", 10_000, 10_000, b"\0" * 100)
    code, err = _run(capfd, tmp_path, models["sequential"], data)
    assert code == 2
    assert_clear_error(err, bomb, "10000 x 10000 = 100,000,000 pixels", "refused before decoding")


def test_empty_class_folder(models, data, tmp_path, capfd):
    (data / "emu").mkdir()
    code, err = _run(capfd, tmp_path, models["sequential"], data)
    assert code == 2
    assert_clear_error(err, data / "emu", "class folder 'emu' holds no image files")


@pytest.mark.parametrize("model, classes, message", [
    ("five-classes", ("bird", "cat", "dog"), "the model has 5 outputs but the data has 3 classes (bird, cat, dog)"),
    ("sequential", ("bird", "cat", "dog", "emu"), "the model has 3 outputs but the data has 4 classes"),
])
def test_more_or_fewer_classes_than_model_outputs(models, tmp_path, capfd, model, classes, message):
    data = write_image_folder(tmp_path / "imgs", per_class=2, classes=classes, odd_sizes=False)
    code, err = _run(capfd, tmp_path, models[model], data)
    assert code == 2
    assert_clear_error(err, data, message, "--class-names")


def test_label_not_among_the_class_names(models, data, tmp_path, capfd):
    names = tmp_path / "classes.txt"
    names.write_text("bird\ncat\nfox\n")
    code, err = _run(capfd, tmp_path, models["sequential"], data, "--class-names", names)
    assert code == 2
    assert_clear_error(err, data, "class folder 'dog' is not among the 3 class names of --class-names")


def test_manifest_path_escaping_its_folder(models, data, tmp_path, capfd):
    manifest = data / "manifest.csv"
    manifest.write_text("path,label\ncat/000.png,cat\n../../etc/hosts,dog\n")
    code, err = _run(capfd, tmp_path, models["sequential"], manifest, "--class-names",
                     _names(tmp_path, ("bird", "cat", "dog")))
    assert code == 2
    assert_clear_error(err, manifest, "'../../etc/hosts' in row 1 escapes the manifest's folder")


def _names(tmp_path, names) -> Path:
    path = tmp_path / "classes.txt"
    path.write_text("\n".join(names) + "\n")
    return path


def test_manifest_listing_missing_images(models, data, tmp_path, capfd):
    manifest = data / "manifest.csv"
    manifest.write_text("path,label\ncat/000.png,cat\ncat/999.png,cat\n")
    code, err = _run(capfd, tmp_path, models["sequential"], manifest, "--class-names",
                     _names(tmp_path, ("bird", "cat", "dog")))
    assert code == 2
    assert_clear_error(err, manifest, "1 image(s) listed in the manifest do not exist, first: cat/999.png")


def test_greyscale_and_rgba_images_are_converted_and_said(models, data, tmp_path, capfd):
    import json

    Image.open(data / "cat" / "000.png").convert("L").save(data / "cat" / "000.png")
    Image.open(data / "dog" / "000.png").convert("RGBA").save(data / "dog" / "000.png")
    code, err = _run(capfd, tmp_path, models["sequential"], data)
    assert code == 0, err
    settings = json.loads((tmp_path / "report" / "audit.json").read_text())["provenance"]["settings"]["model_input"]
    assert settings["converted"] == {"L->RGB": 1, "RGBA->RGB": 1}
    assert "L-&gt;RGB: 1" in (tmp_path / "report" / "report.html").read_text()


@pytest.mark.parametrize("kind, message", [
    ("no-row", "1 image(s) have no metadata row, first: bird/000.png"),
    ("duplicate", "1 image path(s) have more than one metadata row, first: cat/001.png"),
    ("no-image", "1 metadata row(s) name images that are not in the data, first: cat/777.png"),
])
def test_metadata_gaps(models, data, tmp_path, capfd, kind, message):
    rows = [{"path": p.relative_to(data).as_posix(), "site": "a"} for p in sorted(data.rglob("*.png"))]
    rows = {"no-row": rows[1:], "duplicate": rows + [rows[5]], "no-image": rows + [{"path": "cat/777.png", "site": "b"}]}[kind]
    meta = write_metadata(data, tmp_path / "meta.csv", rows=rows)
    code, err = _run(capfd, tmp_path, models["sequential"], data, "--metadata", meta)
    assert code == 2
    assert_clear_error(err, meta, message, "--allow-metadata-gaps")
    code, err = _run(capfd, tmp_path, models["sequential"], data, "--metadata", meta, "--allow-metadata-gaps")
    assert code == 0, err
    assert "metadata gaps allowed and counted: " in err and "1 " in err


def test_sigmoid_outputs_are_neither_probabilities_nor_logits(models, data, tmp_path, capfd):
    code, err = _run(capfd, tmp_path, models["sigmoid"], data)
    assert code == 2
    assert_clear_error(err, models["sigmoid"], "neither class probabilities nor logits")


def test_sixteen_bit_image(models, data, tmp_path, capfd):
    deep = data / "cat" / "deep.png"
    Image.fromarray(np.full((8, 8), 40000, dtype=np.uint16)).save(deep)
    code, err = _run(capfd, tmp_path, models["sequential"], data)
    assert code == 2
    assert_clear_error(err, deep, "16-bit or floating-point")


def test_bad_rescale_and_class_names_file(models, data, tmp_path, capfd):
    code, err = _run(capfd, tmp_path, models["sequential"], data, "--rescale", "1/zero")
    assert code == 2 and "--rescale must be 'none', a number or a fraction" in err
    names = _names(tmp_path, ("cat", "cat", "dog"))
    code, err = _run(capfd, tmp_path, models["sequential"], data, "--class-names", names)
    assert code == 2
    assert_clear_error(err, names, "repeated name(s) cat")


def test_image_options_with_a_predictions_file_are_a_usage_error(data, tmp_path, capfd):
    code = run_main("run", "--predictions", tmp_path / "p.npz", "--metadata", tmp_path / "m.csv")
    err = capfd.readouterr().err
    assert code == 2 and "--metadata apply to --model with image data" in err


def test_model_missing(data, tmp_path, capfd):
    missing = tmp_path / "nope.keras"
    code = run_main("run", "--model", missing, "--data", data, "--out", tmp_path / "report")
    err = capfd.readouterr().err
    assert code == 2
    assert_clear_error(err, missing, "model not found")


def test_image_data_missing(models, tmp_path, capfd):
    missing = tmp_path / "no-such-folder"
    code = run_main("run", "--model", models["sequential"], "--data", missing, "--out", tmp_path / "report")
    err = capfd.readouterr().err
    assert code == 2
    assert_clear_error(err, missing, "image data not found")
