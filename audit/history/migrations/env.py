"""Alembic environment: migrations run on the connection the tool hands over (never from an ini file).

SQLite connections have foreign keys on: a migration must not recreate a parent table (batch "move and
copy"), which would cascade-delete its children; add columns with constant defaults instead.
"""

from __future__ import annotations

from alembic import context

from audit.history.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
