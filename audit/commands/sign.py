"""``audit sign RUN_ID``: record a reviewer's sign-off of the exact report a recorded run wrote."""

from __future__ import annotations

import click

from audit.commands.options import db_option


@click.command("sign")
@click.argument("run_id", metavar="RUN_ID", type=click.IntRange(min=1))
@click.option("--by", "by", required=True, metavar="NAME", help="The reviewer's name.")
@click.option("--role", "role", required=True, metavar="ROLE", help="The reviewer's role (e.g. 'release owner').")
@click.option("--report", "report", required=True, type=click.Path(dir_okay=False), metavar="PATH",
              help="The report.html reviewed; its sha256 must equal that of the report the run wrote.")
@click.option("--statement", "statement", metavar="TEXT", help="What the reviewer states (optional).")
@db_option
def sign(run_id: int, by: str, role: str, report: str, statement, db) -> None:
    """Sign the report of run RUN_ID: name, role, UTC time, statement and the report's sha256 go into the
    history. Refused (exit 2) when the file differs from the report that run wrote. The report is never edited.

    \b
    Examples:
      audit sign 12 --by "A. Reviewer" --role "release owner" --report reports/cifar10-seed/report.html
      audit sign 12 --by "B. Second" --role "ethics board" --report report.html --statement "bias-1 checked"
    """
    from audit.history import history_url
    from audit.history.hooks import sign_report

    signed = sign_report(history_url(db), run_id, report, by=by, role=role, statement=statement)
    click.echo(f"signed run #{run_id}: {signed['by']} ({signed['role']}) at {signed['at']}, "
               f"report sha256 {signed['report_sha256']}")
