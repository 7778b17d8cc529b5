"""Tests of the JUnit XML renderer: parsed back, one testcase per rule, counts, failure text, escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from audit.render.junit import render_junit


def rule(name, value, threshold, passed, reason, skipped=False):
    return {"name": name, "value": value, "threshold": threshold, "passed": passed, "skipped": skipped,
            "reason": reason}


GATE = {
    "policy_source": "audit-policy.toml",
    "informational": False,
    "passed": False,
    "rules": [
        rule("min_accuracy", 0.652, 0.6, True, "accuracy CI lower bound 0.652 ≥ 0.60"),
        rule("max_class_error_rate[cat]", 0.55, 0.5, False, "error rate of 'cat' 0.550 > 0.50"),
        rule("max_ece", 0.12, 0.1, False, "ECE before temperature scaling 0.120 > 0.10"),
        rule("baseline_no_regression", None, None, True, "skipped: no baseline given", skipped=True),
    ],
}


def test_one_testcase_per_rule_with_correct_counts():
    root = ET.fromstring(render_junit(GATE).encode("utf-8"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    for element in (root, suite):
        assert element.get("tests") == "4" and element.get("failures") == "2"
        assert element.get("skipped") == "1" and element.get("errors") == "0"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [r["name"] for r in GATE["rules"]]
    assert all(c.get("classname") == "audit" for c in cases)
    assert [c.find("failure") is not None for c in cases] == [False, True, True, False]
    assert cases[3].find("skipped").get("message") == "skipped: no baseline given"
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props == {"policy_source": "audit-policy.toml", "informational": "false", "passed": "false"}


def test_failure_carries_value_versus_threshold():
    suite = ET.fromstring(render_junit(GATE, suite_name="release").encode("utf-8")).find("testsuite")
    assert suite.get("name") == "release"
    failure = suite.findall("testcase")[1].find("failure")
    assert failure.get("message") == "value 0.55 vs threshold 0.5: error rate of 'cat' 0.550 > 0.50"
    assert failure.text == "error rate of 'cat' 0.550 > 0.50"


def test_markup_and_control_characters_are_escaped():
    nasty = 'class <b>"&\'</b>\x00\x1b]]>'
    gate = {"policy_source": "p<&>.toml", "informational": True, "passed": False,
            "rules": [rule(f"max_class_error_rate[{nasty}]", 0.9, 0.5, False, f"error rate of {nasty!r}")]}
    text = render_junit(gate)
    root = ET.fromstring(text.encode("utf-8"))  # parses: nothing broke out of its attribute
    case = root.find("testsuite/testcase")
    assert case.get("name") == "max_class_error_rate[class <b>\"&'</b>\ufffd\ufffd]]>]"
    assert "<b>" not in text


def test_empty_gate_is_a_valid_suite():
    root = ET.fromstring(render_junit({"policy_source": None, "informational": False, "passed": True,
                                       "rules": []}).encode("utf-8"))
    assert root.find("testsuite").get("tests") == "0" and root.find("testsuite/testcase") is None
