"""The inline report in a real JupyterLab (issue 21): a notebook executed by nbclient, opened in JupyterLab
(started once for this module on 127.0.0.1, a free port, a token, a temporary root) in Debian's Chromium.

Untrusted, JupyterLab's sanitizer drops the report's frame: the compact summary must still show. Trusted, the
frame shows under the summary, and a click on a section link keeps the report in its frame."""

from __future__ import annotations

import importlib.util
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


MISSING = next((f"{name} not installed (pip install -r requirements.lock)" for name in
                ("jupyterlab", "nbclient", "nbformat", "ipykernel") if importlib.util.find_spec(name) is None), None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]

CODE = """\
import numpy as np
import audit

rng = np.random.default_rng(0)
probs = rng.dirichlet(np.ones(3), size=300)
labels = probs.argmax(axis=1)
labels[:80] = rng.integers(0, 3, 80)
pred = audit.make_predictions(probs=probs, labels=labels, class_names=["cat", "dog", "bird"],
                              groups={"site": rng.choice(["a", "b"], size=300)})
result = audit.run_audit(pred, n_bootstrap=0, name="notebook-test")
result"""
SUMMARY = ".jp-OutputArea-output table.audit-summary"
FRAME = '.jp-OutputArea-output iframe[title="audit report"]'
#: what the closing note reports: set by the tests, printed at the end of the module
MEASURED: dict[str, float] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, token, root folder, environment) of a JupyterLab server of this module's own."""
    root = tmp_path_factory.mktemp("lab")
    home = tmp_path_factory.mktemp("jupyter")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython"),
           "JUPYTER_PLATFORM_DIRS": "1"}
    port, token = _free_port(), secrets.token_hex(16)
    log = open(home / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.open_browser=False",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(home / 'server.log').read_text()[-2000:]}")
                time.sleep(0.3)
        yield base, token, root, env
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if MEASURED:
            print("\nJupyterLab measurements:", ", ".join(f"{k} {v:.2f}" for k, v in MEASURED.items()))


@pytest.fixture(scope="module")
def notebook(lab):
    """A notebook executed by nbclient (so: not trusted), saved in the server's root."""
    import nbclient
    import nbformat

    _, _, root, env = lab
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CODE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    started = time.monotonic()
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute()
    MEASURED["nbclient execute s"] = time.monotonic() - started
    path = root / "audit.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def browser(chromium):
    """A Chromium of this module's own, launched through the session's Playwright (tests/conftest.py; one per
    process) without its rule that no host name resolves: this one must reach the JupyterLab on 127.0.0.1."""
    from helpers.browser import find_chromium

    own = chromium.browser_type.launch(executable_path=find_chromium(), args=["--disable-gpu"])
    try:
        yield own
    finally:
        own.close()


def _open(browser, lab, notebook):
    base, token, _, _ = lab
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    started = time.monotonic()
    page.goto(f"{base}/lab/tree/{notebook.name}?token={token}")
    page.wait_for_selector(SUMMARY, timeout=60_000)
    return context, page, time.monotonic() - started


def test_untrusted_notebook_shows_the_summary(browser, lab, notebook):
    context, page, elapsed = _open(browser, lab, notebook)
    try:
        MEASURED["untrusted: summary shown after s"] = elapsed
        assert "Verdict" in page.inner_text(SUMMARY) and "Accuracy" in page.inner_text(SUMMARY)
        assert "(informational: default policy)" in page.inner_text(SUMMARY)  # no policy=: not a failed release
        assert page.locator(FRAME).count() == 0  # the sanitizer removed the frame; the summary stands alone
    finally:
        context.close()


def test_trusted_notebook_shows_the_report_and_its_links_stay_in_the_frame(browser, lab, notebook):
    _, _, _, env = lab
    subprocess.run([sys.executable, "-m", "jupyter", "trust", str(notebook)], env=env, check=True,
                   capture_output=True)
    context, page, _ = _open(browser, lab, notebook)
    try:
        started = time.monotonic()
        frame_el = page.wait_for_selector(FRAME, timeout=60_000)
        frame = frame_el.content_frame()
        frame.wait_for_selector("section#verdict")
        MEASURED["trusted: report painted after s"] = time.monotonic() - started
        box = frame_el.bounding_box()
        MEASURED["frame height px"] = box["height"]
        assert 400 <= box["height"] <= 900
        overflow = frame_el.evaluate("e => { const o = e.closest('.jp-OutputArea-output'); "
                                     "return o.scrollWidth - o.clientWidth; }")
        assert overflow <= 0  # no horizontal overflow scrollbar
        from helpers.layout import BROKEN_TOKENS_JS, SHORT

        MEASURED["frame width px"] = box["width"]
        assert frame.evaluate(BROKEN_TOKENS_JS, SHORT) == []  # no short word breaks inside the frame either
        assert frame.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        assert "Verdict" in page.inner_text(SUMMARY)
        frame.click('nav.toc a[href$="#calibration"]')
        page.wait_for_timeout(500)
        frame = frame_el.content_frame()
        assert frame.url.startswith("about:srcdoc")
        assert frame.locator("section#calibration").count() == 1 and frame.locator("h1").count() == 1
        assert frame.locator("#jp-main-dock-panel").count() == 0  # not the notebook page loaded into the frame
        assert frame.evaluate("window.scrollY") > 0  # it jumped to the section
    finally:
        context.close()
