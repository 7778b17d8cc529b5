"""The provenance sidecar of an ``audit predict`` file: written with the file as a pair, read back into an
audit's provenance when its SHA-256 matches, a stale one left out with a warning, a malformed one refused.

No TensorFlow: the provenance is written here as ``audit predict`` would (tests/model/test_image_audit.py
runs the real command end to end).
"""

from __future__ import annotations

import json

import pytest
from helpers.hardening_helpers import assert_clear_error, run_main

from audit.errors import AuditError
from audit.hashing import sha256_file
from audit.predictions import make_predictions
from audit.result.schema import PredictedBy, conformance_errors
from audit.sources import expand_sources, load_predictions, read_provenance, save_npz, save_with_provenance
from audit.sources.provenance import (FORMAT, FORMAT_VERSION, HINT_SIDECAR, MSG_SIDECAR_STALE,
                                      PREDICTED_BY_KEYS, PREDICTED_BY_OBJECTS, sidecar_path)

from .conftest import assert_clear

MODEL_SHA = "a" * 64
IMAGES_SHA = "b" * 64
PROVENANCE = {
    "model_sha256": {"net.keras": MODEL_SHA},
    "data_sha256": {"image_set": IMAGES_SHA, "meta.csv": "c" * 64},
    "predicted_by": {"command": "audit predict", "tool_version": "0.1.0", "model_path": "models/net.keras",
                     "images": {"conversion": "grey copied to R, G, B", "scaling": "x / 255"},
                     "model_input": {"input": "8x8x3", "scaling": "x / 255", "scaling_source": "default", "outputs": "softmax",
                                     "resized": 0, "converted": {"L->RGB": 1}, "trust_model": False},
                     "versions": {"python": "3.12.0", "tensorflow": "2.18.0", "keras": None}},
}


@pytest.mark.parametrize("name", ["preds.npz", "preds.csv", "preds.parquet"])
def test_the_file_and_its_sidecar_are_written_and_read_back(tmp_path, pred, name):
    path = save_with_provenance(tmp_path / "out" / name, pred, PROVENANCE)
    sidecar = tmp_path / "out" / f"{name}.provenance.json"
    assert path == tmp_path / "out" / name and sidecar_path(path) == sidecar
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([name, sidecar.name])  # no temporary
    record = json.loads(sidecar.read_text())
    assert record["format"] == FORMAT and record["format_version"] == FORMAT_VERSION
    assert record["predictions_file"] == name and record["predictions_sha256"] == sha256_file(path)
    assert load_predictions(path).n_samples == 4
    merged = read_provenance(path, sha256_file(path))
    assert merged == {"model_sha256": PROVENANCE["model_sha256"], "data_sha256": PROVENANCE["data_sha256"],
                      "predicted_by": {**PROVENANCE["predicted_by"], "provenance_file": str(sidecar)}}
    assert conformance_errors(merged["predicted_by"], PredictedBy) == []


def test_no_sidecar_is_no_provenance(tmp_path, pred):
    path = save_npz(tmp_path / "p.npz", pred)
    assert read_provenance(path, sha256_file(path)) is None


def test_a_failed_write_leaves_neither_file(tmp_path, pred, monkeypatch):
    path = save_with_provenance(tmp_path / "p.npz", pred, PROVENANCE)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("audit.sources.npz.np.savez", broken)
    with pytest.raises(AuditError, match="p.npz: cannot write: No space left on device"):
        save_with_provenance(path, pred, PROVENANCE)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # the old pair, no temporary
    monkeypatch.undo()
    with pytest.raises(AuditError, match="cannot write a table with extension '.xlsx'"):
        save_with_provenance(tmp_path / "new" / "p.xlsx", pred, PROVENANCE)
    assert not (tmp_path / "new").exists()


def test_a_stale_sidecar_is_not_merged_and_said(tmp_path, pred):
    path = save_with_provenance(tmp_path / "p.npz", pred, PROVENANCE)
    save_npz(path, _first_rows(pred, 3))  # the predictions file replaced, its old sidecar left beside it
    said = []
    assert read_provenance(path, sha256_file(path), warn=said.append) is None
    assert said == [MSG_SIDECAR_STALE.format(sidecar=sidecar_path(path), predictions="p.npz")]


def _first_rows(pred, n, start=0):
    rows = slice(start, start + n)
    return make_predictions(pred.labels[rows], pred.probs[rows], pred.class_names,
                            sample_ids=pred.sample_ids[rows])


def _bad(record: dict, **change) -> dict:
    out = json.loads(json.dumps(record))
    for key, value in change.items():
        if value is None:
            out.pop(key)
        else:
            out[key] = value
    return out


MALFORMED = {
    # case: (sidecar text from the good record, fragment of the message)
    "not-json": (lambda r: "{ not json", "unreadable provenance file of `audit predict`"),
    "nan": (lambda r: json.dumps(_bad(r, predicted_by={**r["predicted_by"], "images": {"x": float("nan")}})),
            "NaN is not a JSON number"),
    "not-an-object": (lambda r: "[1, 2]", "expected a JSON object, got list"),
    "missing-key": (lambda r: json.dumps(_bad(r, model_sha256=None)), "missing key(s) model_sha256"),
    "unknown-key": (lambda r: json.dumps(_bad(r, model_sha=1)), "unknown key(s) model_sha"),
    "other-format": (lambda r: json.dumps(_bad(r, format="mlflow")), "format is 'mlflow'"),
    "newer-version": (lambda r: json.dumps(_bad(r, format_version=2)), "format_version 2; this tool reads version 1"),
    "bad-digest": (lambda r: json.dumps(_bad(r, model_sha256={"net.keras": "xyz"})),
                   "model_sha256 must map file names to SHA-256 digests"),
    "bad-predicted-by": (lambda r: json.dumps(_bad(r, predicted_by={"command": "audit predict"})),
                         "predicted_by needs text tool_version, model_path"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_sidecar_is_an_error_naming_it(tmp_path, pred, case):
    path = save_with_provenance(tmp_path / "p.npz", pred, PROVENANCE)
    sidecar = sidecar_path(path)
    text, fragment = MALFORMED[case]
    sidecar.write_text(text(json.loads(sidecar.read_text())))
    with pytest.raises(AuditError) as info:
        read_provenance(path, sha256_file(path))
    assert_clear(info, sidecar, fragment, HINT_SIDECAR)


def test_a_glob_of_shards_leaves_the_sidecars_out(tmp_path, pred):
    for name in ("preds-1.npz", "preds-2.csv"):
        save_with_provenance(tmp_path / name, pred, PROVENANCE)
    assert [p.name for p in expand_sources(tmp_path / "preds*")] == ["preds-1.npz", "preds-2.csv"]
    with pytest.raises(AuditError, match="no file matches the pattern"):
        expand_sources(tmp_path / "*.json")


def test_the_reader_keys_are_the_schemas():
    declared = PredictedBy.__required_keys__ | PredictedBy.__optional_keys__
    assert set(PREDICTED_BY_KEYS) | set(PREDICTED_BY_OBJECTS) | {"provenance_file"} == declared
    assert set(PREDICTED_BY_KEYS) | {"provenance_file"} == PredictedBy.__required_keys__


def _audit(tmp_path, capfd, path, *extra) -> tuple[int, dict | None, str]:
    capfd.readouterr()
    out = tmp_path / "report"
    code = run_main("run", "--predictions", path, "--out", out, "--bootstrap", "0", "--no-record", *extra)
    err = capfd.readouterr().err
    result = json.loads((out / "audit.json").read_text()) if code in (0, 1) else None
    return code, result, err


@pytest.mark.parametrize("options", [(), ("--stream",)])
def test_an_audit_of_the_file_records_the_model_and_images(tmp_path, pred, capfd, options):
    path = save_with_provenance(tmp_path / "preds.npz", pred, PROVENANCE)
    code, result, err = _audit(tmp_path, capfd, path, *options)
    assert code == 0 and "warning" not in err, err
    prov = result["provenance"]
    assert prov["model_sha256"] == {"net.keras": MODEL_SHA} and prov["data_sha256"]["image_set"] == IMAGES_SHA
    assert prov["predictions_sha256"] == {str(path): sha256_file(path)}
    assert prov["predicted_by"]["model_path"] == "models/net.keras"
    assert prov["predicted_by"]["provenance_file"] == str(sidecar_path(path))
    assert conformance_errors(result) == []
    assert MODEL_SHA[:12] in (tmp_path / "report" / "report.html").read_text()


def test_an_audit_with_a_stale_sidecar_warns_and_records_no_model(tmp_path, pred, capfd):
    path = save_with_provenance(tmp_path / "preds.npz", pred, PROVENANCE)
    save_npz(path, _first_rows(pred, 3))
    code, result, err = _audit(tmp_path, capfd, path)
    assert code == 0
    assert err.strip().splitlines()[0] == MSG_SIDECAR_STALE.format(sidecar=sidecar_path(path), predictions="preds.npz")
    assert result["provenance"]["model_sha256"] is None and "predicted_by" not in result["provenance"]


def test_an_audit_of_several_shards_merges_none(tmp_path, pred, capfd):
    # one model hash per audit: shards (each with its sidecar) keep the predictions files' hashes only
    save_with_provenance(tmp_path / "preds-1.npz", _first_rows(pred, 2), PROVENANCE)
    save_with_provenance(tmp_path / "preds-2.npz", _first_rows(pred, 2, start=2), PROVENANCE)
    code, result, err = _audit(tmp_path, capfd, tmp_path / "preds*")
    assert code == 0 and "warning" not in err, err
    prov = result["provenance"]
    assert prov["model_sha256"] is None and "predicted_by" not in prov and len(prov["predictions_sha256"]) == 2


def test_an_audit_with_a_malformed_sidecar_exits_2(tmp_path, pred, capfd):
    path = save_with_provenance(tmp_path / "preds.npz", pred, PROVENANCE)
    sidecar_path(path).write_text("{ not json")
    code, result, err = _audit(tmp_path, capfd, path)
    assert code == 2
    assert_clear_error(err, sidecar_path(path), "unreadable provenance file of `audit predict`", HINT_SIDECAR)
    assert not (tmp_path / "report").exists()
