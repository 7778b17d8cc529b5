"""Fixtures for every test: each test gets its own history database (``$AUDIT_DB``), so that `audit run`
never records into the repository's reports/ folder and parallel tests never share one."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_history(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AUDIT_DB", str(tmp_path_factory.mktemp("history") / "audit-history.sqlite"))


# History database backends (a SQLite file; a throwaway PostgreSQL server, one per session).
from helpers.history_backends import pg_server, pg_url, sqlite_url, url  # noqa: E402,F401
