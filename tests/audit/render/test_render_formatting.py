"""Tests of number formatting: one consistent text per kind of number, never 'nan' or 'None'."""

from __future__ import annotations

import math

import pytest

from audit.render import formatting as f


@pytest.mark.parametrize("func, x, expected", [
    (f.pct, 0.6612, "66.1%"),
    (f.pct, 1.0, "100.0%"),
    (f.pct, 0, "0.0%"),
    (f.pct, None, "undefined"),
    (f.pct, math.nan, "undefined"),
    (f.pct, math.inf, "undefined"),
    (f.pct, True, "undefined"),
    (f.pp, 0.031, "+3.1 pp"),
    (f.pp, -0.031, "\u22123.1 pp"),
    (f.gap, 0.2004, "20.0 pp"),
    (f.dec, 0.85312, "0.853"),
    (f.count, 10000, "10,000"),
    (f.count, 3.0, "3"),
    (f.count, 2.5, "undefined"),
    (f.ci, [0.642, 0.68], "[64.2%, 68.0%]"),
    (f.ci, None, "undefined"),
    (f.ci, [0.1, None], "undefined"),
    (f.value, 0.66123456, "0.6612"),
    (f.value, 12, "12"),
    (f.value, 123456, "123,456"),
    (f.value, None, "undefined"),
    (f.value, math.nan, "undefined"),
    (f.value, ["a", 1], "a, 1"),
    (f.value, False, "no"),
])
def test_formats(func, x, expected):
    assert func(x) == expected


def test_undefined_with_reason():
    assert f.pct(None, 1, "no samples") == "undefined (no samples)"
    assert f.pct(0.5, 1, "no samples") == "50.0%"


def test_keep_tokens_escapes_then_keeps_hyphenated_tokens_whole():
    out = f.keep_tokens('run `audit sign --report <x>` for Art. 10(2)(f) & co')
    assert str(out) == ('run `audit sign <span class="nw">--report</span> &lt;x&gt;` for Art. '
                        '<span class="nw">10(2)(f)</span> &amp; co')
