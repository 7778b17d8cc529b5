"""report.html: one self-contained page (inline CSS and SVG, no script, no network) rendered from the result.

The renderer computes no metric: it picks sections out of the result dict, formats numbers and draws
charts of what is there. Sections the result lacks (gate, baseline, checklist, mistakes) are shown as
absent, never invented.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

import jinja2
from markupsafe import Markup

from audit.errors import AuditError
from audit.render import charts
from audit.render import formatting as f

#: Forbids every network load and every script; only inline styles and data: images are allowed.
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
#: A thumbnail is shown only if it is an inline raster image; anything else (http:, javascript:) is dropped.
THUMBNAIL = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+=*")
REQUIRED = ("class_names", "overall", "per_class")
OPTIONAL = {
    "run": {}, "tool": {}, "provenance": {}, "conventions": {}, "confusion_matrix": None,
    "confusion_matrix_normalized": None, "top_confusions": [], "calibration": None, "disparity": [],
    "mistakes": [], "checklist": None, "gate": None, "baseline": None, "generated_at": None,
    "schema_version": None,
}
MSG_MISSING = "the audit result has no {key!r} section; it cannot be rendered"
STATUS_LABELS = {"yes": "Yes", "no": "No", "not applicable": "Not applicable", "open": "Open"}


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """The jinja2 environment, built (and its templates compiled) once per process."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("audit.templates", "."),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(pct=f.pct, pp=f.pp, gap=f.gap, dec=f.dec, count=f.count, ci=f.ci, value=f.value)
    env.globals.update(status_label=lambda s: STATUS_LABELS.get(s, str(s)), is_number=f.is_number)
    from audit.render.robustness import robustness_view
    env.globals.update(robustness_view=robustness_view)
    return env


def normalise(result: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``result`` with every optional top-level section present (None or empty)."""
    if not isinstance(result, dict):
        raise AuditError(f"the audit result must be a JSON object; got {type(result).__name__}")
    for key in REQUIRED:
        if key not in result:
            raise AuditError(MSG_MISSING.format(key=key))
    out = dict(result)
    for key, default in OPTIONAL.items():
        if out.get(key) is None:
            out[key] = copy.copy(default)
    return out


def worst_classes(result: dict[str, Any], n: int = 3) -> list[dict]:
    """The ``n`` classes with the highest error rate (undefined rates left out; ties by class index)."""
    rows = [r for r in result.get("per_class", []) if f.is_number(r.get("error_rate"))]
    return sorted(rows, key=lambda r: (-r["error_rate"], r.get("index", 0)))[:n]


def largest_disparity(result: dict[str, Any]) -> dict | None:
    """The grouping with the largest between-group accuracy difference, or None."""
    rows = [d for d in result.get("disparity") or [] if f.is_number(d.get("difference"))]
    return max(rows, key=lambda d: d["difference"]) if rows else None


def _charts(r: dict[str, Any]) -> dict[str, Any]:
    """Every chart of the report as Markup (the SVG functions escape all text they are given)."""
    out: dict[str, Any] = {}
    per_class = r["per_class"]
    out["per_class"] = Markup(charts.bar_chart(
        [str(row["class"]) for row in per_class], [row.get("error_rate") for row in per_class],
        [row.get("error_rate_ci") for row in per_class], chart_id="chart-per-class",
        title="Error rate per class",
        desc="Horizontal bars: error rate (1 - recall) of each class, whiskers: 95% interval; "
             "classes without samples are marked undefined.",
        axis_label="error rate (bars: 95% interval)"))
    cm, cmn, names = r["confusion_matrix"], r["confusion_matrix_normalized"], r["class_names"]
    if cm is not None and cmn is not None:
        out["cm_counts"] = Markup(charts.heatmap(
            cmn, [[f.count(v) for v in row] for row in cm], names, chart_id="chart-cm-counts",
            title="Confusion matrix (counts)",
            desc="Rows: true class, columns: predicted class; each cell prints the count and is shaded by "
                 "its share of the row."))
        out["cm_norm"] = Markup(charts.heatmap(
            cmn, [[f.pct(v, 0) if f.is_number(v) else "–" for v in row] for row in cmn], names,
            chart_id="chart-cm-norm", title="Confusion matrix (row-normalised)",
            desc="Rows: true class, columns: predicted class; each cell is the share of the true class's "
                 "samples predicted as the column's class. Hatched rows have no samples."))
    cal = r["calibration"]
    if cal:
        out["rel_before"] = Markup(charts.reliability_diagram(
            cal.get("bins") or [], chart_id="chart-rel-before", title="Reliability diagram before scaling",
            desc="Bars: accuracy in each confidence bin; shaded: gap to the mean confidence; dashed "
                 "diagonal: perfect calibration; strip below: samples per bin."))
        after = cal.get("after_scaling") or {}
        if after.get("bins"):
            out["rel_after"] = Markup(charts.reliability_diagram(
                after["bins"], chart_id="chart-rel-after",
                title="Reliability diagram after temperature scaling",
                desc="As before, with probabilities divided in logit space by the fitted temperature."))
    out["disparity"] = [
        Markup(charts.group_bar_chart(
            d.get("groups") or [], d.get("overall"), chart_id=f"chart-disparity-{i}",
            title=f"Accuracy by {d.get('name')}",
            desc=("Bars: accuracy per group with 95% interval; dashed line: overall accuracy."
                  + (" These groups are image-property slices, proxies only." if d.get("proxy") else ""))))
        for i, d in enumerate(r["disparity"])
    ]
    return out


def render_html(result: dict[str, Any]) -> str:
    """Render report.html from an audit result.

    Parameters
    ----------
    result : dict
        The audit result (schema version 1, see docs/audit-json.md).

    Returns
    -------
    str
        A complete HTML document: inline CSS and SVG, no script, a Content-Security-Policy that
        forbids network loads.

    Raises
    ------
    AuditError
        When a required section (class_names, overall, per_class) is missing.
    """
    r = normalise(result)
    mistakes = [
        {**m, "thumbnail": m.get("thumbnail") if THUMBNAIL.fullmatch(str(m.get("thumbnail") or "")) else None}
        for m in r["mistakes"]
    ]
    checklist = r["checklist"]
    categories: dict[str, list] = {}
    for item in (checklist or {}).get("items") or []:
        categories.setdefault(item.get("category") or "Other", []).append(item)
    env = _environment()
    return env.get_template("report.html.j2").render(
        r=r,
        csp=CSP,
        charts=_charts(r),
        worst=worst_classes(r),
        largest=largest_disparity(r),
        mistakes=mistakes,
        categories=categories,
    )
