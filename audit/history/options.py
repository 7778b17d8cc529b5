"""The ``--db`` option shared by the commands that read or write the history, and its default."""

from __future__ import annotations

import click

DB_HELP = ("History database: a SQLAlchemy URL (sqlite:///PATH, postgresql+psycopg://USER@HOST/DB) or a "
           "SQLite file path (default: $AUDIT_DB, else audit-history.sqlite in the reports folder).")

db_option = click.option("--db", "db", metavar="URL", help=DB_HELP)


def db_url(db: str | None) -> str:
    """The URL named by ``--db``, ``$AUDIT_DB`` or the default file in the reports folder."""
    from audit.pipeline import history_url

    return history_url(db)
