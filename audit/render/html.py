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
from audit.gate.checklist import OPEN, STATUSES
from audit.render import charts
from audit.render import formatting as f
from audit.render.confidence_charts import confidence_view
from audit.render import views
from audit.result.headline import headline

#: Forbids every network load and every script; only inline styles and data: images are allowed.
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
#: A thumbnail is shown only if it is an inline raster image; anything else (http:, javascript:) is dropped.
REQUIRED = ("class_names", "overall", "per_class")
OPTIONAL = {
    "run": {}, "tool": {}, "provenance": {}, "conventions": {}, "confusion_matrix": None,
    "confusion_matrix_normalized": None, "confusion_cells": None, "top_confusions": [], "calibration": None,
    "disparity": [], "mistakes": [], "checklist": None, "gate": None, "baseline": None, "generated_at": None,
    "schema_version": None, "model_card": None, "selective": None, "ranking": None, "crosswalk": None,
    "released_baseline": None, "explanations": None,
}
MSG_MISSING = "the audit result has no {key!r} section; it cannot be rendered"
#: The report's sections in page order: (id, navigation label). Trends is there only with a history.
SECTIONS = (("verdict", "Verdict"), ("model-card", "Model card"), ("per-class", "Per class"),
            ("confusion", "Confusions"), ("calibration", "Calibration"), ("selective", "Human review"),
            ("disparity", "Disparity"), ("label-quality", "Label quality"), ("weak-slices", "Weak slices"),
            ("robustness", "Robustness"), ("mistakes", "Mistakes"),
            ("checklist", "Ethics checklist"), ("baseline", "Baseline"), ("trends", "Trends"),
            ("signoffs", "Sign-off"), ("crosswalk", "Crosswalk"), ("provenance", "Provenance"))
MSG_UNKNOWN_SECTION = "unknown report section {name!r}; sections: {known}"
_SECTION = re.compile(r'<section id="([\w-]+)".*?</section>\n*', re.S)
STATUS_LABELS = {status: status.capitalize() for status in (*STATUSES, OPEN)}


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept in the per-user cache (``<cache>/templates``, private to the user), so that a run
    does not compile the report's templates again (0.1 s); None where that folder cannot be made. jinja2 keys
    each entry by the template's source and its own and Python's versions, so an edited template or another
    version is compiled afresh."""
    from audit.paths import cache_dir

    folder = cache_dir() / "templates"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return _QuietBytecodeCache(str(folder))


class _QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """A bytecode cache that never fails a render: an entry that cannot be written is compiled again next time."""

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """The jinja2 environment, built once per process; compiled templates come from the per-user cache."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("audit.templates", "."),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        bytecode_cache=_bytecode_cache(),
    )
    env.filters.update(pct=f.wrapping_reason(f.pct), pp=f.wrapping_reason(f.pp), gap=f.wrapping_reason(f.gap),
                       dec=f.wrapping_reason(f.dec), count=f.count, ci=f.ci, value=f.value, keep_tokens=f.keep_tokens,
                       code_spans=f.code_spans)
    env.globals.update(status_label=lambda s: STATUS_LABELS.get(s, str(s)), is_number=f.is_number)
    from audit.render.robustness import robustness_view
    env.globals.update(robustness_view=robustness_view)
    from audit.render.data_quality import label_quality_view, slices_view
    env.globals.update(label_quality_view=label_quality_view, slices_view=slices_view)
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


def _charts(r: dict[str, Any]) -> dict[str, Any]:
    """Every chart of the report as Markup (the SVG functions escape all text they are given)."""
    out: dict[str, Any] = {}
    cv = views.class_view(r)
    rows = cv["chart_rows"]
    worst_only = cv["collapsed"]
    out["per_class"] = Markup(charts.bar_chart(
        [str(row["class"]) for row in rows], [row.get("error_rate") for row in rows],
        [row.get("error_rate_ci") for row in rows], chart_id="chart-per-class",
        title=(f"Error rate of the {len(rows)} worst classes of {cv['k']}" if worst_only
               else "Error rate per class"),
        desc=("Horizontal bars: error rate (1 - recall) of each class, whiskers: 95% interval; "
              + ("worst class first." if worst_only else "classes without samples are marked undefined.")),
        axis_label="error rate (bars: 95% interval)"))
    out.update(_confusion_charts(r))
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
            view["shown"], d.get("overall"), chart_id=f"chart-disparity-{i}",
            title=f"Accuracy by {d.get('name')}" + ("" if not view["collapsed"] else _shown_title(view)),
            desc=("Bars: accuracy per group with 95% interval; dashed line: overall accuracy."
                  + (" These groups are image-property slices, proxies only." if d.get("proxy") else ""))))
        for i, (d, view) in enumerate(zip(r["disparity"], _group_views(r)))
    ]
    return out


#: The key metrics of the trend: (key in the history, label, "pct" or "dec").
TREND_METRICS = (
    ("accuracy", "Accuracy", "pct"), ("balanced_accuracy", "Balanced accuracy", "pct"),
    ("worst_class_error", "Worst-class error", "pct"), ("ece_before", "ECE", "dec"),
    ("ece_after", "ECE after scaling", "dec"), ("largest_disparity", "Largest disparity", "pct"),
    ("review_load", "Human review load", "pct"),
    ("robustness_mean", "Robustness (mean accuracy)", "pct"),
)


def trend_metrics(trends: dict | None) -> list[tuple[str, str, str]]:
    """The key metrics measured in at least one run of the trend (robustness only where it was run)."""
    rows = (trends or {}).get("rows") or []
    return [m for m in TREND_METRICS if any(f.is_number(row["metrics"].get(m[0])) for row in rows)]


def trend_charts(trends: dict | None) -> list[tuple[str, Markup]]:
    """(label, chart) for each key metric measured in at least one of the runs."""
    from audit.render.trend_chart import trend_chart

    rows = (trends or {}).get("rows") or []
    out = []
    for key, label, kind in trend_metrics(trends):
        values = [row["metrics"].get(key) for row in rows]
        out.append((label, Markup(trend_chart(
            [row["label"] for row in rows], values, [row["released"] for row in rows],
            [row["current"] for row in rows], chart_id=f"chart-trend-{key}", title=f"{label} over the last runs",
            desc=f"{label} of each stored run of this model, oldest left; diamonds: released runs; ring: this run.",
            fmt=f.pct if kind == "pct" else (lambda v: f.dec(v, 4))))))
    return out


def _confusion_charts(r: dict[str, Any]) -> dict[str, Any]:
    """The confusion heatmaps the view calls for (see :func:`audit.render.views.confusion_view`)."""
    view = views.confusion_view(r)
    if view is None:
        return {}
    names = view["names"]
    if view["mode"] == "sub":
        return {"cm_sub": Markup(charts.heatmap(
            view["shares"], [[f.count(v) for v in row] for row in view["counts"]], names,
            chart_id="chart-cm-sub", title=f"Confusions among {len(names)} of {view['k']} classes",
            desc="The classes in the largest off-diagonal cells. Rows: true class, columns: predicted class; "
                 "each cell prints the count and is shaded by its share of the true class's samples."))}
    cm, cmn = r["confusion_matrix"], r["confusion_matrix_normalized"]
    if cmn is None:
        cmn = [None] * len(cm)
    if view["mode"] == "binary":
        texts = [[f"{f.count(c)} ({f.pct(s[j], 0) if s is not None else '–'})" for j, c in enumerate(row)]
                 for row, s in zip(cm, cmn)]
        return {"cm_binary": Markup(charts.heatmap(
            cmn, texts, names, chart_id="chart-cm-binary", title="Confusion matrix", cell=110,
            desc="Rows: true class, columns: predicted class; each cell prints the count and, in brackets, "
                 "its share of the true class's samples. Hatched rows have no samples."))}
    return {
        "cm_counts": Markup(charts.heatmap(
            cmn, [[f.count(v) for v in row] for row in cm], names, chart_id="chart-cm-counts",
            title="Confusion matrix (counts)",
            desc="Rows: true class, columns: predicted class; each cell prints the count and is shaded by "
                 "its share of the row.")),
        "cm_norm": Markup(charts.heatmap(
            cmn, [["–" if s is None else (f.pct(s[j], 0) if f.is_number(s[j]) else "–") for j in range(len(names))]
                  for s in cmn], names,
            chart_id="chart-cm-norm", title="Confusion matrix (row-normalised)",
            desc="Rows: true class, columns: predicted class; each cell is the share of the true class's "
                 "samples predicted as the column's class. Hatched rows have no samples.")),
    }


def _shown_title(view: dict) -> str:
    if view.get("shown_kind") == "largest":
        return f": the {len(view['shown'])} largest groups (none judged)"
    return f": {len(view['shown'])} worst and best judged groups"


def _group_views(r: dict[str, Any]) -> list[dict]:
    from audit.gate.group_judging import judging_size, min_group_sizes

    size, _ = min_group_sizes(r.get("gate"))
    return [views.grouping_view(d, judging_size(d, size)) for d in r["disparity"]]


def render_html(result: dict[str, Any], *, trends: dict | None = None, sections=None) -> str:
    """Render report.html from an audit result.

    Parameters
    ----------
    result : dict
        The audit result (schema version 1, see docs/audit-json.md).
    trends : dict, optional
        The last stored runs of this model, from :func:`audit.history.hooks.trend_rows`
        (``{model, rows[], note}``); without it the report has no Trends section.
    sections : sequence of str, optional
        Only these sections (ids of :data:`SECTIONS`, in page order whatever the order given); default all.

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
    if sections is not None:
        sections = check_sections(sections)
    r = normalise(result)
    h = headline(r)
    mistakes = [
        {**m, "thumbnail": f.safe_image(m.get("thumbnail"))}
        for m in r["mistakes"]
    ]
    ex, explained = _explanations(r)
    checklist = r["checklist"]
    categories: dict[str, list] = {}
    for item in (checklist or {}).get("items") or []:
        categories.setdefault(item.get("category") or "Other", []).append(item)
    env = _environment()
    page = env.get_template("report.html.j2").render(
        r=r,
        csp=CSP,
        charts={**_charts(r), "trends": trend_charts(trends)},
        trends=trends,
        trend_metrics=trend_metrics(trends),
        worst=h.worst_classes[:3],
        largest=h.largest_disparity,
        headline=h,
        classes=views.class_view(r),
        confusion=views.confusion_view(r),
        groupings=_group_views(r),
        model_card=(r["model_card"] or {}).get("fields") or {},
        mistakes=mistakes,
        ex=ex,
        explained=explained,
        categories=categories,
        confidence=confidence_view(r),
        crosswalk_groups=_crosswalk_groups(r),
        section_titles=dict(SECTIONS),
        nav=[(id_, label) for id_, label in SECTIONS if _present(id_, r, trends) and (sections is None or id_ in sections)],
    )
    if sections is None:
        return page
    return _SECTION.sub(lambda m: m.group(0) if m.group(1) in sections else "", page)


def _explanations(r: dict) -> tuple[dict | None, dict]:
    """The ``explanations`` section (None when absent) and its items by sample index, their images kept only
    when they are inline raster images (as the thumbnails)."""
    ex = r.get("explanations")
    if not isinstance(ex, dict):
        return None, {}
    items = {item.get("index"): {**item, "overlay": f.safe_image(item.get("overlay")),
                                 "heatmap": f.safe_image(item.get("heatmap"))}
             for item in ex.get("items") or [] if isinstance(item, dict)}
    return ex, items


def check_sections(sections) -> frozenset[str]:
    """The section ids asked for, each one checked against :data:`SECTIONS` (ValueError naming the closest;
    an empty list is refused, a non-iterable is a TypeError naming ``sections``)."""
    import difflib

    from collections.abc import Iterable, Mapping

    if isinstance(sections, str):
        sections = [sections]
    known = [id_ for id_, _ in SECTIONS]
    if not isinstance(sections, Iterable) or isinstance(sections, Mapping):
        raise TypeError(f"sections must be a section id or a list of them (such as {known[0]!r}); "
                        f"got {type(sections).__name__}")
    sections = list(sections)
    if not sections:
        raise ValueError(f"sections must name at least one section (None shows them all); known: {', '.join(known)}")
    for name in sections:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
            raise ValueError(MSG_UNKNOWN_SECTION.format(name=name, known=", ".join(known))
                             + (f"; did you mean {close[0]!r}?" if close else ""))
    return frozenset(sections)


def for_frame(page: str) -> str:
    """``page`` for an ``<iframe srcdoc>``: its section links point at ``about:srcdoc#…``, the frame's own
    document (a bare ``#id`` resolves against the embedding page's URL and loads that page into the frame)."""
    return page.replace('href="#', 'href="about:srcdoc#')


def _crosswalk_groups(r: dict[str, Any]) -> list[tuple[str, list[dict]]]:
    """The crosswalk's rows by framework, in the mapping's order."""
    groups: dict[str, list[dict]] = {}
    for row in (r["crosswalk"] or {}).get("rows") or []:
        groups.setdefault(row["framework"], []).append(row)
    return list(groups.items())


def _present(section: str, r: dict[str, Any], trends: dict | None) -> bool:
    """Whether the report has ``section``: Trends only with a history, the crosswalk only where the result has one."""
    if section == "trends":
        return trends is not None
    if section == "crosswalk":
        return bool(r.get("crosswalk"))
    return True
