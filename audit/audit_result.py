"""AuditResult: one audit's result (the audit.json mapping) with its verdict, files and displays."""

from __future__ import annotations

import copy
import html
from pathlib import Path
from typing import Any

#: Height of the report frame in a notebook; the report scrolls inside it.
NOTEBOOK_FRAME_HEIGHT = 720


class AuditResult:
    """The result of :func:`audit.run_audit`: every number with its convention, the checklist, the
    baseline comparison and the verdict, in the shape of ``audit.json`` (:mod:`audit.result.schema`).

    Parameters
    ----------
    data : dict
        The result mapping (:class:`audit.result.schema.AuditJSON`); kept as given, not copied.
    trends : dict, optional
        The last stored runs of this model from the history database (``run_audit(history=…)``), shown
        as the report's Trends section; not part of audit.json.

    Examples
    --------
    >>> result = audit.run_audit("predictions.npz", policy="audit-policy.toml")   # doctest: +SKIP
    >>> result.passed, result.gate["rules"][0]["name"]                             # doctest: +SKIP
    (True, 'min_accuracy')
    >>> result.save("reports/try5")                                                # doctest: +SKIP
    """

    def __init__(self, data: dict[str, Any], *, trends: dict | None = None):
        self.data = data
        self.trends = trends

    @classmethod
    def load(cls, path: str | Path) -> "AuditResult":
        """Read a stored ``audit.json`` back (validated as ``audit gate`` validates it)."""
        from audit.result.load import load_audit_json

        return cls(load_audit_json(path))

    # -- the verdict ----------------------------------------------------------------------------------

    @property
    def gate(self) -> dict[str, Any]:
        """The verdict: ``{policy_source, informational, passed, rules[]}``."""
        return self.data["gate"]

    @property
    def passed(self) -> bool:
        """Whether every rule of the policy passed (an informational verdict may still say False)."""
        return bool(self.gate["passed"])

    # -- forms ----------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the result mapping (JSON types only)."""
        return copy.deepcopy(self.data)

    def to_json(self) -> str:
        """The canonical ``audit.json`` text: sorted keys, two-space indent, no NaN."""
        from audit.result.write import dump_json

        return dump_json(self.data)

    def render(self) -> dict[str, str]:
        """The four files of a run, rendered in memory: ``{file name: text}``."""
        from audit.render.html import render_html
        from audit.render.junit import render_junit
        from audit.render.markdown import render_markdown

        return {"audit.json": self.to_json(), "report.html": render_html(self.data, trends=self.trends),
                "summary.md": render_markdown(self.data), "junit.xml": render_junit(self.gate)}

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write audit.json, report.html, summary.md and junit.xml into ``out_dir`` as a set (rendered
        first, written to temporary names, then renamed: never half a report); return their paths."""
        from audit.result.write import write_outputs

        return {path.name: path for path in write_outputs(out_dir, self.render())}

    def record(self, db: str | None = None, *, saved: dict[str, Path] | None = None) -> int:
        """Record this run in the audit history database (``db``: a SQLAlchemy URL or SQLite path; default
        ``$AUDIT_DB``, else ``audit-history.sqlite`` in the reports folder); return its run id.

        ``saved`` is what :meth:`save` returned: the stored text is then the audit.json on disk, so that
        ``audit gate`` on that file finds this run. Only numbers are stored, never images.
        """
        from audit.history.engine import history_url

        url = history_url(db)  # a URL resolved by the caller stays as it is
        if saved is not None:
            from audit.history.hooks import record_run

            return record_run(self.data, saved, db=url)
        from audit.history.store import HistoryStore

        return HistoryStore(url, create=True).record_run(self.data, audit_json_text=self.to_json())

    def summary(self) -> str:
        """About ten lines for a terminal: accuracy, worst class, calibration, disparity, the verdict."""
        from audit.gate.verdict import verdict_line
        from audit.render.text import summarize

        return f"{summarize(self.data)}\n  {verdict_line(self.gate)}"

    # -- displays -------------------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        """The report, inline in a notebook, inside a sandboxed ``<iframe srcdoc>``: the report's CSS cannot
        reach the notebook page nor the notebook's CSS the report, and nothing in it can run."""
        from audit.render.html import render_html

        doc = html.escape(render_html(self.data, trends=self.trends), quote=True)
        return (f'<iframe sandbox="" srcdoc="{doc}" title="audit report" '
                f'style="width: 100%; height: {NOTEBOOK_FRAME_HEIGHT}px; border: 1px solid #ccc;"></iframe>')

    def __repr__(self) -> str:
        run = self.data.get("run") or {}
        acc = (self.data.get("overall") or {}).get("accuracy")
        gate = self.data.get("gate")
        verdict = "no verdict" if gate is None else ("passed" if gate["passed"] else "failed")
        accuracy = "n/a" if acc is None else f"{acc:.4f}"
        return (f"<AuditResult {run.get('name')!r}: N = {(self.data.get('overall') or {}).get('n')}, "
                f"accuracy {accuracy}, gate {verdict}>")
