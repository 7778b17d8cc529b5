"""Fixtures for the hardening tests: an isolated dataset cache and no inherited AUDIT_DATA."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AUDIT_CACHE", str(tmp_path_factory.mktemp("audit-cache")))
    monkeypatch.delenv("AUDIT_DATA", raising=False)
