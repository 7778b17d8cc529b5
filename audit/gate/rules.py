"""The rule builders every gate rule is made with: one rule's record (name, value, threshold, passed, skipped,
reason), the comparisons at a threshold that fail closed on an undefined value, and the number formats of
the reasons.

Conventions (also in docs/ci.md): a value exactly at its threshold passes (within ``TOLERANCE``); a value
the audit could not define (null, missing, NaN) fails the rule.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

#: Values within this distance of a threshold count as at the threshold (float rounding, e.g. 0.7 - 0.67).
TOLERANCE = 1e-9
MSG_UNDEFINED = "{what} is undefined (null or missing in the result); failing closed"


def make_rule(name: str, value, threshold, passed: bool, reason: str, skipped: bool = False) -> dict:
    return {"name": name, "value": value, "threshold": threshold, "passed": bool(passed),
            "skipped": bool(skipped), "reason": reason}


def fail_rule(name: str, value, threshold, reason: str) -> dict:
    return make_rule(name, value, threshold, False, reason)


def skip_rule(name: str, reason: str) -> dict:
    return make_rule(name, None, None, True, reason, skipped=True)


def at_least(name: str, what: str, value: float | None, threshold: float) -> dict:
    if value is None:
        return fail_rule(name, None, threshold, MSG_UNDEFINED.format(what=what))
    passed = value >= threshold - TOLERANCE
    op = "≥" if passed else "<"
    return make_rule(name, value, threshold, passed, f"{what} {fmt(value, threshold)} {op} {fmt_threshold(threshold)}")


def at_most(name: str, what: str, value: float | None, threshold: float) -> dict:
    if value is None:
        return fail_rule(name, None, threshold, MSG_UNDEFINED.format(what=what))
    passed = value <= threshold + TOLERANCE
    op = "≤" if passed else ">"
    return make_rule(name, value, threshold, passed, f"{what} {fmt(value, threshold)} {op} {fmt_threshold(threshold)}")


def get(result: dict, key: str) -> Any:
    """``result[key]``, or None where ``result`` is not a mapping."""
    return result.get(key) if isinstance(result, dict) else None


def as_number(value: Any) -> float | None:
    """A finite float, or None for null, missing, non-numbers and NaN (all undefined)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def end(interval: Any, index: int) -> float | None:
    """One end of an interval ``[low, high]`` as a number (None where it is not one)."""
    if isinstance(interval, (list, tuple)) and len(interval) == 2:
        return as_number(interval[index])
    return None


def fmt(value: float | None, threshold: float | None = None) -> str:
    """Three decimals, more where three would make a failing value look equal to its threshold."""
    if value is None:
        return "null"
    text = f"{value:.3f}"
    if threshold is not None and abs(value - threshold) > TOLERANCE and text == f"{threshold:.3f}":
        text = f"{value:.6g}"
    return text


def fmt_threshold(threshold: float) -> str:
    """A threshold as the policy wrote it: two decimals where they are exact, else as short as it goes."""
    return f"{threshold:.2f}" if round(threshold, 2) == threshold else f"{threshold:g}"


def signed(value: float) -> str:
    """A change with its sign, three decimals, a true minus sign."""
    return f"{value:+.3f}".replace("-", "−")


def format_cell(value: Any) -> str:
    """A rule's value or threshold in the plain-text table."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def suggest(word: str, options: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options``, or nothing."""
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
