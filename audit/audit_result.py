"""AuditResult: one audit's result (the audit.json mapping) with its verdict, files and displays."""

from __future__ import annotations

import copy
import html
import numbers
import re
from pathlib import Path
from typing import Any, Sequence

from audit.errors import check_keywords

#: Height of the report frame in a notebook: most of the window (the report scrolls inside it) and never
#: less than a screenful of the header, verdict and headline.
NOTEBOOK_FRAME_HEIGHT = "max(480px, 80vh)"
MSG_HEIGHT = "height must be a positive number of pixels or a CSS length such as '80vh'; got {value!r}"
#: A CSS length ``show(height=...)`` takes as text (nothing else reaches the frame's style attribute).
CSS_LENGTH = re.compile(r"\d+(\.\d+)?(px|vh|vw|em|rem|%)")


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

    @check_keywords
    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write audit.json, report.html, summary.md and junit.xml into ``out_dir`` as a set (rendered
        first, written to temporary names, then renamed: never half a report); return their paths."""
        from audit.result.write import write_outputs

        return {path.name: path for path in write_outputs(out_dir, self.render())}

    @check_keywords
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

    # -- pandas views (built from the result on each access; nothing is computed again) -----------------

    @property
    def overall(self):
        """The overall numbers (N, correct, accuracy with its interval, balanced accuracy, macro F1, …, ECE) as a
        float64 Series, as fairlearn's ``MetricFrame.overall``: runs stack into numeric columns
        (``pd.DataFrame([r.overall for r in runs])``). Counts are floats here too and an undefined number is
        NaN; an item that is not a number is left out (it stays in ``result.data["overall"]``)."""
        import pandas as pd

        row = dict(self.data.get("overall") or {})
        ci = row.pop("accuracy_ci", None) or [None, None]
        out = {"n": row.pop("n", None), "n_correct": row.pop("n_correct", None), "accuracy": row.pop("accuracy", None),
               "accuracy_ci_low": ci[0], "accuracy_ci_high": ci[1], **row}
        cal = self.data.get("calibration") or {}
        out["ece"] = cal.get("ece")
        numbers_only = {k: (None if v is None else float(v)) for k, v in out.items()
                        if v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool))}
        return pd.Series(numbers_only, name=self.name, dtype="float64")

    @property
    def per_class(self):
        """One row per class (indexed by class name): support, errors, error rate and its interval, precision,
        recall, F1, ROC AUC, average precision."""
        import pandas as pd

        columns = ["class", "support", "errors", "error_rate", "error_rate_ci_low", "error_rate_ci_high",
                   "precision", "recall", "f1", "roc_auc", "average_precision"]
        rows = []
        for r in self.data.get("per_class") or []:
            ci = r.get("error_rate_ci") or [None, None]
            support, rate = r.get("support"), r.get("error_rate")
            rows.append({"class": r.get("class"), "support": support,
                         "errors": None if rate is None or support is None else int(round(rate * support)),
                         "error_rate": rate, "error_rate_ci_low": ci[0], "error_rate_ci_high": ci[1],
                         "precision": r.get("precision"), "recall": r.get("recall"), "f1": r.get("f1"),
                         "roc_auc": r.get("roc_auc"), "average_precision": r.get("average_precision")})
        return pd.DataFrame(rows, columns=columns).set_index("class")

    @property
    def confusion(self):
        """The K × K confusion counts: rows the true class, columns the predicted class."""
        import pandas as pd

        from audit.render.views import confusion_counts

        names = list(self.data.get("class_names") or [])
        counts = confusion_counts(self.data)
        frame = pd.DataFrame(counts if counts is not None else [], index=names, columns=names)
        frame.index.name, frame.columns.name = "true", "predicted"
        return frame

    @property
    def disparity(self):
        """Accuracy by group: indexed by (column, group), with n, accuracy, its interval and whether the gate
        judged the group: its grouping is one the disparity rules judged (the policy's ``groupings``; proxies
        only with ``include_proxies``) and the group has the policy's minimum size
        (:func:`audit.gate.group_judging.judged_by_gate`). Groups not judged are shown all the same."""
        import pandas as pd

        from audit.gate.group_judging import judged_by_gate

        rows = []
        for d in self.data.get("disparity") or []:
            judged_names = judged_by_gate(self.data.get("gate"), d)
            for g in d.get("groups") or []:
                ci = g.get("accuracy_ci") or [None, None]
                rows.append({"column": d.get("name"), "group": g.get("group"), "n": g.get("n"),
                             "accuracy": g.get("accuracy"), "accuracy_ci_low": ci[0], "accuracy_ci_high": ci[1],
                             "judged": str(g.get("group")) in judged_names})
        columns = ["column", "group", "n", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "judged"]
        return pd.DataFrame(rows, columns=columns).set_index(["column", "group"])

    @property
    def rules(self):
        """One row per gate rule: name, passed, skipped, value, threshold, reason."""
        import pandas as pd

        columns = ["name", "passed", "skipped", "value", "threshold", "reason"]
        rules = (self.data.get("gate") or {}).get("rules") or []
        return pd.DataFrame([{c: r.get(c) for c in columns} for r in rules], columns=columns)

    @property
    def robustness(self):
        """Accuracy under corruption, corruptions × severities (None when the audit ran no corruptions)."""
        section = self.data.get("robustness")
        if not section:
            return None
        import pandas as pd

        frame = pd.DataFrame([{"corruption": c.get("corruption"), "severity": c.get("severity"),
                               "accuracy": c.get("accuracy")} for c in section.get("cells") or []])
        if frame.empty:
            return frame
        return frame.pivot(index="corruption", columns="severity", values="accuracy")

    @property
    def label_issues(self):
        """The suspected label errors (``label_quality.flagged``), most suspicious first: sample id, given and
        suggested class, cleanlab's label-quality score, indexed by the sample's row (None when the section
        was not computed: a streamed or Dask audit, or labels of one class; ``data["label_quality"]["reason"]``
        says why)."""
        section = self.data.get("label_quality") or {}
        if not section.get("computed"):
            return None
        import pandas as pd

        columns = ["index", "sample_id", "given", "suggested", "score"]
        return pd.DataFrame([{c: f.get(c) for c in columns} for f in section.get("flagged") or []],
                            columns=columns).set_index("index")

    @property
    def weak_slices(self):
        """The slices SliceLine found (``slices.found``), in its order: the predicates, n, error rate and its
        interval, the error of its classes it exceeds, the one-sided binomial p-value and whether it is
        confirmed on the held-out half (None when the section was not computed)."""
        section = self.data.get("slices") or {}
        if not section.get("computed"):
            return None
        import pandas as pd

        columns = ["slice", "n", "error_rate", "error_rate_ci_low", "error_rate_ci_high", "expected_error",
                   "excess", "p_value", "confirmed"]
        rows = []
        for f in section.get("found") or []:
            ci = f.get("error_rate_ci") or [None, None]
            rows.append({"slice": " & ".join(f"{k}={v}" for k, v in (f.get("predicates") or {}).items()),
                         "n": f.get("n"), "error_rate": f.get("error_rate"), "error_rate_ci_low": ci[0],
                         "error_rate_ci_high": ci[1], "expected_error": f.get("expected_error"),
                         "excess": f.get("excess"), "p_value": f.get("p_value"), "confirmed": f.get("confirmed")})
        return pd.DataFrame(rows, columns=columns)

    @property
    def name(self) -> str | None:
        """The run's name."""
        return (self.data.get("run") or {}).get("name")

    # -- the verdict again ----------------------------------------------------------------------------

    @check_keywords
    def regate(self, policy, *, checklist=None) -> "AuditResult":
        """This result judged against ``policy`` (a Policy, a path or a mapping with the file's structure),
        with ``checklist``'s answers if given; a new result: this one is left unchanged, no file is written."""
        from audit.gating import regate

        return AuditResult(regate(self, policy=policy, checklist=checklist).data, trends=self.trends)

    # -- displays -------------------------------------------------------------------------------------

    @check_keywords
    def save_html(self, path: str | Path) -> Path:
        """Write report.html alone to ``path`` (atomically); return the path."""
        from audit.atomic import atomic_path
        from audit.render.html import render_html

        path = Path(path)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(render_html(self.data, trends=self.trends), encoding="utf-8")
        return path

    @check_keywords
    def show(self, height: int | str | None = None, sections: Sequence[str] | None = None) -> "ReportView":
        """The inline report for a notebook: the summary, then the report in a frame ``height`` pixels high (or
        a CSS length; default :data:`NOTEBOOK_FRAME_HEIGHT`) with only ``sections`` (ids such as
        ``"verdict"``, ``"calibration"``, ``"disparity"``; default all)."""
        from audit.render.html import check_sections

        if height is None:
            css_height = NOTEBOOK_FRAME_HEIGHT
        elif isinstance(height, str) and CSS_LENGTH.fullmatch(height.strip()):
            css_height = height.strip()
        elif isinstance(height, numbers.Real) and not isinstance(height, bool) and 0 < height < float("inf"):
            css_height = f"{float(height):g}px"  # numpy numbers too
        else:
            raise ValueError(MSG_HEIGHT.format(value=height))
        return ReportView(self, css_height, None if sections is None else check_sections(sections))

    def _repr_html_(self) -> str:
        return self.show()._repr_html_()

    def __repr__(self) -> str:
        run = self.data.get("run") or {}
        acc = (self.data.get("overall") or {}).get("accuracy")
        gate = self.data.get("gate")
        verdict = "no verdict" if gate is None else ("passed" if gate["passed"] else "failed")
        if gate is not None and gate.get("informational"):
            verdict += " (informational)"  # the default policy: the exit code is not affected
        accuracy = "n/a" if acc is None else f"{acc:.4f}"
        return (f"<AuditResult {run.get('name')!r}: N = {(self.data.get('overall') or {}).get('n')}, "
                f"accuracy {accuracy}, gate {verdict}>")


class ReportView:
    """What a notebook shows for a result: a compact summary (plain HTML, kept by an untrusted notebook's
    sanitizer) above the report in a sandboxed ``<iframe srcdoc>`` (its CSS and the notebook's never mix,
    nothing in it can run, and its section links stay inside it)."""

    def __init__(self, result: AuditResult, height: str, sections: frozenset[str] | None):
        self.result, self.height, self.sections = result, height, sections

    def __repr__(self) -> str:
        return repr(self.result)

    def _repr_html_(self) -> str:
        from audit.render.html import for_frame, render_html

        page = render_html(self.result.data, trends=self.result.trends, sections=self.sections)
        doc = html.escape(for_frame(page), quote=True)
        return (f'<div class="audit-result">{summary_html(self.result.data)}'
                f'<iframe sandbox="" srcdoc="{doc}" title="audit report" '
                f'style="display: block; box-sizing: border-box; width: 100%; height: {html.escape(self.height)}; '
                f'border: 1px solid #ccc;"></iframe></div>')


#: What the summary adds to a verdict judged by the default policy (no ``policy=``, no ``--policy``).
INFORMATIONAL = "informational: default policy"


def verdict_text(gate: dict | None) -> str:
    """The verdict in a word for the summary: PASS or FAIL, marked ``(informational: default policy)`` when no
    policy was given (the default policy judged, the exit code is not affected); "no verdict" without a gate."""
    if not isinstance(gate, dict) or not gate:
        return "no verdict"
    word = "PASS" if gate.get("passed") else "FAIL"
    return f"{word} ({INFORMATIONAL})" if gate.get("informational") else word


def summary_html(data: dict[str, Any]) -> str:
    """The headline numbers as a small table: verdict, accuracy with its interval, worst class, ECE, largest
    disparity, human review, robustness and the failed rules (no style sheet, no script)."""
    from audit.render import formatting as f
    from audit.result.headline import headline

    h = headline(data)
    rows = [("Verdict", verdict_text(data.get("gate"))),
            ("Accuracy", f"{f.pct(h.accuracy)} (95% CI {f.ci(h.accuracy_ci)}), N = {f.count(h.n)}")]
    if h.worst_class:
        rows.append(("Worst class", f"{h.worst_class.get('class')}: error rate {f.pct(h.worst_class.get('error_rate'))}"))
    rows.append(("ECE", f.pct(h.ece) + (f", {f.pct(h.ece_after)} after temperature scaling"
                                        if h.ece_after is not None else "")))
    if h.largest_disparity:
        d = h.largest_disparity
        rows.append(("Largest disparity", f"{f.gap(d.get('difference'))} by {d.get('name')} "
                                          f"(worst group {d.get('worst_group')})"))
    if h.review and h.review.review_load is not None:
        rows.append(("Human review", f"{f.pct(h.review.review_load)} of images to reach "
                                     f"{f.pct(h.review.target_accuracy, 0)} accuracy"))
    if h.robustness and h.robustness.mean_accuracy is not None:
        rows.append(("Under corruption", f"mean accuracy {f.pct(h.robustness.mean_accuracy)}"
                     + (f", worst {h.robustness.worst_corruption}" if h.robustness.worst_corruption else "")))
    failed = [r.get("name") for r in ((data.get("gate") or {}).get("rules") or []) if not r.get("passed")]
    rows.append(("Failed rules", ", ".join(map(str, failed)) or "none"))
    body = "".join(f"<tr><th style=\"text-align: left; padding-right: 1em\">{html.escape(k)}</th>"
                   f"<td style=\"text-align: left\">{html.escape(str(v))}</td></tr>" for k, v in rows)
    return (f'<table class="audit-summary"><caption style="text-align: left; font-weight: bold">Audit '
            f'{html.escape(h.name)}</caption><tbody>{body}</tbody></table>')
