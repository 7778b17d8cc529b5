"""History database fixtures (import them into a test module or conftest): a SQLite file in a temporary
folder, and a throwaway PostgreSQL server started once per session, a new database per test, skipped
with the reason where it cannot start."""

from __future__ import annotations

import pytest

from helpers import postgres


@pytest.fixture(scope="session")
def pg_server():
    server, why = postgres.start()
    if server is None:
        pytest.skip(f"no PostgreSQL server: {why}")
    yield server
    server.stop()


@pytest.fixture
def history_pg_url(pg_server) -> str:
    return pg_server.create_database()


@pytest.fixture
def history_sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'history.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("history_sqlite_url" if request.param == "sqlite" else "history_pg_url")
