"""``audit release ID``: mark a recorded run as released (the baseline that ``--baseline released`` uses)."""

from __future__ import annotations

import click

from audit.commands.options import db_option, policy_option


@click.command("release")
@click.argument("run_id", metavar="ID", type=click.IntRange(min=1))
@db_option
@click.option("--force", "force_reason", metavar="REASON",
              help="Release even though the run's gate failed or sign-offs are missing; the reason is stored.")
@policy_option(help="Take [release] min_signoffs from this policy file (default: the policy the run's latest "
                    "verdict was judged with; 0 without one).")
def release(run_id: int, db, force_reason, policy) -> None:
    """Mark run ID released. Refused while its latest gate verdict failed, or while its report has fewer
    sign-offs (`audit sign`) than the policy's [release] min_signoffs, unless --force REASON.

    \b
    Examples:
      audit release 12
      audit release 13 --force "ECE rule waived by the review board, ticket 123"
    """
    from audit.history import HistoryStore, history_url

    min_signoffs = None
    if policy is not None:
        from audit.gate.policy import load_policy

        min_signoffs = load_policy(policy).release.min_signoffs
    record, changed, overridden = HistoryStore(history_url(db)).release(run_id, force_reason=force_reason,
                                                                        min_signoffs=min_signoffs)
    if not changed:
        click.echo(f"run #{record.id} ({record.model_name}) was already released on {record.released_at}")
        return
    note = (f" despite {' and '.join(overridden)}; reason stored: {record.release_reason}" if overridden else "")
    click.echo(f"released run #{record.id} ({record.model_name}){note}")
