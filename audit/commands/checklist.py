"""``audit checklist``: work with the ethics checklist answers file (``init`` writes a commented template)."""

from __future__ import annotations

from pathlib import Path

import click

from audit.atomic import write_text
from audit.gate.checklist import DEFAULT_FILE, template_text
from audit.errors import AuditError

MSG_EXISTS = "file exists; not overwritten"


@click.group("checklist")
def checklist() -> None:
    """Work with the ethics checklist answers file."""


@checklist.command("init")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path(DEFAULT_FILE),
              show_default=True, help="Where to write the answers template.")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def init(out: Path, force: bool) -> None:
    """Write a commented answers template: one [[answer]] block per question, all commented out."""
    if out.exists() and not force:
        raise AuditError(MSG_EXISTS, path=out, hint="pass --force to replace it")
    write_text(out, template_text())
    click.echo(f"wrote {out}: answer the questions, then pass it to `audit run --checklist {out}`")
