"""``audit policy``: work with the release policy file (``init`` writes the commented default policy)."""

from __future__ import annotations

from pathlib import Path

import click

from audit.atomic import write_text
from audit.errors import AuditError
from audit.gate.policy import DEFAULT_POLICY_NAME, template_text

MSG_EXISTS = "file exists; not overwritten"


@click.group("policy")
def policy() -> None:
    """Work with the release policy file."""


@policy.command("init")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path(DEFAULT_POLICY_NAME),
              show_default=True, help="Where to write the policy.")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def init(out: Path, force: bool) -> None:
    """Write the default policy, every rule on, each threshold with a comment saying why."""
    if out.exists() and not force:
        raise AuditError(MSG_EXISTS, path=out, hint="pass --force to replace it")
    write_text(out, template_text())
    click.echo(f"wrote {out}: adjust the thresholds, then pass it to `audit run --policy {out}`")
