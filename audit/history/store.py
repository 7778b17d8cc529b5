"""The history store: record runs, gate verdicts and sign-offs, list and read them, release, pick a baseline.

Every method runs in one transaction (writes under SQLite's ``BEGIN IMMEDIATE``), so a process killed
half-way leaves either the whole run or nothing. Driver errors become one clear line (AuditError).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

from audit import __version__
from audit.errors import AuditError
from audit.history import record as rec
from audit.history.engine import WRITE, database_error, display_url, make_engine, sqlite_path
from audit.history.schema import NoDatabase

#: Runs shown by ``audit history`` and drawn in the report's trend when no limit is given.
DEFAULT_LIMIT = rec.DEFAULT_LIMIT
MSG_NO_RUN = "no run #{id} in the history database (list them with `audit history`)"
MSG_NO_RELEASED = ("no released run of model {model!r} in the history database "
                   "(mark one with `audit release ID`)")
MSG_REFUSED = ("run #{id} failed its {what}{rules}: release refused "
               "(to release it anyway, give the reason: `audit release {id} --force REASON`)")
MSG_NO_FILE = "no history database here"
MSG_SIGN_DIFFERS = ("the file differs from the report of run #{id} (sha256 {got}, the run's report {want}): "
                    "sign the report.html that run wrote, unedited")
MSG_SIGN_NO_HASH = ("run #{id} was recorded without its report's sha256 (by an older version, or without a "
                    "report): audit it again to sign a report")
MSG_SIGN_EMPTY = "{option} needs {what}; got an empty value"
MSG_SIGN_REPEAT = ("{by!r} has already signed the report of run #{id} (at {at}): each reviewer signs once, and "
                   "[release] min_signoffs counts different reviewers")
MSG_MISSING_SIGNOFFS = ("run #{id} has {have} of the {need} sign-offs the release policy requires ({missing} "
                        "missing): release refused (sign its report with `audit sign {id} --by NAME --role ROLE "
                        "--report PATH`, or give the reason: `audit release {id} --force REASON`)")


@dataclass(frozen=True)
class RunRecord:
    """A stored run as listed by ``audit history`` (no result document)."""

    id: int
    recorded_at: str
    name: str
    model_name: str
    source: str | None
    verdict: str
    gate_passed: bool
    gate_informational: bool
    gate_rechecked: bool
    released: bool
    released_at: str | None
    release_forced: bool
    release_reason: str | None
    model_sha256: str | None
    data_sha256: str | None
    tool_version: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    audit_json_sha256: str | None = None
    report_sha256: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite keeps no time zone: every stored time is UTC
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat()


def _verdict(passed: bool, informational: bool) -> str:
    return ("pass" if passed else "fail") + (" (informational)" if informational else "")


class HistoryStore:
    """The history database at ``url``.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL: ``sqlite:///PATH`` or ``postgresql+psycopg://USER@HOST/DB``.
    create : bool, default False
        Create the schema in an empty database on the first write (``audit run`` does; reading
        commands never create a database).
    """

    def __init__(self, url: str, *, create: bool = False):
        self.url = url
        self.create = create
        self._engine = None
        self._checked = False

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def shown_url(self) -> str:
        """The URL with its password masked."""
        return display_url(self.url)

    def _engine_(self):
        if self._engine is None:
            path = sqlite_path(self.url)
            if path is not None and not self.create and not path.is_file():
                raise NoDatabase(MSG_NO_FILE, path=path,
                                 hint="`audit run` creates it; choose another with --db URL or AUDIT_DB")
            self._engine = make_engine(self.url)
        return self._engine

    @contextlib.contextmanager
    def _session(self, doing: str, *, write: bool = False) -> Iterator:
        """A session in one transaction; the schema is checked (or created) first, under the lock."""
        from sqlalchemy.exc import SQLAlchemyError
        from sqlalchemy.orm import Session

        from audit.history import schema

        engine = self._engine_()
        try:
            with Session(engine, expire_on_commit=False) as session:
                with session.begin():
                    conn = session.connection(execution_options=WRITE if write else None)
                    if not self._checked:
                        if write and self.create:
                            schema.lock(conn)
                        schema.check(conn, self.url, create=write and self.create)
                    yield session
            self._checked = True  # only once the transaction (and any schema it created) committed
        except AuditError:
            raise
        except SQLAlchemyError as exc:
            raise database_error(exc, self.url, doing) from None

    def close(self) -> None:
        """Release the connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- writing ----------------------------------------------------------------------------------
    def record_runs(self, results: list[tuple[dict, str | None]]) -> list[int]:
        """Store several (result, audit.json text) pairs in one transaction (e.g. an import); their ids."""
        rows = [self._row(result, text) for result, text in results]
        with self._session("could not record the runs", write=True) as s:
            s.add_all(rows)
            s.flush()
            return [row.id for row in rows]

    def record_run(self, result: dict, *, audit_json_text: str | None = None,
                   report_sha256: str | None = None) -> int:
        """Store one audit result (numbers only) with its key metrics; return the new run id.

        Parameters
        ----------
        result : dict
            The audit result as written to audit.json (its ``gate`` section included).
        audit_json_text : str, optional
            The audit.json text as written, whose sha256 lets ``audit gate`` find the run later.
        report_sha256 : str, optional
            sha256 of the report.html written with it: ``audit sign`` accepts only that file.
        """
        row = self._row(result, audit_json_text)
        row.report_sha256 = report_sha256
        with self._session("could not record the run", write=True) as s:
            s.add(row)
            s.flush()
            return row.id

    @staticmethod
    def _row(result: dict, audit_json_text: str | None):
        from audit.history.models import Run, RunMetric

        run = result.get("run") or {}
        gate = result.get("gate") or {}
        model_hash, data_hash = rec.hashes(result)
        row = Run(
            recorded_at=_now(), name=str(run.get("name") or run.get("model_name") or "audit")[:255],
            model_name=str(run.get("model_name") or run.get("name") or "audit")[:255],
            source=run.get("source"), tool_version=(result.get("tool") or {}).get("version") or __version__,
            audit_json_sha256=rec.text_sha256(audit_json_text) if audit_json_text is not None else None,
            model_sha256=model_hash, data_sha256=data_hash,
            gate_passed=bool(gate.get("passed")), gate_informational=bool(gate.get("informational", True)),
            released=False, release_forced=False, result=rec.stored_result(result),
        )
        row.metrics = [RunMetric(name=k, value=v) for k, v in rec.key_metrics(result).items()]
        return row

    def record_gate(self, audit_json_text: str, verdict: dict, *, policy_source: str | None,
                    checklist_source: str | None) -> int | None:
        """Store an ``audit gate`` verdict against the run whose audit.json text this is.

        Returns
        -------
        int or None
            The run id, or None when no stored run has that audit.json (nothing is written).
        """
        from sqlalchemy import select

        from audit.history.models import GateVerdict, Run

        sha = rec.text_sha256(audit_json_text)
        with self._session("could not record the gate verdict", write=True) as s:
            run_id = s.scalar(select(Run.id).where(Run.audit_json_sha256 == sha).order_by(Run.id.desc()).limit(1))
            if run_id is None:
                return None
            s.add(GateVerdict(run_id=run_id, recorded_at=_now(), passed=bool(verdict.get("passed")),
                              policy_source=policy_source, checklist_source=checklist_source,
                              verdict=rec.stored_result(verdict)))
            return run_id

    def sign(self, run_id: int, *, by: str, role: str, report_sha256: str,
             statement: str | None = None) -> dict[str, Any]:
        """Record that ``by`` (in ``role``) reviewed the report of run ``run_id`` whose sha256 is ``report_sha256``.

        Refused (AuditError) for an unknown run, an empty name or role, a run recorded without its report's
        hash, or a hash that is not the run's report's. Each sign-off is one insert: concurrent signers
        never lose one another's.

        Returns
        -------
        dict
            ``{by, role, at, statement, report_sha256}`` as stored (``at``: UTC, ISO 8601).
        """
        from audit.history.models import Run, Signoff

        by, role = (by or "").strip(), (role or "").strip()
        if not by:
            raise AuditError(MSG_SIGN_EMPTY.format(option="--by", what="the reviewer's name"))
        if not role:
            raise AuditError(MSG_SIGN_EMPTY.format(option="--role", what="the reviewer's role"))
        statement = (statement or "").strip() or None
        with self._session("could not record the sign-off", write=True) as s:
            # the run's row locked (PostgreSQL: SELECT ... FOR UPDATE; SQLite's write transaction already holds the
            # database): two signers of one run take turns, so "each reviewer signs once" holds under concurrency
            run = s.get(Run, run_id, with_for_update=True)
            if run is None:
                raise AuditError(MSG_NO_RUN.format(id=run_id), path=self.shown_url)
            if run.report_sha256 is None:
                raise AuditError(MSG_SIGN_NO_HASH.format(id=run_id))
            if run.report_sha256 != report_sha256:
                raise AuditError(MSG_SIGN_DIFFERS.format(id=run_id, got=report_sha256[:12] + "…",
                                                         want=run.report_sha256[:12] + "…"))
            earlier = [so for so in run.signoffs if _reviewer(so.signed_by) == _reviewer(by)]
            if earlier:
                raise AuditError(MSG_SIGN_REPEAT.format(by=by, id=run_id, at=_signoff(earlier[0])["at"]))
            row = Signoff(run_id=run_id, signed_by=by[:255], role=role[:255], signed_at=_now(),
                          statement=statement, report_sha256=report_sha256)
            s.add(row)
            s.flush()
            return _signoff(row)

    def signoffs(self, run_id: int) -> list[dict[str, Any]]:
        """The sign-offs of run ``run_id``, oldest first (``[]`` for an unknown run)."""
        from sqlalchemy import select

        from audit.history.models import Signoff

        with self._session("could not read the history") as s:
            return [_signoff(row) for row in s.scalars(select(Signoff).where(Signoff.run_id == run_id)
                                                       .order_by(Signoff.id))]

    def released_review(self, model: str) -> dict[str, Any] | None:
        """The last released run of ``model`` with its sign-offs, as audit.json's ``released_baseline``
        (None when no run of it is released)."""
        from sqlalchemy import select

        from audit.history.models import Run

        with self._session("could not read the history") as s:
            run = s.scalar(select(Run).where(Run.model_name == model, Run.released.is_(True))
                           .order_by(Run.released_at.desc().nulls_last(), Run.id.desc()).limit(1))
            if run is None:
                return None
            return {"run_id": run.id, "released_at": _iso(run.released_at), "report_sha256": run.report_sha256,
                    "forced": bool(run.release_forced), "reason": run.release_reason,
                    "signoffs": [_signoff(row) for row in run.signoffs]}

    def release(self, run_id: int, *, force_reason: str | None = None,
                min_signoffs: int | None = None) -> tuple[RunRecord, bool, list[str]]:
        """Mark a run released; refused while its latest gate verdict failed, or while it has fewer sign-offs of
        its report than ``min_signoffs`` (default: the ``[release]`` policy its latest verdict was judged
        with, 0 when none), unless forced with a reason.

        Returns
        -------
        (RunRecord, bool, list of str)
            The run after the change, whether it changed (False: it was already released), and what a forced
            release overrode (its failed gate, its missing sign-offs; empty when nothing was overridden).
        """
        from audit.history.models import Run

        if force_reason is not None and not force_reason.strip():
            raise AuditError("--force needs a reason: say why the failed gate or the missing sign-offs are overridden")
        with self._session("could not release the run", write=True) as s:
            run = s.get(Run, run_id)
            if run is None:
                raise AuditError(MSG_NO_RUN.format(id=run_id), path=self.shown_url)
            if run.released:
                return self._records(s, [run])[0], False, []
            latest = run.gates[-1] if run.gates else None
            passed = latest.passed if latest is not None else run.gate_passed
            if not passed and force_reason is None:
                rules = (latest.verdict if latest is not None else run.result.get("gate") or {}).get("rules") or []
                failed = [r.get("name") for r in rules if not r.get("passed") and not r.get("skipped")]
                what = ("gate re-evaluation" if latest is not None else
                        "informational gate (default policy)" if run.gate_informational else "release gate")
                raise AuditError(MSG_REFUSED.format(
                    id=run_id, what=what, rules=f" ({', '.join(map(str, failed))})" if failed else ""))
            # a policy given now, or a later re-gate, can ask for more sign-offs than the run was judged with,
            # never fewer: lowering the requirement is an override, which takes --force and its reason
            judged = [run.result.get("gate") or {}, *(g.verdict or {} for g in run.gates)]
            recorded = max(int((v.get("release_policy") or {}).get("min_signoffs") or 0) for v in judged)
            need = max(recorded, min_signoffs or 0)
            have = len({_reviewer(so.signed_by) for so in run.signoffs if so.report_sha256 == run.report_sha256})
            if have < need and force_reason is None:
                raise AuditError(MSG_MISSING_SIGNOFFS.format(id=run_id, have=have, need=need, missing=need - have))
            overridden = []
            if not passed:
                overridden.append("its failed gate" + (" (re-evaluated)" if latest is not None else ""))
            if have < need:
                overridden.append(f"{need - have} missing sign-off{'s' if need - have > 1 else ''} "
                                  f"({have} of {need})")
            run.released = True
            run.released_at = _now()
            run.release_forced = bool(overridden)
            run.release_reason = force_reason.strip() if force_reason is not None else None
            s.flush()
            return self._records(s, [run])[0], True, overridden

    # -- reading ----------------------------------------------------------------------------------
    def list_runs(self, *, model: str | None = None, limit: int | None = DEFAULT_LIMIT) -> list[RunRecord]:
        """Runs, newest first (optionally of one model name), without their result documents."""
        from sqlalchemy import select

        from audit.history.models import Run

        query = select(*_listed()).order_by(Run.id.desc())  # plain rows: no result documents, no ORM objects
        if model is not None:
            query = query.where(Run.model_name == model)
        if limit is not None:
            query = query.limit(limit)
        with self._session("could not read the history") as s:
            runs = list(s.execute(query))
            return self._records(s, runs)

    def trend(self, model: str, *, limit: int = DEFAULT_LIMIT) -> list[RunRecord]:
        """The last ``limit`` runs of ``model``, oldest first (for the report's trend)."""
        return list(reversed(self.list_runs(model=model, limit=limit)))

    def get(self, run_id: int) -> tuple[RunRecord, dict, list[dict]]:
        """A run's record, its stored result and its gate re-evaluations (oldest first)."""
        from audit.history.models import Run

        with self._session("could not read the history") as s:
            run = s.get(Run, run_id)
            if run is None:
                raise AuditError(MSG_NO_RUN.format(id=run_id), path=self.shown_url)
            gates = [{"id": g.id, "recorded_at": _iso(g.recorded_at), "passed": g.passed,
                      "policy_source": g.policy_source, "checklist_source": g.checklist_source,
                      "verdict": g.verdict} for g in run.gates]
            return self._records(s, [run])[0], run.result, gates

    def baseline(self, ref: str, *, model: str) -> dict:
        """The stored result named by ``ref`` (``released``: the last released run of ``model``; or an
        id) as ``{source, result}`` for :func:`audit.pipeline.compare_baseline`."""
        from sqlalchemy import select

        from audit.history.models import Run

        if ref == "released":
            with self._session("could not read the history") as s:
                run = s.scalar(select(Run).where(Run.model_name == model, Run.released.is_(True))
                               .order_by(Run.released_at.desc().nulls_last(), Run.id.desc()).limit(1))
                if run is None:
                    raise AuditError(MSG_NO_RELEASED.format(model=model), path=self.shown_url)
                run_id, result = run.id, run.result
            label = f"history run #{run_id} (last released run of {model})"
        else:
            record, result, _ = self.get(int(ref))
            run_id = record.id
            label = f"history run #{run_id} ({record.model_name}, {record.recorded_at})"
        return {"source": label, "result": result, "run_id": run_id}

    def _records(self, s, runs: list) -> list[RunRecord]:
        """RunRecords of ``runs`` with their metrics and latest gate verdicts (two range queries)."""
        from sqlalchemy import select

        from audit.history.models import GateVerdict, RunMetric

        if not runs:
            return []
        ids = {r.id for r in runs}
        lo, hi = min(ids), max(ids)
        metrics: dict[int, dict[str, float]] = {}
        for run_id, name, value in s.execute(select(RunMetric.run_id, RunMetric.name, RunMetric.value)
                                             .where(RunMetric.run_id.between(lo, hi))):
            if run_id in ids:
                metrics.setdefault(run_id, {})[name] = value
        gates: dict[int, bool] = {}
        for run_id, passed in s.execute(select(GateVerdict.run_id, GateVerdict.passed)
                                        .where(GateVerdict.run_id.between(lo, hi)).order_by(GateVerdict.id)):
            if run_id in ids:
                gates[run_id] = passed
        out = []
        for r in runs:
            rechecked = r.id in gates
            passed = gates[r.id] if rechecked else r.gate_passed
            informational = False if rechecked else r.gate_informational
            found = metrics.get(r.id, {})
            ordered = {k: found[k] for k in rec.METRICS if k in found}
            out.append(RunRecord(
                id=r.id, recorded_at=_iso(r.recorded_at), name=r.name, model_name=r.model_name, source=r.source,
                verdict=_verdict(passed, informational), gate_passed=passed, gate_informational=informational,
                gate_rechecked=rechecked, released=r.released, released_at=_iso(r.released_at),
                release_forced=r.release_forced, release_reason=r.release_reason, model_sha256=r.model_sha256,
                data_sha256=r.data_sha256, tool_version=r.tool_version, metrics=ordered,
                audit_json_sha256=r.audit_json_sha256, report_sha256=r.report_sha256))
        return out


def _reviewer(name: str) -> str:
    """A reviewer's name as sign-offs are counted: one person, whatever the case and surrounding blanks."""
    return " ".join(name.split()).casefold()


def _signoff(row) -> dict[str, Any]:
    return {"by": row.signed_by, "role": row.role, "at": _iso(row.signed_at), "statement": row.statement,
            "report_sha256": row.report_sha256}


def _listed():
    from audit.history.models import Run

    return (Run.id, Run.recorded_at, Run.name, Run.model_name, Run.source, Run.gate_passed,
            Run.gate_informational, Run.released, Run.released_at, Run.release_forced, Run.release_reason,
            Run.model_sha256, Run.data_sha256, Run.tool_version, Run.audit_json_sha256, Run.report_sha256)
