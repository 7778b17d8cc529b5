"""Tables that fit (issue 21): no word or number of up to 8 characters breaks across lines, and the page is no
wider than the window, at 1280 px on screen, at 820 px (JupyterLab's report frame beside its file browser in a
1280 px window) and at A4 print width; measured in Chromium
(tests/helpers/layout.py). The golden reports are current renders (tests/golden checks that)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.layout import measure

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "expected"


@pytest.mark.slow
@pytest.mark.parametrize("case", ["csv-policy-checklist", "npz-groups", "baseline-json"])
def test_no_short_token_breaks_across_lines(chromium, case):
    assert measure(chromium, GOLDEN / case / "report.html") == {"screen 1280 px": [], "screen 820 px": [],
                                                                "print 794 px": []}
