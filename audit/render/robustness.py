"""The report's robustness section: SVG charts (corruption × severity heatmap, accuracy and ECE against
severity) and the rows the partial ``templates/robustness.html.j2`` shows. Computes no metric: it only
arranges what ``result["robustness"]`` holds.
"""

from __future__ import annotations

from typing import Any, Sequence

from markupsafe import Markup

from audit.render.charts import GRID, INK, MUTED, escape, open_svg, shade
from audit.render.formatting import is_number, pct, safe_image

ACC_COLOUR = "#3b6ea8"
ECE_COLOUR = "#c0392b"


def robustness_view(result: dict[str, Any]) -> dict[str, Any] | None:
    """Everything the robustness partial shows, or None when the result has no robustness section."""
    section = result.get("robustness") if isinstance(result, dict) else None
    if not isinstance(section, dict):
        return None
    def rows(key):
        value = section.get(key)
        return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []

    def items(key):
        value = section.get(key)
        return value if isinstance(value, list) else []

    cells = rows("cells")
    corruptions = [str(c) for c in items("corruptions")]
    severities = [s for s in items("severities") if isinstance(s, int) and not isinstance(s, bool)]
    acc = {(str(c.get("corruption")), c.get("severity")): c.get("accuracy") for c in cells
           if isinstance(c.get("severity"), int)}
    clean = section.get("clean").get("accuracy") if isinstance(section.get("clean"), dict) else None
    by_severity = rows("by_severity")
    by_corruption = rows("by_corruption")
    worst = sorted((r for r in by_corruption if is_number(r.get("accuracy"))), key=lambda r: r["accuracy"])[:3]
    classes = sorted(rows("per_class"), key=lambda r: (r.get("breaks_at") if isinstance(r.get("breaks_at"), int) else 99,
                                                       -(r.get("drop") if is_number(r.get("drop")) else 0)))
    examples = section.get("examples") if isinstance(section.get("examples"), dict) else None
    if examples:
        safe = [{"corruption": row.get("corruption"),
                 "images": [safe_image(im) for im in row.get("images") or []]}
                for row in examples.get("rows") or []]
        clean_img = safe_image(examples.get("clean"))
        examples = {**examples, "rows": safe, "clean": clean_img}
    return {
        "s": section,
        "heatmap": Markup(severity_heatmap(corruptions, severities, acc, clean, chart_id="chart-robustness-heatmap")),
        "curves": Markup(severity_curves(by_severity, chart_id="chart-robustness-curves")),
        "worst": worst,
        "classes": classes,
        "groups": rows("groups"),
        "examples": examples,
        "severities": severities,
    }


def severity_heatmap(corruptions: Sequence[str], severities: Sequence[int], accuracy: dict,
                     clean: float | None, *, chart_id: str) -> str:
    """Accuracy per (corruption, severity): rows corruptions, columns clean then severities; shade by
    the share of clean accuracy lost (darker: more lost), each cell printing the accuracy."""
    cw, ch = 62, 22
    left, top = 150, 40
    cols = ["clean", *[str(s) for s in severities]]
    width, height = max(left + cw * len(cols) + 20, 560), top + ch * len(corruptions) + 40
    out = [open_svg(chart_id, width, height, "Accuracy under corruption",
                 "Rows: corruptions; columns: clean accuracy, then severities 1 to 5. Each cell prints the "
                 "accuracy; darker cells have lost a larger share of the clean accuracy.")]
    out.append(f'<text x="{left + cw * len(cols) / 2:.0f}" y="14" text-anchor="middle" fill="{MUTED}">severity</text>')
    for j, label in enumerate(cols):
        out.append(f'<text x="{left + j * cw + cw / 2:.0f}" y="{top - 8}" text-anchor="middle">{escape(label)}</text>')
    for i, name in enumerate(corruptions):
        y = top + i * ch
        out.append(f'<text x="{left - 6}" y="{y + ch / 2 + 4:.0f}" text-anchor="end">{escape(name)}</text>')
        for j, label in enumerate(cols):
            v = clean if j == 0 else accuracy.get((name, severities[j - 1]))
            if is_number(v) and is_number(clean) and clean > 0:
                lost = max(0.0, (clean - v) / clean)
                fill, ink = shade(min(1.0, lost * 2))
            else:
                fill, ink = "#ffffff", MUTED
            out.append(f'<rect x="{left + j * cw}" y="{y}" width="{cw}" height="{ch}" fill="{fill}" '
                       f'stroke="{GRID}" stroke-width="0.5"/>')
            out.append(f'<text x="{left + j * cw + cw / 2:.0f}" y="{y + ch / 2 + 4:.0f}" text-anchor="middle" '
                       f'font-size="11" fill="{ink}">{escape(pct(v) if is_number(v) else "–")}</text>')
    out.append(f'<text x="{left}" y="{height - 10}" fill="{MUTED}" font-size="11">shade: share of the clean '
               f'accuracy lost (white none, darkest half or more)</text>')
    out.append("</svg>")
    return "".join(out)


def severity_curves(rows: Sequence[dict], *, chart_id: str) -> str:
    """Mean accuracy and mean ECE (before and after the clean temperature) against severity, clean at 0."""
    width, height, left, right, top, bottom = 560, 260, 50, 150, 20, 40
    pw, ph = width - left - right, height - top - bottom
    out = [open_svg(chart_id, width, height, "Accuracy and ECE against severity",
                 "Lines: mean accuracy over the corruptions (blue, solid), mean ECE before (red, solid) and after "
                 "the clean temperature (red, dashed), at severity 0 (clean) to 5; y axis 0 to 100%.")]
    sev = [r.get("severity") for r in rows if isinstance(r.get("severity"), int)]
    span = max(sev) if sev else 5

    def sx(s):
        return left + pw * s / max(span, 1)

    def sy(v):
        return top + ph * (1 - v)

    for t in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end" font-size="11">{pct(t, 0)}</text>')
    for s in sev:
        out.append(f'<text x="{sx(s):.1f}" y="{top + ph + 16}" text-anchor="middle" font-size="11">'
                   f'{"clean" if s == 0 else s}</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{height - 4}" text-anchor="middle" fill="{MUTED}">severity</text>')
    series = [("accuracy", ACC_COLOUR, "", "accuracy"), ("ece", ECE_COLOUR, "", "ECE"),
              ("ece_after_scaling", ECE_COLOUR, ' stroke-dasharray="5 3"', "ECE after T")]
    for i, (key, colour, dash, label) in enumerate(series):
        pts = [(r["severity"], r.get(key)) for r in rows if isinstance(r.get("severity"), int) and is_number(r.get(key))]
        if not pts:
            continue
        path = " ".join(f"{sx(s):.1f},{sy(v):.1f}" for s, v in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for s, v in pts:
            out.append(f'<circle cx="{sx(s):.1f}" cy="{sy(v):.1f}" r="3" fill="{colour}"><title>{escape(label)} at '
                       f'{"clean" if s == 0 else "severity " + str(s)}: {pct(v)}</title></circle>')
        ly = top + 14 + 18 * i
        out.append(f'<line x1="{left + pw + 12}" x2="{left + pw + 36}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
                   f'stroke-width="2"{dash}/><text x="{left + pw + 40}" y="{ly}" fill="{INK}">{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)
