"""``audit gate``: re-evaluate a stored audit.json against a policy without recomputing any metric."""

from __future__ import annotations

from pathlib import Path

import click

from audit.result.write import dump_json, write_outputs
from audit.errors import EXIT_GATE_FAILED, EXIT_OK, AuditError


@click.command("gate")
@click.argument("audit_json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--policy", "policy_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Release policy (TOML), e.g. from `audit policy init`.")
@click.option("--checklist", "checklist_path", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Checklist answers (TOML) replacing the checklist stored in AUDIT_JSON.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Where to write junit.xml and gate.json (default: beside AUDIT_JSON).")
def gate(audit_json: Path, policy_path: Path, checklist_path: Path | None, out_dir: Path | None) -> None:
    """Re-evaluate AUDIT_JSON against a policy; write junit.xml and gate.json.

    AUDIT_JSON itself is left unchanged. Exit 0 when every rule passes, 1 when any fails, 2 when the
    files cannot be read (the gate fails closed).

    \b
    Example:
      audit gate reports/seed/audit.json --policy audit-policy.toml --checklist audit-checklist.toml
    """
    from audit.gate.policy import load_policy
    from audit.render.junit import render_junit
    from audit.result.load import load_audit_json
    from audit.gate.verdict import evaluate, format_table

    result = load_audit_json(audit_json)
    policy = load_policy(policy_path)
    if checklist_path is not None:
        result["checklist"], result["model_card"] = load_checklist_section(checklist_path)
    verdict = evaluate(result, policy, informational=False)

    out_dir = out_dir if out_dir is not None else audit_json.parent
    record = {"audit_json": str(audit_json), "checklist_source": str(checklist_path) if checklist_path else None,
              **verdict}
    write_outputs(out_dir, {"gate.json": dump_json(record), "junit.xml": render_junit(verdict)})
    click.echo(format_table(verdict))
    click.echo(f"wrote {out_dir / 'junit.xml'}, {out_dir / 'gate.json'}", err=True)
    click.get_current_context().exit(EXIT_OK if verdict["passed"] else EXIT_GATE_FAILED)


def load_checklist_section(path: Path) -> tuple[dict, dict]:
    """The ``checklist`` and ``model_card`` sections built from an answers file."""
    try:
        from audit.gate.checklist import checklist_section, load_checklist
        from audit.gate.model_card import model_card_section
    except ImportError as exc:  # pragma: no cover - only while audit.gate.checklist is not installed
        raise AuditError(f"checklist support is not available: {exc}", path=path) from None
    answers = load_checklist(path)
    return checklist_section(answers), model_card_section(answers)
