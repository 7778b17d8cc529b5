"""A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (no websocket, no download).

It opens one page in headless Chromium with networking disabled, records every network request,
console message, log entry and uncaught exception, and takes a full-page screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
    "--no-default-browser-check", "--remote-debugging-pipe",
    # any host name resolves to nothing: a request that slips through cannot reach a network
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageReport:
    requests: list[str] = field(default_factory=list)  # every request the page started
    blocked: dict[str, str] = field(default_factory=dict)  # url -> blockedReason (e.g. "csp")
    console: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    exceptions: list[str] = field(default_factory=list)
    screenshot: bytes = b""

    @property
    def errors(self) -> list[str]:
        return [text for level, text in self.console if level in ("error", "assert")] + self.exceptions


class _Pipe:
    def __init__(self, write_fd: int, read_fd: int, timeout: float):
        self.write_fd, self.read_fd, self.timeout = write_fd, read_fd, timeout
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        return self.wait(lambda m: m.get("id") == self.next_id)

    def wait(self, match, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, message in enumerate(self.events):
                if match(message):
                    return self.events.pop(i) if "id" in message else message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self.read_fd], [], [], remaining)
            if ready:
                chunk = os.read(self.read_fd, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self.buffer += chunk
                *messages, self.buffer = self.buffer.split(b"\0")
                self.events += [json.loads(m) for m in messages if m]

    def drain(self, seconds: float) -> None:
        try:
            self.wait(lambda m: False, timeout=seconds)
        except TimeoutError:
            pass


def _above(fd: int, lowest: int) -> int:
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return new


def open_page(path: Path, *, width: int = 1280, height: int = 4000, timeout: float = 30.0) -> PageReport:
    """Load ``path`` as a file:// URL in headless Chromium and report what the page did."""
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("chromium")
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    # move the child's ends above 4 so that wiring them to fds 3 and 4 cannot clobber one another
    to_child_r, from_child_w = (_above(fd, 10) for fd in (to_child_r, from_child_w))

    def wire_fds():  # the browser reads commands on fd 3 and writes answers on fd 4
        os.dup2(to_child_r, 3)
        os.dup2(from_child_w, 4)

    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds, pass_fds=(3, 4, to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        pipe = _Pipe(to_child_w, from_child_r, timeout)
        report = PageReport()
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"})["result"]["targetId"]
            session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["result"]["sessionId"]
            for domain in ("Page", "Network", "Runtime", "Log"):
                pipe.send(f"{domain}.enable", session=session)
            pipe.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
            pipe.events.clear()
            url = path.resolve().as_uri()
            pipe.send("Page.navigate", {"url": url}, session=session)
            pipe.wait(lambda m: m.get("method") == "Page.loadEventFired")
            pipe.drain(0.5)
            urls: dict[str, str] = {}
            for message in pipe.events:
                method, params = message.get("method"), message.get("params", {})
                if method == "Network.requestWillBeSent":
                    report.requests.append(params["request"]["url"])
                    urls[params["requestId"]] = params["request"]["url"]
                elif method == "Network.loadingFailed" and params.get("blockedReason"):
                    report.blocked[urls.get(params["requestId"], "?")] = params["blockedReason"]
                elif method == "Runtime.consoleAPICalled":
                    text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                    report.console.append((params.get("type", ""), text))
                elif method == "Log.entryAdded":
                    entry = params.get("entry", {})
                    report.console.append((entry.get("level", ""), entry.get("text", "")))
                elif method == "Runtime.exceptionThrown":
                    report.exceptions.append(json.dumps(params.get("exceptionDetails", {}))[:300])
            shot = pipe.send("Page.captureScreenshot", {"format": "png"}, session=session)
            report.screenshot = base64.b64decode(shot["result"]["data"])
            try:
                pipe.send("Browser.close")
            except (RuntimeError, TimeoutError):
                pass
        finally:
            os.close(to_child_w)
            os.close(from_child_r)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return report
