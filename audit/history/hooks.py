"""What ``audit run`` and ``audit gate`` ask of the history: a baseline, the trend, recording.

Kept apart from the commands so that each command needs a line or two: resolve ``--baseline
released|ID``, read the trend for the report, record the run once its files are written.
"""

from __future__ import annotations

import re
from pathlib import Path

from audit.errors import AuditError
from audit.history import record as rec

#: The ``--baseline`` values that name a stored run rather than a file.
HISTORY_REF = re.compile(r"released|[1-9][0-9]*")
MSG_NOT_RECORDED = ("{reason} -- the run was NOT recorded in the history database; the report files were "
                    "written to {out} (rerun with --no-record to skip recording)")


def is_history_ref(value: str | None) -> bool:
    """True for ``released`` or a run id, unless a file or folder of that name exists."""
    return bool(value) and HISTORY_REF.fullmatch(str(value)) is not None and not Path(value).exists()


def _absent_sqlite(url: str) -> bool:
    """A SQLite database whose file does not exist yet: it has no runs, and SQLAlchemy need not be imported
    to say so (``sqlite:///`` plus an absolute path, as :func:`audit.history.engine.resolve_url` writes)."""
    return url.startswith("sqlite:///") and "?" not in url and not Path(url[len("sqlite:///"):]).exists()


def trend_rows(db: str, result: dict, *, limit: int = rec.DEFAULT_LIMIT) -> dict:
    """The report's trend: the last stored runs of the result's model plus this run, oldest first.

    Returns
    -------
    dict
        ``{model, rows[]: {label, time, metrics, verdict, released, current}, note}``; when the
        history cannot be read, ``rows`` holds this run alone and ``note`` says why.
    """
    model = str((result.get("run") or {}).get("model_name") or "audit")
    note = None
    try:
        past = [] if _absent_sqlite(db) else _store(db).trend(model, limit=limit - 1)
    except _no_database():
        past = []
    except AuditError as exc:
        past = []
        note = f"history unavailable: {exc}"
    rows = [{"label": f"#{r.id}", "time": r.recorded_at[:19].replace("T", " ") + " UTC", "metrics": r.metrics,
             "verdict": r.verdict, "released": r.released, "current": False} for r in past]
    gate = result.get("gate") or {}
    rows.append({"label": "this run", "time": None, "metrics": rec.key_metrics(result),
                 "verdict": ("pass" if gate.get("passed") else "fail") if gate else None,
                 "released": False, "current": True})
    return {"model": model, "rows": rows, "note": note}


def _store(db: str, **kwargs):
    from audit.history.store import HistoryStore

    return HistoryStore(db, **kwargs)


def _no_database() -> type[Exception]:
    from audit.history.schema import NoDatabase

    return NoDatabase


def record_run(result: dict, written: dict[str, Path], *, db: str) -> int:
    """Record a run whose files are written (with the sha256 of its audit.json and report.html); a failure
    is one line saying the files are there."""
    from audit.hashing import sha256_file

    audit_json = written["audit.json"]
    try:
        text = audit_json.read_text(encoding="utf-8")
        report = written.get("report.html")
        return _store(db, create=True).record_run(result, audit_json_text=text,
                                                  report_sha256=sha256_file(report) if report else None)
    except (AuditError, OSError) as exc:
        raise AuditError(MSG_NOT_RECORDED.format(reason=exc, out=audit_json.parent)) from None


def record_gate(audit_json: Path, verdict: dict, *, db: str, policy: Path, checklist: Path | None) -> int | None:
    """Record an ``audit gate`` verdict against the stored run it re-evaluated (None: no such run).

    Never creates a database: a missing one means there is no stored run to record against.
    """
    store = _store(db)
    try:
        text = audit_json.read_text(encoding="utf-8")
        return store.record_gate(text, verdict, policy_source=str(policy),
                                 checklist_source=str(checklist) if checklist else None)
    except _no_database():
        return None
    except AuditError as exc:
        raise AuditError(f"{exc} -- the gate verdict was NOT recorded in the history database; junit.xml "
                         f"and gate.json were written") from None


def released_review(db: str, model: str) -> dict | None:
    """The last released run of ``model`` with who signed its report (audit.json's ``released_baseline``);
    None when there is none or the history cannot be read (the trend's note says why)."""
    if _absent_sqlite(db):
        return None
    try:
        return _store(db).released_review(model)
    except AuditError:
        return None


MSG_NO_REPORT = "report file not found"


def sign_report(db: str, run_id: int, report: str | Path, *, by: str, role: str,
                statement: str | None = None) -> dict:
    """``audit sign``: hash ``report`` and record the sign-off of run ``run_id`` (the file is only read)."""
    from audit.hashing import sha256_file

    path = Path(report)
    if not path.is_file():
        raise AuditError(MSG_NO_REPORT, path=path)
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise AuditError(f"cannot read the report: {exc.strerror or exc}", path=path) from None
    try:
        return _store(db).sign(run_id, by=by, role=role, report_sha256=digest, statement=statement)
    except AuditError as exc:
        if exc.message.startswith("the file differs"):  # name the file that differs
            raise AuditError(exc.message, path=path) from None
        raise
