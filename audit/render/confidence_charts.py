"""Inline SVG charts of the confidence section of the report: per-class ROC and precision–recall curves
and the risk–coverage curve with the target accuracy marked. Pure functions of the result; all text
escaped; nothing computed but positions.
"""

from __future__ import annotations

from typing import Any, Sequence

from markupsafe import Markup

from audit.render.charts import BAR, GAP, GAP_TEXT, GRID, INK, MUTED, escape, open_svg
from audit.render.formatting import is_number, pct

#: Classes whose ROC and PR curves are drawn; above this many classes, the worst (lowest ROC AUC) first.
MAX_CURVES = 12
SCALED = "#8a5a00"


def line_chart(series: Sequence[dict], *, chart_id: str, title: str, desc: str, x_label: str, y_label: str,
               size: int = 190, diagonal: bool = False, y_min: float = 0.0, marks: Sequence[dict] = ()) -> str:
    """Lines on a square [0, 1] × [y_min, 1] plot.

    Parameters
    ----------
    series : sequence of dict
        ``{x: [...], y: [...], label, colour, dashed}`` per line (points with a non-number are skipped).
    marks : sequence of dict
        ``{x or y, label}``: a dashed guide line at x (vertical) or y (horizontal), labelled.
    """
    left, top, bottom = 44, 10, 40
    width, height = left + size + 14, top + size + bottom + 16 * len(series)

    def sx(v: float) -> float:
        return left + size * min(max(v, 0.0), 1.0)

    def sy(v: float) -> float:
        t = (v - y_min) / (1.0 - y_min) if y_min < 1 else 0.0
        return top + size * (1 - min(max(t, 0.0), 1.0))

    out = [open_svg(chart_id, width, height, title, desc)]
    for i in range(5):
        tx, ty = i / 4, y_min + (1 - y_min) * i / 4
        out.append(f'<line x1="{sx(tx):.1f}" x2="{sx(tx):.1f}" y1="{top}" y2="{top + size}" stroke="{GRID}"/>')
        out.append(f'<line x1="{left}" x2="{left + size}" y1="{sy(ty):.1f}" y2="{sy(ty):.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{sx(tx):.1f}" y="{top + size + 14}" text-anchor="middle" fill="{MUTED}" '
                   f'font-size="10">{tx:.2g}</text>')
        out.append(f'<text x="{left - 4}" y="{sy(ty) + 3:.1f}" text-anchor="end" fill="{MUTED}" '
                   f'font-size="10">{ty:.2g}</text>')
    if diagonal:
        out.append(f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(1)}" y2="{sy(1)}" stroke="{MUTED}" stroke-dasharray="3 3"/>')
    for mark in marks:
        if is_number(mark.get("x")):
            x = sx(mark["x"])
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + size}" stroke="{GAP}" '
                       f'stroke-width="1.5" stroke-dasharray="4 3"/>')
            out.append(f'<text x="{x + 3:.1f}" y="{top + 10}" fill="{GAP_TEXT}" font-size="10">{escape(mark["label"])}</text>')
        if is_number(mark.get("y")):
            y = sy(mark["y"])
            out.append(f'<line x1="{left}" x2="{left + size}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GAP}" '
                       f'stroke-width="1.5" stroke-dasharray="4 3"/>')
            out.append(f'<text x="{left + 3}" y="{y - 3:.1f}" fill="{GAP_TEXT}" font-size="10">{escape(mark["label"])}</text>')
    for i, s in enumerate(series):
        points = [(x, y) for x, y in zip(s.get("x") or [], s.get("y") or []) if is_number(x) and is_number(y)]
        colour = s.get("colour", BAR)
        dash = ' stroke-dasharray="6 3"' if s.get("dashed") else ""
        if points:
            path = " ".join(f"{'M' if j == 0 else 'L'}{sx(x):.1f} {sy(y):.1f}" for j, (x, y) in enumerate(points))
            out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        ly = top + size + 30 + 16 * i
        out.append(f'<line x1="{left}" x2="{left + 18}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
                   f'stroke-width="2"{dash}/>')
        out.append(f'<text x="{left + 24}" y="{ly}" font-size="11">{escape(s.get("label", ""))}</text>')
    out.append(f'<text x="10" y="{top + size / 2}" text-anchor="middle" fill="{MUTED}" font-size="10" '
               f'transform="rotate(-90 10 {top + size / 2})">{escape(y_label)}</text>')
    out.append(f'<text x="{left + size}" y="{top + size + 26}" text-anchor="end" fill="{MUTED}" '
               f'font-size="10">{escape(x_label)}</text>')
    out.append("</svg>")
    return "".join(out)


def curve_classes(r: dict) -> list[int]:
    """Indices of the classes whose curves are drawn: all, in class order, up to MAX_CURVES classes;
    above that the MAX_CURVES with the lowest ROC AUC, worst first (undefined AUC left out)."""
    rows = r.get("per_class") or []
    if len(rows) <= MAX_CURVES:
        return list(range(len(rows)))
    rated = [i for i, row in enumerate(rows) if is_number(row.get("roc_auc"))]
    return sorted(rated, key=lambda i: (rows[i]["roc_auc"], i))[:MAX_CURVES]


def confidence_view(r: dict[str, Any]) -> dict[str, Any]:
    """What the confidence section of the report shows: the classes and charts, as Markup."""
    rows = r.get("per_class") or []
    curves = ((r.get("ranking") or {}).get("curves")) or []
    shown = curve_classes(r) if curves else []
    per_class = []
    for i in shown:
        if i >= len(curves):
            continue
        row, c = rows[i], curves[i]
        roc, pr = c.get("roc") or {}, c.get("pr") or {}
        name = str(row.get("class"))
        per_class.append({
            "class": name, "row": row,
            "roc": Markup(line_chart(
                [{"x": roc.get("fpr"), "y": roc.get("tpr"), "label": f"AUC {_num(row.get('roc_auc'))}"}],
                chart_id=f"chart-roc-{i}", title=f"ROC curve of {name}",
                desc=f"True-positive rate against false-positive rate of {name} against the rest; "
                     "dashed diagonal: chance.", x_label="false-positive rate", y_label="true-positive rate",
                diagonal=True)) if roc else None,
            "pr": Markup(line_chart(
                [{"x": pr.get("recall"), "y": pr.get("precision"), "label": f"AP {_num(row.get('average_precision'))}"}],
                chart_id=f"chart-pr-{i}", title=f"Precision–recall curve of {name}",
                desc=f"Precision against recall of {name} against the rest.",
                x_label="recall", y_label="precision")) if pr else None,
        })
    sel = r.get("selective") or None
    risk = None
    if sel and sel.get("curve"):
        after = sel.get("after_scaling") or {}
        series = [{"x": sel["curve"].get("coverage"), "y": sel["curve"].get("accuracy"),
                   "label": "as shipped"}]
        if after.get("curve"):
            series.append({"x": after["curve"].get("coverage"), "y": after["curve"].get("accuracy"),
                           "label": "after temperature scaling", "colour": SCALED, "dashed": True})
        target = sel.get("target_accuracy")
        marks = [{"y": target, "label": f"target {pct(target, 0)}"}]
        if is_number(sel.get("coverage")) and sel.get("coverage") > 0:
            marks.append({"x": sel["coverage"], "label": f"coverage {pct(sel['coverage'])}"})
        accs = [a for s in series for a in (s["y"] or []) if is_number(a)]
        y_min = max(0.0, min(min(accs, default=0.0), target if is_number(target) else 1.0) - 0.05)
        y_min = float(int(y_min * 10) / 10)
        risk = Markup(line_chart(
            series, chart_id="chart-risk-coverage", title="Accuracy of the retained images against coverage",
            desc=("Images ranked by top-label confidence; at each coverage, the accuracy of the images "
                  "the model keeps. Dashed horizontal line: the target accuracy; dashed vertical line: the "
                  "coverage at which it is reached."), x_label="coverage (share decided by the model)",
            y_label="accuracy of retained", size=320, y_min=y_min, marks=marks))
    groupings = [selective_grouping_view(g, _min_group_size(r)) for g in (sel or {}).get("by_group") or []
                 if isinstance(g, dict)]
    return {"per_class": per_class, "risk": risk, "many": len(rows) > MAX_CURVES, "n_classes": len(rows),
            "groupings": groupings}


#: Above this many groups the review-load table shows the most and least reviewed groups only (half each);
#: every group stays in audit.json (a column of thousands of ids would otherwise be megabytes of rows).
MAX_GROUP_ROWS = 20


def _min_group_size(r: dict[str, Any]) -> int:
    """The minimum group size the review-load rules judged by (the default policy's 30 without a gate)."""
    from audit.gate.group_judging import min_group_sizes

    size = min_group_sizes(r.get("gate"))[1]
    return 30 if size is None else size


def selective_grouping_view(entry: dict[str, Any], min_group_size: int) -> dict[str, Any]:
    """The rows of one grouping's review-load table: every group up to ``MAX_GROUP_ROWS``; beyond, the
    most and the least reviewed of the groups with at least ``min_group_size`` images (the largest groups
    when none has), and a count of the rest."""
    from audit.gate.group_judging import judged_groups

    groups = [g for g in entry.get("groups") or [] if isinstance(g, dict)]
    judged, small = judged_groups(groups, min_group_size)
    common = {"entry": entry, "min_group_size": min_group_size,
              "not_judged_groups": {str(g.get("group")) for g in small}}
    if len(groups) <= MAX_GROUP_ROWS:
        return {**common, "rows": groups, "n_hidden": 0, "hidden_samples": 0, "shown": "every group"}
    sized = [g for g in judged if is_number(g.get("review_load"))]
    half = MAX_GROUP_ROWS // 2
    if len(sized) >= 2:
        ranked = sorted(sized, key=lambda g: (-g["review_load"], str(g.get("group"))))
        rows = ranked[:half] + [g for g in ranked[max(half, len(ranked) - half):]]
        shown = (f"the {min(half, len(ranked))} most and least reviewed of the {len(sized)} groups with at least "
                 f"{min_group_size} images")
    else:
        rows = sorted(groups, key=lambda g: -(g.get("n") or 0))[:MAX_GROUP_ROWS]
        shown = f"the {len(rows)} largest groups (none has {min_group_size} images)"
    kept = {id(g) for g in rows}
    hidden = [g for g in groups if id(g) not in kept]
    return {**common, "rows": rows, "n_hidden": len(hidden),
            "hidden_samples": sum(g.get("n") or 0 for g in hidden), "shown": shown}


def _num(x: Any) -> str:
    return f"{x:.3f}" if is_number(x) else "undefined"
