"""``audit gate``: parse the options, call :func:`audit.pipeline.regate`, print, set the exit code."""

from __future__ import annotations

from pathlib import Path

import click

from audit.errors import EXIT_GATE_FAILED, EXIT_OK
from audit.commands.options import checklist_option, db_option, no_record_option, out_option, policy_option


@click.command("gate")
@click.argument("audit_json", type=click.Path(dir_okay=False, path_type=Path))
@policy_option(required=True, param="policy_path", help="Release policy (TOML), e.g. from `audit policy init`.")
@checklist_option(param="checklist_path", help="Checklist answers (TOML) replacing the checklist stored in AUDIT_JSON.")
@out_option(param="out_dir", help="Where to write junit.xml and gate.json (default: beside AUDIT_JSON).")
@db_option
@no_record_option("the verdict")
def gate(audit_json: Path, policy_path: Path, checklist_path: Path | None, out_dir: Path | None, db,
         no_record: bool) -> None:
    """Re-evaluate AUDIT_JSON against a policy; write junit.xml and gate.json.

    AUDIT_JSON itself is left unchanged. Exit 0 when every rule passes, 1 when any fails, 2 when the
    files cannot be read (the gate fails closed).

    \b
    Example:
      audit gate reports/seed/audit.json --policy audit-policy.toml --checklist audit-checklist.toml
    """
    from audit.gate.verdict import format_table
    from audit.pipeline import regate

    outcome = regate(audit_json, policy=policy_path, checklist=checklist_path, out_dir=out_dir)
    click.echo(format_table(outcome.gate))
    click.echo(f"wrote {outcome.written['junit.xml']}, {outcome.written['gate.json']}", err=True)
    if not no_record:
        from audit.history import history_url
        from audit.history.hooks import record_gate

        run_id = record_gate(audit_json, outcome.gate, db=history_url(db), policy=policy_path, checklist=checklist_path)
        click.echo(f"recorded against history run #{run_id}" if run_id else
                   "not recorded: no run in the history database has this audit.json", err=True)
    click.get_current_context().exit(EXIT_OK if outcome.passed else EXIT_GATE_FAILED)
