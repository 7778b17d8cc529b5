import json

import pytest

from audit.errors import AuditError
from audit.result.load import load_audit_json
from helpers.gate_fixtures import make_result


def write(tmp_path, result):
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    return path


def test_selective_section_is_optional_and_read_back(tmp_path):
    result = make_result()
    assert load_audit_json(write(tmp_path, result))["selective"]["coverage"] == 0.6
    del result["selective"]
    assert "selective" not in load_audit_json(write(tmp_path, result))


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.update(coverage=1.5), "key 'selective.coverage' must be a number in [0, 1] or null; got 1.5"),
    (lambda s: s.pop("target_accuracy"), "missing key 'selective.target_accuracy'"),
    (lambda s: s["by_group"][0]["groups"][0].update(review_load="40%"),
     "key 'selective.by_group[0].groups[0].review_load' must be a number in [0, 1] or null; got '40%'"),
    (lambda s: s["by_group"][0]["groups"][1].update(n=-3),
     "key 'selective.by_group[0].groups[1].n' must be a non-negative integer; got -3"),
    (lambda s: s["by_group"][1].update(proxy="yes"), "key 'selective.by_group[1].proxy' must be true or false"),
])
def test_hand_edited_selective_section_is_named(tmp_path, edit, message):
    result = make_result()
    edit(result["selective"])
    with pytest.raises(AuditError) as info:
        load_audit_json(write(tmp_path, result))
    assert message in str(info.value)
