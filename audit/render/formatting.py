"""How every renderer writes a number: one function per kind of quantity, and "undefined" for null.

Proportions are percentages with one decimal (0.6612 -> "66.1%"), differences of proportions are
percentage points, ratios and scores (Brier, NLL, T) are plain decimals. None, NaN and infinity are
never printed as such: they read "undefined".
"""

from __future__ import annotations

import math
import re
from typing import Any

from markupsafe import Markup, escape

UNDEFINED = "undefined"


def is_number(x: Any) -> bool:
    """True for a finite int or float (bool excluded)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def undefined(reason: str | None = None) -> str:
    """The text shown for a number that is not defined, with its reason where known."""
    return f"{UNDEFINED} ({reason})" if reason else UNDEFINED


def pct(x: Any, digits: int = 1, reason: str | None = None) -> str:
    """A proportion as a percentage: 0.6612 -> '66.1%'."""
    return f"{100 * x:.{digits}f}%" if is_number(x) else undefined(reason)


def pp(x: Any, digits: int = 1, reason: str | None = None) -> str:
    """A difference of proportions in signed percentage points: -0.031 -> '−3.1 pp'."""
    if not is_number(x):
        return undefined(reason)
    text = f"{100 * x:+.{digits}f} pp"
    return text.replace("-", "\u2212")


def gap(x: Any, digits: int = 1, reason: str | None = None) -> str:
    """An unsigned gap between proportions in percentage points: 0.031 -> '3.1 pp'."""
    return f"{100 * x:.{digits}f} pp" if is_number(x) else undefined(reason)


def dec(x: Any, digits: int = 3, reason: str | None = None) -> str:
    """A plain decimal (ratios, Brier score, NLL, temperature): 0.85312 -> '0.853'."""
    return f"{x:.{digits}f}" if is_number(x) else undefined(reason)


def count(x: Any, reason: str | None = None) -> str:
    """An integer count with thousands separators: 10000 -> '10,000'."""
    if is_number(x) and float(x).is_integer():
        return f"{int(x):,}"
    return undefined(reason)


def ci(interval: Any, digits: int = 1, reason: str | None = None) -> str:
    """A [low, high] interval of proportions: '[64.2%, 68.0%]'."""
    if isinstance(interval, (list, tuple)) and len(interval) == 2 and all(is_number(v) for v in interval):
        return f"[{pct(interval[0], digits)}, {pct(interval[1], digits)}]"
    return undefined(reason)


def value(x: Any) -> str:
    """A value of unknown kind (gate rule values and thresholds, settings): as the user wrote it."""
    if x is None:
        return UNDEFINED
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}" if abs(x) >= 10_000 else str(x)
    if isinstance(x, float):
        return f"{x:.4g}" if math.isfinite(x) else UNDEFINED
    if isinstance(x, (list, tuple)):
        return ", ".join(value(v) for v in x) if x else "none"
    if isinstance(x, dict):
        return ", ".join(f"{k}: {value(v)}" for k, v in x.items()) if x else "none"
    return str(x)


#: A token a browser may break at its hyphen or parenthesis: an option (``--report``), an article number
#: (``10(2)(f)``), a pointer (``/robustness/mean_accuracy``), a number (``1e-15``).
_BREAKABLE = re.compile(r"\S*[-(/]\S*")
#: Longer tokens may still break where they must: kept whole, they could not fit a narrow column.
KEEP_MAX = 28


def keep_tokens(text) -> Markup:
    """``text`` escaped, each token of up to ``KEEP_MAX`` characters that holds a hyphen, parenthesis or slash
    in a ``<span class="nw">`` so that it does not break across lines (the spaces between tokens still wrap)."""
    def keep(m):
        token = m.group(0)
        return f'<span class="nw">{token}</span>' if len(token) <= KEEP_MAX else token

    return Markup(_BREAKABLE.sub(keep, str(escape(str(text)))))


#: An inline raster image (``data:`` URI) that the report may show; anything else in an image field is dropped.
THUMBNAIL = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+=*")


def safe_image(uri) -> str | None:
    """``uri`` when it is an inline raster image (:data:`THUMBNAIL`), else None: a result's image fields reach the
    report only as such (no remote address, no script)."""
    return uri if THUMBNAIL.fullmatch(str(uri or "")) else None


_CODE_SPAN = re.compile(r"`([^`]+)`")


def code_spans(text) -> Markup:
    """``keep_tokens`` of ``text``, with each pair of backticks (the crosswalk's reasons write commands as
    `audit sign ...`) made a ``<code>`` element instead of showing the backticks. The text is split at the pairs
    first, so that no kept token's ``<span>`` straddles a ``<code>`` boundary."""
    parts, last = [], 0
    text = str(text)
    for m in _CODE_SPAN.finditer(text):
        parts.append(str(keep_tokens(text[last:m.start()])))
        parts.append(f"<code>{keep_tokens(m.group(1))}</code>")
        last = m.end()
    parts.append(str(keep_tokens(text[last:])))
    return Markup("".join(parts))


def wrapping_reason(fn):
    """``fn`` (a number format) for HTML: the reason of an undefined number in a ``<span class="why">``, so that a
    numeric cell, which never wraps a number, may wrap the words of ``undefined (no samples)``."""

    def html_format(*args, **kwargs):
        text = fn(*args, **kwargs)
        if text.startswith(UNDEFINED + " ("):
            return Markup(f'{UNDEFINED}<span class="why"> {escape(text[len(UNDEFINED) + 1:])}</span>')
        return text

    return html_format
