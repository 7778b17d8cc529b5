"""Open the history database: URL resolution, engine settings per backend, errors as one clear line.

SQLite: WAL journal (readers never block the writer), a 30 s busy timeout, and write transactions
that start with ``BEGIN IMMEDIATE`` so that parallel writers queue on the lock instead of failing
when a read transaction tries to upgrade. Switching a new database to WAL is retried while another
connection switches it at the same moment: SQLite answers that race "database is locked" at once,
without waiting in its busy handler (which would deadlock). PostgreSQL (``postgresql+psycopg://``): plain transactions;
the schema check and creation take an advisory lock so parallel first runs do not race.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from audit.errors import AuditError

#: Environment variable naming the history database URL (``--db`` wins over it).
ENV_DB = "AUDIT_DB"
#: File name of the default SQLite database inside the reports folder.
DEFAULT_DB_NAME = "audit-history.sqlite"
#: How long a SQLite writer waits for the lock held by another writer (milliseconds).
SQLITE_BUSY_MS = 30_000
#: SQLite's primary result code for a lock held by another connection.
SQLITE_BUSY = 5
#: How long a PostgreSQL connection attempt may take before the server counts as down (seconds).
PG_CONNECT_TIMEOUT_S = 10


def resolve_url(db: str | None, reports_dir: str | Path) -> str:
    """The database URL: ``db`` if given, else ``$AUDIT_DB``, else a SQLite file in ``reports_dir``.

    A plain path (no ``://``) is taken as a SQLite file.
    """
    url = db or os.environ.get(ENV_DB) or str(Path(reports_dir) / DEFAULT_DB_NAME)
    if "://" not in url:
        url = "sqlite:///" + str(Path(url).expanduser().absolute())
    return url


def history_url(db: str | None = None) -> str:
    """The history database of a run, resolved once and passed down as a URL: ``db`` (a SQLAlchemy URL or a
    SQLite path) if given, else ``$AUDIT_DB``, else ``audit-history.sqlite`` in the reports folder. A URL
    resolves to itself, so a value already resolved can be passed again."""
    from audit.paths import default_reports_dir

    return resolve_url(db, default_reports_dir())


def display_url(url: str) -> str:
    """The URL with its password masked, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by make_engine; show it as given
        return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for in-memory databases and other backends)."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except (ValueError, TypeError):  # make_engine reports the unparsable URL
        return None
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def make_engine(url: str):
    """A SQLAlchemy engine for ``url`` with the settings above.

    Raises
    ------
    AuditError
        If the URL cannot be parsed or its driver is not installed.
    """
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = display_url(url)
    try:
        from sqlalchemy.engine import make_url

        backend = make_url(url).get_backend_name()
    except (ArgumentError, ValueError, TypeError) as exc:
        raise AuditError(f"not a database URL: {exc}", path=shown,
                         hint="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB") from None
    try:
        if backend == "sqlite":
            path = sqlite_path(url)
            if path is not None and not path.parent.is_dir():
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise AuditError(f"cannot create the history database's folder: {exc.strerror or exc}",
                                     path=path.parent) from None
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
        elif backend == "postgresql":
            engine = create_engine(url, connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
                                   pool_pre_ping=True)
        else:
            raise AuditError(f"unsupported database backend {backend!r}", path=shown,
                             hint="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
    except NoSuchModuleError as exc:
        raise AuditError(f"no driver for this database URL: {exc}", path=shown,
                         hint="for PostgreSQL install the extra: pip install 'classifier-audit[postgres]'") from None
    except ModuleNotFoundError as exc:
        raise AuditError(f"the database driver is not installed ({exc.name})", path=shown,
                         hint="for PostgreSQL install the extra: pip install 'classifier-audit[postgres]'") from None
    return engine


def _sqlite_connect(dbapi_conn, _record) -> None:
    # The driver's own transaction handling is switched off: SQLAlchemy emits BEGIN itself (below).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
    _switch_to_wal(cur)
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _is_busy(exc: Exception) -> bool:
    """SQLITE_BUSY, or one of its extended codes (the low byte is the primary code)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == SQLITE_BUSY


def _switch_to_wal(cur) -> None:
    """``PRAGMA journal_mode = WAL``, retried for up to the busy timeout while another connection holds the
    lock the switch needs.

    WAL is a property of the file: once one connection switched it, the others find it in WAL and the pragma
    takes no lock. Two connections switching a new file at once are a deadlock to SQLite: the one holding
    the shared lock gets SQLITE_BUSY at once instead of waiting. It backs off (jittered, doubling from 5 ms
    to 200 ms) and tries again.
    """
    import sqlite3

    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    delay = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(2 * delay, 0.2)


def _sqlite_begin(conn) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


#: Execution options of a write transaction (ignored by backends other than SQLite).
WRITE = {"sqlite_begin": "IMMEDIATE"}


def database_error(exc: Exception, url: str, doing: str) -> AuditError:
    """One clear line for a driver error: what was being done, on which database, and why."""
    orig = getattr(exc, "orig", None) or exc
    reason = " ".join(str(orig).split()) or type(orig).__name__
    if len(reason) > 300:
        reason = reason[:297] + "..."
    return AuditError(f"{doing}: {reason}", path=display_url(url))
