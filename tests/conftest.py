"""Fixtures for every test: a history database (``$AUDIT_DB``) of their own, so that `audit run` never
records into the repository's reports/ folder. Each test gets a new one; module- and session-scoped
fixtures (set up before any test's own) share one for the session."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_SESSION_DIR: str | None = None


def pytest_configure(config):
    global _SESSION_DIR
    _SESSION_DIR = tempfile.mkdtemp(prefix="audit-history-")
    os.environ["AUDIT_DB"] = os.path.join(_SESSION_DIR, "audit-history.sqlite")


def pytest_unconfigure(config):
    if _SESSION_DIR is not None:
        shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _isolated_history(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AUDIT_DB", str(tmp_path_factory.mktemp("history") / "audit-history.sqlite"))


# History database backends (a SQLite file; a throwaway PostgreSQL server, one per session).
from helpers.history_backends import pg_server, history_pg_url, history_sqlite_url, history_url  # noqa: E402,F401
# Headless Debian chromium driven by Playwright, one per session (the browser tests).
from helpers.browser import chromium  # noqa: E402,F401
