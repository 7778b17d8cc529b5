"""The schema revision check: a database must be at the revision this tool's migrations end in.

A new, empty database is created at the current revision; an older one is refused until
``audit db upgrade`` has migrated it; a newer one (written by a later version of the tool) is refused
with a request to upgrade the tool. Nothing is ever migrated silently.
"""

from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy import inspect, text

from audit.errors import AuditError
from audit.history.engine import display_url

#: PostgreSQL advisory lock key held while the schema is checked or migrated (any fixed number).
PG_LOCK_KEY = 0x41554449  # "AUDI"
MIGRATIONS = Path(__file__).with_name("migrations")
MSG_OLDER = ("the history database is at schema revision {current}, this version of the tool needs {head}; "
             "migrate it with `audit db upgrade --db {url}`")
MSG_NEWER = ("the history database is at schema revision {current}, newer than this version of the tool knows "
             "(latest {head}); upgrade the tool: pip install --upgrade classifier-audit")
MSG_FOREIGN = ("the database holds tables ({tables}) but no audit history schema revision: not an audit "
               "history database")
MSG_MISSING = "no history database here yet"


class NoDatabase(AuditError):
    """No history database at that URL (a missing SQLite file, or an empty database)."""


def alembic_config(connection=None):
    """An Alembic config for the migrations shipped inside the package (no ini file needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


#: The revision the shipped migrations end in (a test checks it against the scripts). Kept as a constant
#: so that the usual check -- a database already at this revision -- needs no Alembic import.
HEAD = "0003"


def head_revision() -> str:
    """The revision the shipped migrations end in."""
    return HEAD


@functools.lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    """Every revision the shipped migrations know."""
    from alembic.script import ScriptDirectory

    return frozenset(s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions())


def current_revision(connection) -> str | None:
    """The database's revision (None: no ``alembic_version`` table, or an empty one)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    revisions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(revisions) > 1:
        raise AuditError(f"the history database has several schema revisions {revisions}: not one this tool wrote")
    return revisions[0] if revisions else None


def lock(connection) -> None:
    """Serialise schema checks and migrations between processes (PostgreSQL; SQLite's BEGIN IMMEDIATE
    already holds the write lock)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})


def check(connection, url: str, *, create: bool) -> str:
    """Check (and with ``create``, create) the schema inside the caller's transaction.

    Returns
    -------
    str
        ``"ok"`` at the current revision, ``"created"`` when an empty database was created.

    Raises
    ------
    AuditError
        For an older, newer or foreign database, or a missing one when ``create`` is false.
    """
    head = head_revision()
    current = current_revision(connection)
    if current == head:
        return "ok"
    if current is None:
        tables = sorted(t for t in inspect(connection).get_table_names() if t != "alembic_version")
        if tables:
            raise AuditError(MSG_FOREIGN.format(tables=", ".join(tables[:5])), path=display_url(url))
        if not create:
            raise NoDatabase(MSG_MISSING, path=display_url(url),
                             hint="`audit run` creates it, or `audit db upgrade --db URL`")
        upgrade(connection)
        return "created"
    if current in known_revisions():
        raise AuditError(MSG_OLDER.format(current=current, head=head, url=_quoted(display_url(url))))
    raise AuditError(MSG_NEWER.format(current=current, head=head), path=display_url(url))


def upgrade(connection, target: str = "head") -> None:
    """Run the shipped migrations up to ``target`` on ``connection`` (inside its transaction)."""
    from alembic import command

    command.upgrade(alembic_config(connection), target)


def _quoted(url: str) -> str:
    return f"'{url}'" if any(c in url for c in " ?&*") else url
