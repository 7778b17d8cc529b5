"""JUnit XML of the release verdict: one testcase per gate rule, so CI systems show the gate natively."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

# Characters XML 1.0 cannot hold at all, even escaped; they are replaced so the file always parses.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def render_junit(gate: dict, *, suite_name: str = "audit") -> str:
    """Render the ``gate`` section as a JUnit XML document.

    Parameters
    ----------
    gate : dict
        ``{policy_source, informational, passed, rules[]: {name, value, threshold, passed, skipped, reason}}``
        as returned by :func:`audit.gate.verdict.evaluate`.
    suite_name : str, default "audit"
        Name of the test suite; also the ``classname`` of every testcase.

    Returns
    -------
    str
        ``<testsuites>`` holding one ``<testsuite>``: a ``<testcase>`` per rule, with a ``<failure>`` whose
        ``message`` carries value versus threshold for a failed rule and ``<skipped>`` for a skipped one.
    """
    rules = gate.get("rules", [])
    n_failed = sum(1 for r in rules if not r.get("passed"))
    n_skipped = sum(1 for r in rules if r.get("skipped"))
    counts = {"tests": str(len(rules)), "failures": str(n_failed), "errors": "0", "skipped": str(n_skipped)}
    root = ET.Element("testsuites", {"name": _clean(suite_name), **counts})
    suite = ET.SubElement(root, "testsuite", {"name": _clean(suite_name), **counts})
    props = ET.SubElement(suite, "properties")
    for key in ("policy_source", "informational", "passed"):
        ET.SubElement(props, "property", {"name": key, "value": _clean(_text(gate.get(key)))})
    for rule in rules:
        case = ET.SubElement(suite, "testcase", {"classname": _clean(suite_name), "name": _clean(str(rule["name"]))})
        reason = _clean(str(rule.get("reason", "")))
        if rule.get("skipped"):
            ET.SubElement(case, "skipped", {"message": reason})
        elif not rule.get("passed"):
            message = f"value {_text(rule.get('value'))} vs threshold {_text(rule.get('threshold'))}: {reason}"
            failure = ET.SubElement(case, "failure", {"message": _clean(message), "type": "GateRuleFailed"})
            failure.text = reason
        else:
            ET.SubElement(case, "system-out").text = reason
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _text(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)
