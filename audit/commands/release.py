"""``audit release ID``: mark a recorded run as released (the baseline that ``--baseline released`` uses)."""

from __future__ import annotations

import click

from audit.commands.options import db_option


@click.command("release")
@click.argument("run_id", metavar="ID", type=click.IntRange(min=1))
@db_option
@click.option("--force", "force_reason", metavar="REASON",
              help="Release even though the run's gate failed; the reason is stored with the release.")
def release(run_id: int, db, force_reason) -> None:
    """Mark run ID released. Refused while its latest gate verdict failed, unless --force REASON.

    \b
    Examples:
      audit release 12
      audit release 13 --force "ECE rule waived by the review board, ticket 123"
    """
    from audit.history import HistoryStore, history_url

    record, changed = HistoryStore(history_url(db)).release(run_id, force_reason=force_reason)
    if not changed:
        click.echo(f"run #{record.id} ({record.model_name}) was already released on {record.released_at}")
        return
    note = f" despite its failed gate; reason stored: {record.release_reason}" if record.release_forced else ""
    click.echo(f"released run #{record.id} ({record.model_name}){note}")
