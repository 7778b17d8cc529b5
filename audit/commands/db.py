"""``audit db``: manage the history database's schema (``audit db upgrade`` migrates an older one)."""

from __future__ import annotations

import click

from audit.commands.options import db_option


@click.group("db")
def db() -> None:
    """Manage the history database."""


@db.command("upgrade")
@db_option
def upgrade(db) -> None:
    """Create the history database, or migrate an older one to this tool's schema."""
    from audit.history import history_url
    from audit.history.migrate import upgrade_database

    before, after = upgrade_database(history_url(db))
    if before == after:
        click.echo(f"history database already at schema revision {after}")
    else:
        click.echo(f"history database migrated from schema revision {before or '(empty)'} to {after}")
