"""The trend chart of one key metric over the last stored runs of a model (inline SVG, text escaped).

Released runs are drawn as diamonds (and named so in each point's tooltip), this run as a ring, so the
marking does not rely on colour. The y axis spans the values shown (padded), labelled at both ends.
"""

from __future__ import annotations

from typing import Callable, Sequence

from audit.render.charts import BAR, GAP, GRID, INK, MUTED, escape, open_svg
from audit.render.formatting import is_number, pct


def trend_chart(labels: Sequence[str], values: Sequence[float | None], released: Sequence[bool],
                current: Sequence[bool], *, chart_id: str, title: str, desc: str,
                fmt: Callable[[object], str] = pct, width: int = 360, height: int = 150) -> str:
    """A line over the runs (oldest left) of one metric; undefined values leave a gap.

    Parameters
    ----------
    labels : sequence of str, length n_runs
        Run labels ("#12", "this run").
    values : sequence of float or None, length n_runs
    released, current : sequence of bool, length n_runs
        Which runs were released, and which one is this run.
    """
    left, right, top, bottom = 64, 16, 12, 34
    pw, ph = width - left - right, height - top - bottom
    nums = [v for v in values if is_number(v)]
    lo, hi = (min(nums), max(nums)) if nums else (0.0, 1.0)
    pad = max((hi - lo) * 0.1, 0.005)
    lo, hi = lo - pad, hi + pad
    n = len(values)

    def sx(i: int) -> float:
        return left + (pw / 2 if n == 1 else pw * i / (n - 1))

    def sy(v: float) -> float:
        return top + ph * (1 - (v - lo) / (hi - lo))

    out = [open_svg(chart_id, width, height, title, desc)]
    for v in (lo + pad, hi - pad):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" text-anchor="end" fill="{MUTED}">{escape(fmt(v))}</text>')
    segment: list[str] = []
    for i, v in enumerate(list(values) + [None]):
        if is_number(v):
            segment.append(f"{sx(i):.1f},{sy(v):.1f}")
            continue
        if len(segment) > 1:
            out.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{BAR}" stroke-width="2"/>')
        segment = []
    for i, (label, v, rel, cur) in enumerate(zip(labels, values, released, current)):
        if not is_number(v):
            continue
        x, y = sx(i), sy(v)
        tip = f"{label}: {fmt(v)}" + (" (released)" if rel else "") + (" (this run)" if cur else "")
        if rel:
            shape = (f'<path d="M{x:.1f},{y - 7:.1f} L{x + 7:.1f},{y:.1f} L{x:.1f},{y + 7:.1f} L{x - 7:.1f},{y:.1f} Z" '
                     f'fill="{GAP}" stroke="{INK}" class="released">')
            out.append(f'{shape}<title>{escape(tip)}</title></path>')
        elif cur:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="#fff" stroke="{INK}" stroke-width="2.5" '
                       f'class="current"><title>{escape(tip)}</title></circle>')
        else:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{BAR}"><title>{escape(tip)}</title></circle>')
    if n:
        out.append(f'<text x="{sx(0):.1f}" y="{height - 12}" text-anchor="start" fill="{MUTED}">{escape(labels[0])}</text>')
        if n > 1:
            out.append(f'<text x="{sx(n - 1):.1f}" y="{height - 12}" text-anchor="end" fill="{MUTED}">'
                       f'{escape(labels[-1])}</text>')
    out.append("</svg>")
    return "".join(out)
