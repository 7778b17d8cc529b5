"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright for Python (its pip wheel
ships the node driver; ``executable_path`` points it at Debian's binary, so no browser is ever downloaded and
``playwright install`` is never run).

A page opens in a fresh browser context with networking disabled: every request but the page's own file://
URL (data: URIs never reach the network) is aborted, and any host name resolves to nothing besides. The
report holds every request the page started, those the browser itself blocked (the CSP) and those the harness
aborted, every console message and log entry, uncaught exceptions, and a screenshot of the viewport.

``chromium`` is a session-wide browser (a pytest fixture, registered in tests/conftest.py); it skips with the
reason where Debian's chromium or the playwright package is missing.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# Playwright adds --headless, --no-sandbox, --no-first-run, --hide-scrollbars, --mute-audio and
# --disable-{background-networking,component-update,sync,default-apps,extensions} itself.
CHROMIUM_ARGS = [
    "--disable-gpu", "--disable-quic",
    # any host name resolves to nothing: a request that slips past the route cannot reach a network
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
SETTLE_MS = 500  # after the load event, for late console messages and requests


def find_chromium() -> str | None:
    """Path of a Chromium binary (Debian's chromium first), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@functools.cache
def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:  # not imported here: every pytest run reads this module
        return "playwright not installed (pip install -r requirements.lock; scripts/test.sh does)"
    if find_chromium() is None:
        return "chromium not installed (Debian: apt-get install -y chromium; scripts/test.sh installs it)"
    return None


requires_browser = pytest.mark.skipif(browser_unavailable() is not None, reason=browser_unavailable() or "")


@pytest.fixture(scope="session")
def chromium():
    """One headless Debian chromium for the session; each page gets a context of its own."""
    reason = browser_unavailable()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageReport:
    url: str = ""  # the page's own file:// URL
    requests: list[str] = field(default_factory=list)  # every request the page started (data: URIs aside)
    blocked: dict[str, str] = field(default_factory=dict)  # url -> the browser's blockedReason (e.g. "csp")
    aborted: list[str] = field(default_factory=list)  # requests the harness stopped at the network's door
    console: list[tuple[str, str]] = field(default_factory=list)  # (level, text): console API and log entries
    exceptions: list[str] = field(default_factory=list)
    screenshot: bytes = b""

    @property
    def errors(self) -> list[str]:
        return [text for level, text in self.console if level in ("error", "assert")] + self.exceptions


class RecordingPage:
    """A page in a new context of ``browser`` that records into ``self.report``; use as a context manager."""

    def __init__(self, browser: Browser, *, width: int = 1280, height: int = 4000, bypass_csp: bool = False):
        self.report = PageReport()
        self.context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                           bypass_csp=bypass_csp, service_workers="block")
        self.context.route("**/*", self._route)
        self.context.route_web_socket(re.compile(".*"), self._route_web_socket)
        self.page: Page = self.context.new_page()
        report = self.report
        self.page.on("request", lambda request: report.requests.append(request.url))
        self.page.on("requestfailed", self._failed)
        self.page.on("console", lambda message: report.console.append((message.type, message.text)))
        self.page.on("pageerror", lambda error: report.exceptions.append(
            (error.stack or f"{error.name}: {error.message}")[:300]))

    def _route(self, route) -> None:
        url = route.request.url
        if url == self.report.url or url.startswith("data:"):
            route.continue_()
        else:
            self.report.aborted.append(url)
            route.abort("blockedbyclient")

    def _route_web_socket(self, ws) -> None:  # not a request to Chromium's network events: record it here
        self.report.requests.append(ws.url)
        self.report.aborted.append(ws.url)
        ws.close()

    def _failed(self, request) -> None:
        # Playwright's failure text is Chromium's errorText, or its blockedReason where there is none; a
        # blockedReason ("csp", "mixed-content", ...) is the browser's own refusal, an errorText is "net::..."
        # (the harness's aborts read net::ERR_BLOCKED_BY_CLIENT)
        reason = request.failure or ""
        if reason and not reason.startswith("net::"):
            self.report.blocked[request.url] = reason

    def goto(self, path: Path) -> PageReport:
        """Load ``path`` as a file:// URL, wait for the load event and a moment after it."""
        self.report.url = path.resolve().as_uri()
        self.page.goto(self.report.url, wait_until="load")
        self.page.wait_for_timeout(SETTLE_MS)
        return self.report

    def close(self) -> None:
        self.context.close()

    def __enter__(self) -> RecordingPage:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_page(browser: Browser, path: Path, *, width: int = 1280, height: int = 4000) -> PageReport:
    """Load ``path`` in headless Chromium with networking disabled and report what the page did."""
    with RecordingPage(browser, width=width, height=height) as recording:
        report = recording.goto(path)
        report.screenshot = recording.page.screenshot(type="png")
    return report
