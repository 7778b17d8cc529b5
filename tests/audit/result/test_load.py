"""Tests of load_audit_json: a truncated or hand-edited audit.json is one clear error naming the key."""

from __future__ import annotations

import json

import pytest
from helpers.gate_fixtures import make_result, write_result

from audit.errors import AuditError
from audit.result.load import load_audit_json


def test_round_trip(tmp_path):
    assert load_audit_json(write_result(tmp_path / "audit.json")) == make_result()


def _set(path):
    def edit(result, value):
        target = result
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


@pytest.mark.parametrize(("path", "value", "message"), [
    (("schema_version",), "4", "unsupported schema_version '4'; this tool reads '1' or '2' or '3'"),
    (("model_card", "fields"), "x", "key 'model_card.fields' must be an object of field: text or null; got 'x'"),
    (("model_card", "fields", "developers"), 3, "key 'model_card.fields.developers' must be text or null; got 3"),
    (("overall", "accuracy"), "high", "key 'overall.accuracy' must be a number in [0, 1] or null; got 'high'"),
    (("overall", "accuracy"), 1.5, "key 'overall.accuracy' must be a number in [0, 1] or null; got 1.5"),
    (("overall", "accuracy_ci"), [0.7, 0.6], "key 'overall.accuracy_ci' must be [low, high]"),
    (("overall", "n"), 0, "key 'overall.n' must be a positive integer; got 0"),
    (("per_class", 1, "error_rate"), -0.1, "key 'per_class[1].error_rate'"),
    (("per_class", 1, "class"), "wolf", "per_class lists classes ['cat', 'wolf', 'ship']"),
    (("calibration", "ece"), True, "key 'calibration.ece'"),
    (("disparity", 0, "proxy"), "no", "key 'disparity[0].proxy' must be true or false; got 'no'"),
    (("disparity", 0, "groups", 1, "accuracy"), 7, "key 'disparity[0].groups[1].accuracy'"),
    (("checklist", "items"), {}, "key 'checklist.items' must be a list of items"),
    (("baseline",), [], "key 'baseline' must be an object or null"),
])
def test_hand_edited_values_name_the_key_and_value(tmp_path, path, value, message):
    result = make_result()
    _set(path)(result, value)
    with pytest.raises(AuditError) as info:
        load_audit_json(write_result(tmp_path / "audit.json", result))
    assert message in str(info.value) and str(tmp_path / "audit.json") in str(info.value)


@pytest.mark.parametrize("key", ["schema_version", "class_names", "overall", "per_class", "calibration", "disparity"])
def test_missing_top_level_keys(tmp_path, key):
    result = make_result()
    del result[key]
    with pytest.raises(AuditError, match=f"missing key '{key}'"):
        load_audit_json(write_result(tmp_path / "audit.json", result))


def test_missing_nested_key(tmp_path):
    result = make_result()
    del result["per_class"][2]["recall"]
    with pytest.raises(AuditError, match=r"missing key 'per_class\[2\].recall'"):
        load_audit_json(write_result(tmp_path / "audit.json", result))


def test_truncated_empty_nan_and_not_an_object(tmp_path):
    path = write_result(tmp_path / "audit.json")
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(AuditError, match=r"not valid JSON \(truncated or hand-edited\?\): .* at line \d+ column \d+"):
        load_audit_json(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(AuditError, match="empty"):
        load_audit_json(path)
    path.write_text(text.replace('"ece": 0.05', '"ece": NaN'), encoding="utf-8")
    with pytest.raises(AuditError, match="NaN is not allowed"):
        load_audit_json(path)
    path.write_text(json.dumps([1, 2]), encoding="utf-8")
    with pytest.raises(AuditError, match="top level must be a JSON object; got list"):
        load_audit_json(path)
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(AuditError, match="not UTF-8"):
        load_audit_json(path)
    with pytest.raises(AuditError, match="not found"):
        load_audit_json(tmp_path / "missing.json")
