"""report.html in a real headless Chromium (Debian's, driven by Playwright) with networking disabled: no
console errors, no request other than the file itself (data: thumbnails are inline), a non-blank screenshot;
and the CSP really blocks."""

from __future__ import annotations

import io

import pytest
from helpers.browser import open_page, requires_browser
from PIL import Image

from audit.render.html import CSP, render_html

pytestmark = [pytest.mark.slow, requires_browser]


def network_requests(report, page) -> list[str]:
    """Requests that left the page: not the file itself, not inline data:, not blocked by the browser."""
    return [u for u in report.requests
            if u != page.as_uri() and not u.startswith("data:") and u not in report.blocked]


def test_report_opens_without_errors_or_requests(chromium, tmp_path, result):
    page = tmp_path / "report.html"
    page.write_text(render_html(result), encoding="utf-8")
    report = open_page(chromium, page)
    assert report.errors == []
    assert network_requests(report, page) == [] and report.blocked == {}
    assert page.as_uri() in report.requests
    shot = tmp_path / "report.png"
    shot.write_bytes(report.screenshot)
    image = Image.open(io.BytesIO(report.screenshot)).convert("RGB")
    assert image.size == (1280, 4000)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50  # not blank: text, charts and thumbnails drawn


def test_hostile_report_runs_nothing(chromium, tmp_path, hostile):
    page = tmp_path / "hostile.html"
    page.write_text(render_html(hostile), encoding="utf-8")
    report = open_page(chromium, page, height=2000)
    assert report.errors == []
    assert network_requests(report, page) == []
    assert not any("alert" in text for _, text in report.console)


def test_csp_blocks_script_and_network_even_if_injected(chromium, tmp_path):
    """A negative control: the harness sees violations, and the report's CSP stops them."""
    page = tmp_path / "injected.html"
    page.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}"></head><body>'
        '<img src="http://example.com/x.png"><script>console.log("ran")</script></body></html>',
        encoding="utf-8")
    report = open_page(chromium, page, height=300)
    assert network_requests(report, page) == []
    assert report.blocked == {"http://example.com/x.png": "csp"}
    assert not any(text == "ran" for _, text in report.console)
    assert any("Content Security Policy" in text for text in report.errors)


def test_harness_sees_and_stops_requests_without_a_csp(chromium, tmp_path):
    """The other negative control: with no CSP to stop them, the page's requests (a host name, an IP address
    that no host-resolver rule covers, a WebSocket, another local file) are all seen and none leaves."""
    page = tmp_path / "open.html"
    others = ["http://example.com/x.png", "http://192.0.2.1/y.png", "ws://192.0.2.1/socket", "file:///etc/hostname"]
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        f'<img src="{others[0]}"><img src="{others[1]}"><iframe src="{others[3]}"></iframe>'
        f'<script>new WebSocket("{others[2]}"); console.log("ran")</script></body></html>', encoding="utf-8")
    report = open_page(chromium, page, height=300)
    assert sorted(network_requests(report, page)) == sorted(others)
    assert sorted(report.aborted) == sorted(others) and report.blocked == {}
    assert ("log", "ran") in report.console


def test_k1000_report_in_chromium(chromium, tmp_path):
    """K = 1,000, N = 50,000, thousands of groups: under 2 MB, opens without errors or requests, and the
    first screen shows the verdict and headline, not a wall of cells."""
    from helpers.any_input import result_for

    result = result_for(1000, 50_000, absent=(0,), never_predicted=(7,), group_sizes=[20_000, 20_000] + [5] * 2000)
    page = tmp_path / "k1000.html"
    page.write_text(render_html(result), encoding="utf-8")
    assert page.stat().st_size < 2 * 1024 * 1024
    report = open_page(chromium, page, height=4000)
    assert report.errors == []
    assert network_requests(report, page) == []
    (tmp_path / "k1000.png").write_bytes(report.screenshot)
    image = Image.open(io.BytesIO(report.screenshot)).convert("RGB")
    assert image.size == (1280, 4000)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50
