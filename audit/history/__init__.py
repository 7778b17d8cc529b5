"""Audit history: every run's result and key metrics in a SQLite or PostgreSQL database.

``engine`` opens the database (WAL and a busy timeout for SQLite), ``models`` declares the tables,
``migrations`` holds the Alembic scripts that create and upgrade them, ``schema`` checks that a database
is at the revision this tool expects, ``record`` turns an audit result into stored rows (numbers only,
never images or sample-level predictions), ``store`` is the API the commands call.
"""

from audit.history.engine import DEFAULT_DB_NAME, ENV_DB, resolve_url
from audit.history.store import HistoryStore, RunRecord

__all__ = ["DEFAULT_DB_NAME", "ENV_DB", "HistoryStore", "RunRecord", "resolve_url"]
