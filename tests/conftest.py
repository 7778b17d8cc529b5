"""Fixtures for every test: each test gets its own history database (``$AUDIT_DB``), so that `audit run`
never records into the repository's reports/ folder and parallel tests never share one."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_history(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AUDIT_DB", str(tmp_path_factory.mktemp("history") / "audit-history.sqlite"))
