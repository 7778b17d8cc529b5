"""``audit run --model FILE.keras --data FOLDER`` with and without ``--no-explanations`` and ``--explain-layer``:
what audit.json's ``explanations`` holds, and the one line said on stderr."""

from __future__ import annotations

import json

import pytest
from helpers.hardening_helpers import run_main
from helpers.image_fixtures import build_models, write_image_folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return build_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("imgs") / "imgs", per_class=5, odd_sizes=False)


def _explanations(capfd, tmp_path, *args) -> tuple[dict, str]:
    out = tmp_path / "report"
    code = run_main("run", *args, "--out", out, "--bootstrap", "0", "--no-record")
    err = capfd.readouterr().err
    assert code == 0, err
    return json.loads((out / "audit.json").read_text(encoding="utf-8"))["explanations"], err


def test_grad_cam_by_default_and_the_layer_named(models, data, tmp_path, capfd):
    ex, err = _explanations(capfd, tmp_path, "--model", models["functional-logits"], "--data", data)
    assert ex["method"] == "grad-cam" and ex["layer"].startswith("conv2d") and ex["items"]
    lines = [line for line in err.splitlines() if "explanations" in line]
    assert len(lines) == 1 and lines[0].startswith("audit: explanations: grad-cam maps of")
    assert "Traceback" not in err and "I0000" not in err
    named, _ = _explanations(capfd, tmp_path, "--model", models["functional-logits"], "--data", data,
                             "--explain-layer", ex["layer"])
    assert named["layer"] == ex["layer"]


def test_no_conv_layer_gets_occlusion(models, data, tmp_path, capfd):
    ex, _ = _explanations(capfd, tmp_path, "--model", models["sequential"], "--data", data)
    assert ex["method"] == "occlusion" and ex["patch"] == [2, 2] and "no convolutional layer" in ex["reason"]


@pytest.mark.parametrize("flag, reason", [("--no-explanations", "turned off"), ("--no-images", "--no-images")])
def test_turned_off(flag, reason, models, data, tmp_path, capfd):
    ex, err = _explanations(capfd, tmp_path, "--model", models["functional-logits"], "--data", data, flag)
    assert ex["method"] is None and ex["items"] == [] and reason in ex["reason"]
    assert "explanations" not in err
