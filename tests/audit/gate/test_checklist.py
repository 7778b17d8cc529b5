"""Tests of the ethics checklist: items, the answers template, loading answers and every kind of bad file."""

from __future__ import annotations

import re
import tomllib

import pytest

from audit.gate import checklist as ck
from audit.errors import AuditError

GOOD = '''\
# a comment
[[answer]]
id = "consent-1"
status = "yes"
evidence = "Consent forms, DPO ticket 12"
answered_by = "A. Reviewer"
answered_on = 2024-05-31

[[answer]]
id = "bias-1"
status = "no"
evidence = "Gap on dark images under investigation"
answered_by = "B. Lead"
answered_on = "2024-06-01"

[[answer]]
id = "surveillance-4"
status = "not applicable"
evidence = "Offline benchmark only; no images retained"
answered_by = "C"
answered_on = 2024-06-02
'''


def write(tmp_path, text, name="answers.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_five_categories_each_with_at_least_three_items_and_stable_ids():
    assert ck.CATEGORIES == ("Informed consent", "Surveillance and tracking", "Bias and discrimination",
                             "Misuse of data", "Lack of regulation and oversight")
    for category in ck.CATEGORIES:
        assert sum(item.category == category for item in ck.ITEMS) >= 3
    ids = [item.id for item in ck.ITEMS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+-\d+", i) for i in ids)
    assert {"consent-1", "surveillance-1", "bias-1", "data-1", "oversight-1"} <= set(ids)


def test_bias_items_link_to_disparity_and_references_are_known():
    for item in ck.ITEMS:
        if item.id == "bias-4":  # the human-review item links to the selective (review load) section
            assert item.links_to == "selective"
        elif item.id == "bias-5":  # issue 23: suspected label errors
            assert item.links_to == "label-quality"
        elif item.id == "bias-6":  # issue 23: discovered weak slices
            assert item.links_to == "weak-slices"
        else:
            assert (item.links_to == "disparity") == (item.category == "Bias and discrimination")
        assert item.reference is None or item.reference in ck.REFERENCES
    cited = {item.reference for item in ck.ITEMS} - {None}
    assert cited == set(ck.REFERENCES)


def test_template_lists_every_item_and_loads_as_all_open(tmp_path):
    text = ck.template_text()
    from audit.gate.model_card import FIELDS
    assert tomllib.loads(text) == {"model_card": dict.fromkeys(FIELDS, "")}  # every answer commented out
    for item in ck.ITEMS:
        assert f'# id = "{item.id}"' in text
    section = ck.checklist_section(ck.load_checklist(write(tmp_path, text)))
    assert section["n_open"] == len(ck.ITEMS)


def test_template_uncommented_block_loads(tmp_path):
    text = ck.template_text()
    block = '# [[answer]]\n# id = "data-2"\n# status = "yes"\n# evidence = ""\n# answered_by = ""\n# answered_on = 2024-01-01\n'
    assert block in text
    text = text.replace(block, block.replace("# ", "").replace('answered_by = ""', 'answered_by = "me"'))
    loaded = ck.load_checklist(write(tmp_path, text))
    assert loaded["answers"]["data-2"] == {"status": "yes", "evidence": None, "answered_by": "me",
                                           "answered_on": "2024-01-01"}


def test_load_good_file_and_section(tmp_path):
    path = write(tmp_path, GOOD)
    loaded = ck.load_checklist(path)
    assert loaded["source"] == str(path)
    assert loaded["answers"]["consent-1"]["answered_on"] == "2024-05-31"
    assert loaded["answers"]["bias-1"]["answered_on"] == "2024-06-01"
    section = ck.checklist_section(loaded)
    assert section["source"] == str(path)
    assert section["n_open"] == len(ck.ITEMS) - 3
    by_id = {i["id"]: i for i in section["items"]}
    assert by_id["bias-1"]["status"] == "no"
    assert by_id["bias-1"]["links_to"] == "disparity"
    assert by_id["surveillance-4"]["status"] == "not applicable"
    assert by_id["data-1"] == {**by_id["data-1"], "status": "open", "evidence": None, "answered_by": None,
                               "answered_on": None}
    assert [i["id"] for i in section["items"]] == [item.id for item in ck.ITEMS]


def test_section_without_answers_is_all_open():
    section = ck.checklist_section(None)
    assert section["source"] is None
    assert section["n_open"] == len(ck.ITEMS)
    assert {i["status"] for i in section["items"]} == {"open"}


def _replace(old, new):
    assert old in GOOD
    return GOOD.replace(old, new, 1)


def _as_regex(message):
    """A message constant as a regex: each {field} matches anything."""
    return ".*".join(re.escape(part) for part in re.split(r"\{[^}]*\}", message))


BAD = [
    # (name, text, message constant, line, item id or None)
    ("syntax", _replace('status = "yes"', 'status = "yes'), ck.MSG_SYNTAX, 4, None),
    ("syntax-eof", GOOD + "x = ", ck.MSG_SYNTAX, 22, None),
    ("unknown-id", _replace('id = "bias-1"', 'id = "bias-99"'), ck.MSG_UNKNOWN_ID, 10, "bias-99"),
    ("missing-field", _replace('answered_by = "B. Lead"\n', ""), ck.MSG_MISSING_FIELD, 9, "bias-1"),
    ("missing-id", _replace('id = "bias-1"\n', ""), ck.MSG_MISSING_ID, 9, None),
    ("unknown-field", _replace('evidence = "Gap', 'evidance = "Gap'), ck.MSG_UNKNOWN_FIELD, 12, "bias-1"),
    ("bad-status", _replace('status = "no"', 'status = "No"'), ck.MSG_BAD_STATUS, 11, "bias-1"),
    ("open-status", _replace('status = "no"', 'status = "open"'), ck.MSG_BAD_STATUS, 11, "bias-1"),
    ("no-evidence", _replace('evidence = "Gap on dark images under investigation"', 'evidence = "  "'),
     ck.MSG_NO_EVIDENCE, 12, "bias-1"),
    ("na-without-evidence", _replace('evidence = "Offline benchmark only; no images retained"\n', ""),
     ck.MSG_NO_EVIDENCE, 16, "surveillance-4"),
    ("duplicate", _replace('id = "surveillance-4"', 'id = "consent-1"'), ck.MSG_DUPLICATE, 17, "consent-1"),
    ("bad-date", _replace('answered_on = "2024-06-01"', 'answered_on = "2024-13-01"'), ck.MSG_BAD_DATE, 14,
     "bias-1"),
    ("date-text", _replace('answered_on = "2024-06-01"', 'answered_on = "last week"'), ck.MSG_BAD_DATE, 14,
     "bias-1"),
    ("date-number", _replace('answered_on = "2024-06-01"', 'answered_on = 20240601'), ck.MSG_BAD_DATE, 14,
     "bias-1"),
    ("empty-answered-by", _replace('answered_by = "C"', 'answered_by = ""'), ck.MSG_BAD_TEXT, 20,
     "surveillance-4"),
    ("id-not-string", _replace('id = "bias-1"', "id = 3"), ck.MSG_BAD_ID, 10, None),
    ("top-level-key", "version = 2\n" + GOOD, ck.MSG_TOP_LEVEL, 1, None),
]


@pytest.mark.parametrize("name, text, message, line, item", BAD, ids=[b[0] for b in BAD])
def test_bad_answers_file_names_file_line_and_item(tmp_path, name, text, message, line, item):
    path = write(tmp_path, text)
    with pytest.raises(AuditError) as info:
        ck.load_checklist(path)
    err = info.value
    assert err.path == str(path)
    assert str(err).startswith(f"{path}: ")
    assert f"line {line}" in err.message
    assert re.fullmatch(_as_regex(message), err.message), (message, err.message)
    if item is not None:
        assert repr(item) in err.message
    assert "\n" not in str(err)


def test_answer_not_an_array_of_tables(tmp_path):
    with pytest.raises(AuditError, match="array of tables"):
        ck.load_checklist(write(tmp_path, 'answer = "yes"\n'))


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(AuditError, match=ck.MSG_NOT_FOUND):
        ck.load_checklist(tmp_path / "nope.toml")
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'# caf\xe9\n')
    with pytest.raises(AuditError, match=ck.MSG_NOT_UTF8):
        ck.load_checklist(path)
