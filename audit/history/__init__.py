"""Audit history: every run's result and key metrics in a SQLite or PostgreSQL database.

``engine`` opens the database (WAL and a busy timeout for SQLite), ``models`` declares the tables,
``migrations`` holds the Alembic scripts that create and upgrade them, ``schema`` checks that a database
is at the revision this tool expects, ``record`` turns an audit result into stored rows (numbers only,
never images or sample-level predictions), ``store`` is the API the commands call, ``hooks`` what
``audit run`` and ``audit gate`` ask of it. Importing this package imports no SQLAlchemy: the names below
load on first use, so ``audit run --help`` stays fast.
"""

from __future__ import annotations

import importlib

__all__ = ["DEFAULT_DB_NAME", "ENV_DB", "HistoryStore", "RunRecord", "history_url", "resolve_url"]
_WHERE = {"DEFAULT_DB_NAME": "engine", "ENV_DB": "engine", "resolve_url": "engine", "history_url": "engine",
          "HistoryStore": "store",
          "RunRecord": "store"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"audit.history.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'audit.history' has no attribute {name!r}")
