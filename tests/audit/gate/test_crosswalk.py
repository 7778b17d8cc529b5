"""The regulatory crosswalk: the mapping lists the issue's items, every pointer resolves on the golden audit.json
files, a null is never "evidence", team rows name the missing answer, 2(g) waits for a sign-off."""

from __future__ import annotations

import copy
import json
import typing
from pathlib import Path

import pytest

from audit.gate.crosswalk import STATUSES, counts, crosswalk_section, mapping, resolve
from audit.result.schema import AuditJSON

GOLDEN = sorted((Path(__file__).resolve().parents[2] / "golden" / "expected").glob("*/audit.json"))
ITEMS = {
    "EU AI Act": [f"Annex IV {p}" for p in ("1", "2(a)", "2(b)", "2(c)", "2(d)", "2(e)", "2(f)", "2(g)", "2(h)", "3", "4",
                                          "5", "6", "7", "8", "9")]
    + ["Art. 10(2)(f)", "Art. 10(2)(g)", "Art. 10(2)(h)", "Art. 10(3)", "Art. 13(3)(b)", "Art. 14(4)", "Art. 15(1)",
       "Art. 15(3)", "Art. 15(4)"],
    "NIST AI RMF 1.0": ["MAP 2.3", "MAP 3.5", "MEASURE 2.1", "MEASURE 2.3", "MEASURE 2.5", "MEASURE 2.6",
                        "MEASURE 2.9", "MEASURE 2.11", "MEASURE 2.13", "MANAGE 1.1", "MANAGE 2.4", "MANAGE 4.1"],
    "ISO/IEC 42001:2023": ["A.5.4", "A.6.2.4", "A.6.2.6", "A.6.2.7", "A.6.2.8", "A.7.4", "A.7.5", "A.8.2"],
}


def _optional_or_list(pointer: str) -> bool:
    """The pointer's path is declared by the schema; any part it lacks in a document is an optional section or
    a list element (an empty list is allowed)."""
    hints: typing.Any = AuditJSON
    for token in pointer[1:].split("/"):
        origin = typing.get_origin(hints)
        while origin in (typing.Union, __import__("types").UnionType, typing.NotRequired):  # unwrap, then descend
            hints = (typing.get_args(hints)[0] if origin is typing.NotRequired
                     else next(a for a in typing.get_args(hints) if a is not type(None)))
            origin = typing.get_origin(hints)
        if hints is typing.Any:
            return True  # a free-form mapping (hyperparameters): any key
        if origin is list:
            assert token.isdigit(), pointer
            hints = typing.get_args(hints)[0]
        elif origin is dict:
            hints = typing.get_args(hints)[1]
        elif typing.is_typeddict(hints):
            declared = typing.get_type_hints(hints, include_extras=True)
            assert token in declared, f"{pointer}: {token!r} is not a declared key"
            hints = declared[token]
        else:
            raise AssertionError(f"{pointer}: nothing to descend into at {token!r}")
    return True


def test_the_mapping_lists_every_item_of_the_issue_once():
    spec = mapping()
    assert spec["version"] == "2" and "not a legal conformity assessment" in spec["disclaimer"]
    assert "risk level" in spec["disclaimer"]
    for framework, items in ITEMS.items():
        listed = [r["item"] for r in spec["rows"] if r["framework"] == framework]
        assert set(items) <= set(listed), set(items) - set(listed)
    for row in spec["rows"]:
        for pointer in row.get("evidence", []):
            assert _optional_or_list(pointer)


def test_fields_name_real_checklist_items_and_sections_real_report_sections():
    from audit.gate.checklist import ITEMS_BY_ID
    from audit.render.html import SECTIONS

    sections = {id_ for id_, _ in SECTIONS}
    for row in mapping()["rows"]:
        for field in row.get("fields", []):
            if field.startswith("checklist."):
                assert field.partition(".")[2] in ITEMS_BY_ID, (row["item"], field)
        assert row.get("section") is None or row["section"] in sections, (row["item"], row.get("section"))
        for pointer in row.get("evidence", []):  # single values: a whole object is present in every audit
            assert pointer not in ("/provenance", "/conventions", "/gate/rules", "/gate"), (row["item"], pointer)


def test_rows_about_people_need_a_group_column_of_people_not_image_property_proxies():
    data = _model_audit_like(json.loads(next(p for p in GOLDEN if p.parent.name == "npz-groups").read_text()))
    people = [r["item"] for r in mapping()["rows"] if r.get("people")]
    assert set(people) == {"Annex IV 3", "Art. 10(2)(f)", "MEASURE 2.11", "A.5.4"}
    rows = {r["item"]: r for r in crosswalk_section(data)["rows"]}
    assert all(rows[i]["status"] in ("evidence", "team") for i in people)  # group columns region, site
    proxies = copy.deepcopy(data)
    proxies["disparity"] = [dict(d, name=n, kind="image property", proxy=True)
                            for d, n in zip(data["disparity"], ("brightness", "contrast"))]
    rows = {r["item"]: r for r in crosswalk_section(proxies)["rows"]}
    for item in people:
        assert rows[item]["status"] == "gap", item
        assert rows[item]["reason"].startswith("no group column of the people concerned was audited; the "
                                               "image-property slices measured (brightness, contrast) are proxies")
        assert "--group-col" in rows[item]["reason"]  # what would fill it
    proxies["disparity"] = []
    assert crosswalk_section(proxies)["rows"][[r["item"] for r in mapping()["rows"]].index("A.5.4")]["reason"] \
        .startswith("no group column of the people concerned was audited (name")


def test_a_null_gap_says_what_would_fill_it():
    data = json.loads(next(p for p in GOLDEN if p.parent.name == "npz-groups").read_text())
    rows = {r["item"]: r for r in crosswalk_section(data)["rows"]}
    assert data["provenance"]["data_sha256"] is None  # a predictions audit
    assert rows["A.7.5"]["status"] == "gap"
    assert "undefined (null) in this audit: /provenance/data_sha256 (a model audit hashes its test images" \
        in rows["A.7.5"]["reason"]


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.parent.name)
def test_every_pointer_resolves_on_every_golden_audit_json(path):
    data = json.loads(path.read_text())
    section = data["crosswalk"]
    assert section == crosswalk_section(data)  # what the file holds is what the mapping gives
    for row in section["rows"]:
        for pointer in row["evidence"]:
            try:
                value = resolve(data, pointer)
            except KeyError:
                # absent here (an optional or null section, an empty list), declared by the schema: never evidence
                assert row["status"] != "evidence" and _optional_or_list(pointer), (row["item"], pointer)
                continue
            if row["status"] == "evidence":
                assert value is not None, (row["item"], pointer)
        assert row["status"] in STATUSES and row["reason"]


def _model_audit_like(data: dict) -> dict:
    """A golden result with what a model audit of the seed network adds: training record, image hash,
    robustness and image-property slices."""
    data = copy.deepcopy(data)
    data["provenance"]["training"] = {"seed": 42, "limit": None, "hyperparameters": {}, "test": None,
                                      "mean_seconds_per_epoch": 1.0, "n_train": 40000}
    data["provenance"]["data_sha256"] = "ab" * 32
    data["robustness"] = {"mean_accuracy": 0.5, "corruptions": ["gaussian_noise"]}
    return data


def test_a_model_audit_has_at_least_20_evidence_rows_and_a_null_is_never_evidence():
    data = _model_audit_like(json.loads(next(p for p in GOLDEN if p.parent.name == "npz-groups").read_text()))
    assert data["disparity"]
    assert counts(crosswalk_section(data))["evidence"] >= 20
    # the seed model's own audit (no group columns of people: CIFAR-10) is checked end to end in
    # tests/model/test_image_audit.py
    data["overall"]["accuracy"] = None
    data["robustness"]["mean_accuracy"] = None
    for row in crosswalk_section(data)["rows"]:
        if "/overall/accuracy" in row["evidence"] or "/robustness/mean_accuracy" in row["evidence"]:
            assert row["status"] == "gap" and "undefined (null) in this audit" in row["reason"]


def test_team_rows_say_which_answer_is_missing_and_2g_waits_for_a_sign_off():
    data = json.loads(GOLDEN[0].read_text())
    rows = {r["item"]: r for r in crosswalk_section(data)["rows"]}
    assert rows["Annex IV 1"]["status"] == "team"
    assert "model-card fields intended_use, developers, version" in rows["Annex IV 1"]["reason"]
    assert rows["Annex IV 7"]["status"] == "team" and "checklist answer oversight-1" in rows["Annex IV 7"]["reason"]
    assert rows["Annex IV 2(g)"]["status"] == "team" and "audit sign" in rows["Annex IV 2(g)"]["reason"]
    assert rows["Annex IV 8"]["status"] == "out of scope" and rows["Art. 15(5)"]["status"] == "out of scope"
    data["model_card"]["fields"].update(intended_use="x", developers="y", version="1")
    signed = crosswalk_section(data, signoffs=[{"by": "A", "role": "owner", "at": "2026-01-01T00:00:00+00:00"}])
    rows = {r["item"]: r for r in signed["rows"]}
    assert rows["Annex IV 1"]["status"] == "evidence"
    assert rows["Annex IV 2(g)"]["status"] == "evidence" and "signed by A (owner" in rows["Annex IV 2(g)"]["reason"]


def test_resolve_follows_rfc_6901():
    doc = {"a/b": {"m~n": [10, 20]}, "": 1}
    assert resolve(doc, "/a~1b/m~0n/1") == 20 and resolve(doc, "/") == 1 and resolve(doc, "") == doc
    for bad in ("/a~1b/m~0n/2", "/a~1b/m~0n/01", "/x"):
        with pytest.raises(KeyError):
            resolve(doc, bad)


def test_a_no_answer_is_named_and_a_row_resting_on_it_alone_is_a_gap():
    data = json.loads(GOLDEN[0].read_text())
    items = {item["id"]: item for item in data["checklist"]["items"]}
    items["oversight-4"]["status"] = "no"  # "is post-release monitoring in place?" -- no
    items["oversight-2"]["status"] = "yes"
    rows = {r["item"]: r for r in crosswalk_section(data)["rows"]}
    assert rows["MANAGE 4.1"]["status"] == "gap"
    assert rows["MANAGE 4.1"]["reason"] == ('the team answered "no" to the checklist item oversight-4 (the '
                                            'justification is in the checklist)')
    assert rows["MANAGE 2.4"]["status"] == "evidence" and rows["MANAGE 2.4"]["reason"] == "answered by the team"
