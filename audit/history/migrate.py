"""``audit db upgrade``: bring a database to the current schema in one transaction, under the lock."""

from __future__ import annotations

from audit.errors import AuditError
from audit.history import schema
from audit.history.engine import WRITE, database_error, display_url, make_engine


def upgrade_database(url: str) -> tuple[str | None, str]:
    """Migrate the database at ``url`` to the shipped head revision (creating it if empty).

    Returns
    -------
    (str or None, str)
        The revision before (None: empty) and after.

    Raises
    ------
    AuditError
        If the database is newer than this tool, not an audit history database, or unreachable.
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**WRITE)
            with conn.begin():
                schema.lock(conn)
                before = schema.current_revision(conn)
                head = schema.head_revision()
                if before is not None and before not in schema.known_revisions():
                    raise AuditError(schema.MSG_NEWER.format(current=before, head=head), path=display_url(url))
                if before is None:
                    tables = sorted(t for t in inspect(conn).get_table_names() if t != "alembic_version")
                    if tables:
                        raise AuditError(schema.MSG_FOREIGN.format(tables=", ".join(tables[:5])),
                                         path=display_url(url))
                if before != head:
                    schema.upgrade(conn)
        return before, head
    except SQLAlchemyError as exc:
        raise database_error(exc, url, "could not migrate the history database") from None
    finally:
        engine.dispose()
