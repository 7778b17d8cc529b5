"""Read a stored ``audit.json`` back (for ``audit gate`` and ``--baseline``), checking what they rely on.

A truncated or hand-edited file is an :class:`~audit.errors.AuditError` naming the file, the key path and
the value found, never a traceback and never a gate that passes on numbers it could not read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from audit.errors import AuditError
from audit.result.schema import READABLE_VERSIONS


MSG_NOT_FOUND = "audit.json not found"
MSG_EMPTY = "the file is empty (0 bytes)"
MSG_BAD_JSON = "not valid JSON (truncated or hand-edited?): {error}"
MSG_NOT_OBJECT = "the top level must be a JSON object; got {kind}"
MSG_VERSION = "unsupported schema_version {value!r}; this tool reads {expected}"
MSG_MISSING = "missing key {key!r}"
MSG_BAD_VALUE = "key {key!r} must be {expected}; got {value!r}"
MSG_CLASSES = "per_class lists classes {found} but class_names is {expected}"


def load_audit_json(path: str | Path) -> dict:
    """Load an ``audit.json`` written by ``audit run`` and validate the keys the gate and baseline read.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    dict
        The parsed result, unchanged.

    Raises
    ------
    AuditError
        If the file is missing, empty, not JSON (line and column given), of another schema version, or a
        key the gate needs is missing or holds a value of the wrong type or range.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AuditError(MSG_NOT_FOUND, path=path) from None
    except OSError as exc:
        raise AuditError(f"cannot read: {exc.strerror or exc}", path=path) from None
    if not data:
        raise AuditError(MSG_EMPTY, path=path)
    try:
        result = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise AuditError(MSG_BAD_JSON.format(error=f"not UTF-8 text at byte {exc.start}"), path=path) from None
    except json.JSONDecodeError as exc:
        raise AuditError(MSG_BAD_JSON.format(error=f"{exc.msg} at line {exc.lineno} column {exc.colno}"),
                         path=path) from None
    except ValueError as exc:
        raise AuditError(MSG_BAD_JSON.format(error=exc), path=path) from None
    return validate_result(result, source=path)


def validate_result(result: Any, *, source: str | Path | None = None) -> dict:
    """Check a result already in memory as :func:`load_audit_json` checks a file; return it unchanged.

    Raises
    ------
    AuditError
        Naming ``source`` (when given), the key path and the value found.
    """
    try:
        _validate(result)
    except _Invalid as exc:
        raise AuditError(str(exc), path=source) from None
    return result


class _Invalid(Exception):
    pass


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed (undefined numbers are null)")


def _validate(result: Any) -> None:
    if not isinstance(result, dict):
        raise _Invalid(MSG_NOT_OBJECT.format(kind=type(result).__name__))
    if "schema_version" not in result:
        raise _Invalid(MSG_MISSING.format(key="schema_version"))
    if result["schema_version"] not in READABLE_VERSIONS:
        raise _Invalid(MSG_VERSION.format(value=result["schema_version"],
                                          expected=" or ".join(map(repr, READABLE_VERSIONS))))

    names = _require(result, "class_names", "", list, "a non-empty list of class names")
    if not names or not all(isinstance(n, str) for n in names):
        raise _Invalid(MSG_BAD_VALUE.format(key="class_names", expected="a non-empty list of strings", value=names))

    overall = _require(result, "overall", "", dict, "an object")
    n = _require(overall, "n", "overall.", int, "a positive integer")
    if isinstance(n, bool) or n < 1:
        raise _Invalid(MSG_BAD_VALUE.format(key="overall.n", expected="a positive integer", value=n))
    _fraction(overall, "accuracy", "overall.")
    _interval(overall, "accuracy_ci", "overall.")

    per_class = _require(result, "per_class", "", list, "a list with one entry per class")
    found = [e.get("class") if isinstance(e, dict) else e for e in per_class]
    if found != names:
        raise _Invalid(MSG_CLASSES.format(found=found, expected=names))
    for i, entry in enumerate(per_class):
        prefix = f"per_class[{i}]."
        support = _require(entry, "support", prefix, int, "a non-negative integer")
        if isinstance(support, bool) or support < 0:
            raise _Invalid(MSG_BAD_VALUE.format(key=prefix + "support", expected="a non-negative integer",
                                                value=support))
        _fraction(entry, "error_rate", prefix)
        _fraction(entry, "recall", prefix)
        _interval(entry, "error_rate_ci", prefix)

    calibration = _require(result, "calibration", "", dict, "an object")
    _number(calibration, "ece", "calibration.", 0.0, 1.0)
    after = calibration.get("after_scaling")
    if after is not None:
        if not isinstance(after, dict):
            raise _Invalid(MSG_BAD_VALUE.format(key="calibration.after_scaling", expected="an object or null",
                                                value=after))
        _number(after, "ece", "calibration.after_scaling.", 0.0, 1.0)

    disparity = _require(result, "disparity", "", list, "a list (empty when there are no groupings)")
    for i, entry in enumerate(disparity):
        prefix = f"disparity[{i}]."
        if not isinstance(entry, dict):
            raise _Invalid(MSG_BAD_VALUE.format(key=f"disparity[{i}]", expected="an object", value=entry))
        _require(entry, "name", prefix, str, "a string")
        _require(entry, "proxy", prefix, bool, "true or false")
        _fraction(entry, "difference", prefix)
        _number(entry, "ratio", prefix, 0.0, 1.0)
        groups = _require(entry, "groups", prefix, list, "a list of groups")
        for j, group in enumerate(groups):
            _require(group, "group", f"{prefix}groups[{j}].", str, "a string")
            _fraction(group, "accuracy", f"{prefix}groups[{j}].")

    checklist = result.get("checklist")
    if checklist is not None:
        if not isinstance(checklist, dict):
            raise _Invalid(MSG_BAD_VALUE.format(key="checklist", expected="an object or null", value=checklist))
        items = _require(checklist, "items", "checklist.", list, "a list of items")
        for i, item in enumerate(items):
            _require(item, "id", f"checklist.items[{i}].", str, "a string")
            _require(item, "status", f"checklist.items[{i}].", str, "a string")

    model_card = result.get("model_card")  # absent in files written before the model card existed
    if model_card is not None:
        fields = _require(model_card, "fields", "model_card.", dict, "an object of field: text or null")
        for key, text in fields.items():
            if text is not None and not isinstance(text, str):
                raise _Invalid(MSG_BAD_VALUE.format(key=f"model_card.fields.{key}", expected="text or null",
                                                    value=text))

    baseline = result.get("baseline")
    if baseline is not None and not isinstance(baseline, dict):
        raise _Invalid(MSG_BAD_VALUE.format(key="baseline", expected="an object or null", value=baseline))
    _validate_selective(result.get("selective"))
    if result.get("robustness") is not None:
        _robustness(result["robustness"])


def _validate_selective(selective: Any) -> None:
    """The keys of the optional ``selective`` section that the gate reads (absent: the rule fails closed)."""
    if selective is None:
        return
    if not isinstance(selective, dict):
        raise _Invalid(MSG_BAD_VALUE.format(key="selective", expected="an object or null", value=selective))
    _number(selective, "target_accuracy", "selective.", 0.0, 1.0)
    _fraction(selective, "coverage", "selective.")
    for i, entry in enumerate(_require(selective, "by_group", "selective.", list, "a list of groupings")):
        prefix = f"selective.by_group[{i}]."
        _require(entry, "name", prefix, str, "a string")
        _require(entry, "proxy", prefix, bool, "true or false")
        for j, group in enumerate(_require(entry, "groups", prefix, list, "a list of groups")):
            _require(group, "group", f"{prefix}groups[{j}].", str, "a string")
            n = _require(group, "n", f"{prefix}groups[{j}].", int, "a non-negative integer")
            if n < 0:
                raise _Invalid(MSG_BAD_VALUE.format(key=f"{prefix}groups[{j}].n", expected="a non-negative integer",
                                                    value=n))
            _fraction(group, "review_load", f"{prefix}groups[{j}].")


def _robustness(section: Any) -> None:
    """The keys of ``robustness`` the gate reads (docs/audit-json.md)."""
    _require({"robustness": section}, "robustness", "", dict, "an object or null")
    _fraction(section, "mean_accuracy", "robustness.")
    _number(section, "mean_ece", "robustness.", 0.0, 1.0)
    _number(section, "mean_ece_after_scaling", "robustness.", 0.0, 1.0)
    _fraction(_require(section, "clean", "robustness.", dict, "an object"), "accuracy", "robustness.clean.")
    for i, cell in enumerate(_require(section, "cells", "robustness.", list, "a list of cells")):
        prefix = f"robustness.cells[{i}]."
        _require(cell, "corruption", prefix, str, "a string")
        _require(cell, "severity", prefix, int, "an integer in 1-5")
        _fraction(cell, "accuracy", prefix)


def _require(obj: Any, key: str, prefix: str, kind: type, expected: str) -> Any:
    if not isinstance(obj, dict):
        raise _Invalid(MSG_BAD_VALUE.format(key=prefix.rstrip("."), expected="an object", value=obj))
    if key not in obj:
        raise _Invalid(MSG_MISSING.format(key=prefix + key))
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Invalid(MSG_BAD_VALUE.format(key=prefix + key, expected=expected, value=value))
    return value


def _number(obj: dict, key: str, prefix: str, lo: float, hi: float) -> None:
    if key not in obj:
        raise _Invalid(MSG_MISSING.format(key=prefix + key))
    value = obj[key]
    if value is None:
        return
    ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
          and lo <= value <= hi)
    if not ok:
        raise _Invalid(MSG_BAD_VALUE.format(key=prefix + key, expected=f"a number in [{lo:g}, {hi:g}] or null",
                                            value=value))


def _fraction(obj: dict, key: str, prefix: str) -> None:
    _number(obj, key, prefix, 0.0, 1.0)


def _interval(obj: dict, key: str, prefix: str) -> None:
    if key not in obj:
        raise _Invalid(MSG_MISSING.format(key=prefix + key))
    value = obj[key]
    if value is None:
        return
    ok = (isinstance(value, list) and len(value) == 2
          and all(not isinstance(v, bool) and isinstance(v, (int, float)) and 0 <= v <= 1 for v in value)
          and value[0] <= value[1])
    if not ok:
        raise _Invalid(MSG_BAD_VALUE.format(key=prefix + key, expected="[low, high] with 0 ≤ low ≤ high ≤ 1 or null",
                                            value=value))
