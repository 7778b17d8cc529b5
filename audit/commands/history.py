"""``audit history``: list the recorded runs, newest first; ``audit history show ID`` prints one."""

from __future__ import annotations

import json

import click

from audit.commands.options import db_option

COLUMNS = ("id", "time", "model", "accuracy", "ECE", "verdict", "released")


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def _dec(value) -> str:
    return "–" if value is None else f"{value:.4f}"


def _table(records) -> str:
    rows = [COLUMNS] + [
        (str(r.id), r.recorded_at[:19] + "Z", r.model_name, _pct(r.metrics.get("accuracy")),
         _dec(r.metrics.get("ece_before")), r.verdict,
         ("yes (forced)" if r.release_forced else "yes") if r.released else "no")
        for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


@click.group("history", invoke_without_command=True)
@db_option
@click.option("--model", "model", metavar="NAME", help="Only runs of this model name.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="Runs to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def history(ctx: click.Context, db, model, limit, as_json) -> None:
    """List the runs recorded in the history database, newest first.

    \b
    Examples:
      audit history --model cifar10-seed --limit 10
      audit history show 12 --json
    """
    ctx.ensure_object(dict)
    ctx.obj["history_db"] = db
    if ctx.invoked_subcommand is not None:
        return
    from audit.history import HistoryStore, history_url

    records = HistoryStore(history_url(db)).list_runs(model=model, limit=limit)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in records], indent=2))
    elif not records:
        click.echo("no runs recorded" + (f" for model {model!r}" if model else ""))
    else:
        click.echo(_table(records))


@history.command("show")
@click.argument("run_id", metavar="ID", type=click.IntRange(min=1))
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the stored audit result as JSON.")
@click.pass_context
def show(ctx: click.Context, run_id: int, db, as_json) -> None:
    """Print a stored run: its record, key metrics, gate verdicts and sign-offs, or with --json its stored
    result with them and its crosswalk re-evaluated with the sign-offs recorded since."""
    from audit.history import HistoryStore, history_url

    store = HistoryStore(history_url(db or ctx.obj.get("history_db")))
    record, result, gates = store.get(run_id)
    signoffs = store.signoffs(run_id)
    if as_json:
        shown = {"record": record.as_dict(), "gates": gates, "signoffs": signoffs, "result": result}
        if isinstance(result, dict) and result.get("crosswalk"):
            from audit.gate.crosswalk import crosswalk_section

            # the crosswalk as of now: the sign-offs recorded since the run move Annex IV 2(g) to "evidence"
            shown["crosswalk"] = crosswalk_section(result, signoffs=signoffs, run_id=run_id)
        click.echo(json.dumps(shown, indent=2, sort_keys=True))
        return
    click.echo(f"run #{record.id}  {record.name}  (model {record.model_name}, {record.source or 'unknown source'})")
    click.echo(f"  recorded   {record.recorded_at}  by audit {record.tool_version}")
    click.echo(f"  verdict    {record.verdict}" + ("  (re-evaluated by audit gate)" if record.gate_rechecked else ""))
    released = "no"
    if record.released:
        released = f"yes, {record.released_at}"
        if record.release_forced:
            released += f", forced: {record.release_reason}"
    click.echo(f"  released   {released}")
    click.echo(f"  model hash {record.model_sha256 or '–'}")
    click.echo(f"  data hash  {record.data_sha256 or '–'}")
    click.echo(f"  report     {record.report_sha256 or '– (recorded without its report hash)'}")
    for name, value in record.metrics.items():
        click.echo(f"  {name:<18} {value:.4f}")
    for g in gates:
        click.echo(f"  gate #{g['id']} {g['recorded_at']}: {'pass' if g['passed'] else 'fail'} "
                   f"(policy {g['policy_source'] or '–'})")
    if not signoffs:
        click.echo(f"  signed     no (Annex IV 2(g) waits for `audit sign {run_id}`)")
    for so in signoffs:
        said = f": {so['statement']}" if so["statement"] else ""
        click.echo(f"  signed     {so['at']}  {so['by']} ({so['role']}){said}")
