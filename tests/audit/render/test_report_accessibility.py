"""report.html passes axe-core's accessibility rules in headless Chromium (Debian's, driven by Playwright):
0 violations. axe-core is the npm package, installed offline into .tools/ by scripts/test.sh; the report's
CSP forbids scripts, so the page's context bypasses the CSP to inject axe.min.js (the report's own scripts,
it has none, would run too: test_report_chromium checks the CSP itself)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers.browser import RecordingPage, requires_browser

from audit.render.html import render_html

REPO = Path(__file__).resolve().parents[3]
TOOLS = Path(os.environ.get("AUDIT_TOOLS_DIR", REPO / ".tools"))
AXE = TOOLS / "node_modules" / "axe-core" / "axe.min.js"

pytestmark = [
    pytest.mark.slow,
    requires_browser,
    pytest.mark.skipif(not AXE.is_file(),
                       reason=f"npm package axe-core not installed in {TOOLS} (scripts/test.sh installs it with npm)"),
]


def axe_version() -> str:
    return json.loads((AXE.parent / "package.json").read_text(encoding="utf-8"))["version"]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} nodes] {v['helpUrl']}")
        lines += [f"    {node['target']}: " + " ".join(line.strip() for line in node.get("failureSummary", "").splitlines())
                  for node in v["nodes"]]
    return "\n".join(lines)


def run_axe(chromium, page: Path) -> tuple[dict, list[str]]:
    """axe.run() over ``page`` (violations only); the results and the page's console errors."""
    with RecordingPage(chromium, bypass_csp=True) as recording:
        report = recording.goto(page)
        recording.page.add_script_tag(path=str(AXE))
        found = recording.page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    assert found["testEngine"]["version"] == axe_version()
    return found, report.errors


def test_report_has_no_axe_violations(chromium, tmp_path, result):
    page = tmp_path / "report.html"
    page.write_text(render_html(result), encoding="utf-8")
    found, errors = run_axe(chromium, page)
    assert errors == []
    assert found["violations"] == [], f"axe-core {axe_version()}:\n{describe(found['violations'])}"


def test_axe_does_report_violations(chromium, tmp_path):
    """A negative control: the same run finds what a page gets wrong."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><title>t</title></head><body><main><h1>t</h1>'
                    '<p style="color:#bbb">faint</p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
                    '</main></body></html>', encoding="utf-8")
    found, _ = run_axe(chromium, page)
    assert {"html-has-lang", "image-alt", "color-contrast"} <= {v["id"] for v in found["violations"]}
