"""Inline SVG charts drawn from the audit result: pure functions that return SVG text, all text escaped.

Every chart has a <title> and <desc> (read by screen readers via aria-labelledby) and text labels, so
that it is readable without colour and prints on paper. Nothing here computes a metric.
"""

from __future__ import annotations

import html
from typing import Callable, Sequence

from audit.render.formatting import is_number, pct

FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\""
BAR = "#3b6ea8"
BAR_LIGHT = "#c9d8ea"
GAP = "#d9534f"
#: GAP for text: 5.3:1 on white (WCAG AA asks 4.5:1 of small text; GAP itself is 3.96:1)
GAP_TEXT = "#c9302c"
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#d5dbe1"
LABEL_CHARS = 22


def escape(text: object) -> str:
    """Text escaped for SVG content and attribute values."""
    return html.escape(str(text), quote=True)


def _short(label: str, n: int = LABEL_CHARS) -> str:
    return label if len(label) <= n else label[: n - 1] + "\u2026"


def open_svg(chart_id: str, width: float, height: float, title: str, desc: str) -> str:
    cid = escape(chart_id)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-labelledby="{cid}-t {cid}-d" '
        f'class="chart" {FONT} font-size="12" fill="{INK}">'
        f'<title id="{cid}-t">{escape(title)}</title><desc id="{cid}-d">{escape(desc)}</desc>'
    )


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    intervals: Sequence[Sequence[float] | None] | None = None,
    *,
    chart_id: str,
    title: str,
    desc: str,
    axis_label: str,
    reference: float | None = None,
    reference_label: str | None = None,
    fmt: Callable[[object], str] = pct,
    width: int = 720,
) -> str:
    """Horizontal bars on a 0–1 axis with 95% interval whiskers; undefined values are labelled so.

    Parameters
    ----------
    labels : sequence of str, length n_bars
    values : sequence of float or None, length n_bars
        Values in [0, 1]; None is drawn as the text "undefined".
    intervals : sequence of [low, high] or None, length n_bars, optional
        Drawn as whiskers with caps.
    chart_id : str
        Unique id in the document (used for the title and desc ids).
    reference : float, optional
        A vertical dashed line (for example the overall accuracy), labelled ``reference_label``.
    fmt : callable
        Formats the value printed at the end of each bar.
    """
    row, left, right, top = 22, 170, 150, 30 if reference is not None else 14
    x0, x1 = left, width - right
    height = top + row * len(labels) + 40

    def x(v: float) -> float:
        return x0 + (x1 - x0) * min(max(v, 0.0), 1.0)

    out = [open_svg(chart_id, width, height, title, desc)]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top - 4}" y2="{height - 34}" '
                   f'stroke="{GRID}" stroke-width="1"/>')
        out.append(f'<text x="{x(tick):.1f}" y="{height - 20}" text-anchor="middle" fill="{MUTED}">'
                   f'{tick * 100:.0f}%</text>')
    out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{height - 4}" text-anchor="middle" fill="{MUTED}">'
               f'{escape(axis_label)}</text>')
    for i, (label, v) in enumerate(zip(labels, values)):
        y = top + i * row
        label = str(label)
        out.append(f'<text x="{x0 - 8}" y="{y + 15}" text-anchor="end"><title>{escape(label)}</title>'
                   f'{escape(_short(label))}</text>')
        if not is_number(v):
            out.append(f'<text x="{x0 + 4}" y="{y + 15}" font-style="italic" fill="{MUTED}">undefined</text>')
            continue
        out.append(f'<rect x="{x0}" y="{y + 4}" width="{x(v) - x0:.1f}" height="{row - 8}" fill="{BAR}"/>')
        end = x(v)
        interval = intervals[i] if intervals is not None else None
        if interval is not None and all(is_number(b) for b in interval):
            lo, hi = x(interval[0]), x(interval[1])
            mid = y + row / 2
            out.append(f'<path d="M{lo:.1f} {mid:.1f}H{hi:.1f}M{lo:.1f} {mid - 5:.1f}V{mid + 5:.1f}'
                       f'M{hi:.1f} {mid - 5:.1f}V{mid + 5:.1f}" stroke="{INK}" stroke-width="1.5" fill="none"/>')
            end = max(end, hi)
        out.append(f'<text x="{end + 6:.1f}" y="{y + 15}">{escape(fmt(v))}</text>')
    if is_number(reference):
        rx = x(reference)
        out.append(f'<line x1="{rx:.1f}" x2="{rx:.1f}" y1="{top - 6}" y2="{height - 34}" stroke="{GAP}" '
                   f'stroke-width="2" stroke-dasharray="5 3"/>')
        out.append(f'<text x="{rx:.1f}" y="{top - 10}" text-anchor="middle" fill="{GAP_TEXT}">'
                   f'{escape(reference_label or fmt(reference))}</text>')
    out.append("</svg>")
    return "".join(out)


def _luminance(rgb: Sequence[int]) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    lin = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def shade(v: float) -> tuple[str, str]:
    """Fill and text colour for a share v in [0, 1]: white to dark blue, darkness growing with sqrt(v); the text
    black or white, whichever contrasts more with the fill (at least 4.58:1, WCAG AA's 4.5:1 for small text)."""
    t = min(max(v, 0.0), 1.0) ** 0.5
    lo, hi = (255, 255, 255), (8, 48, 107)
    rgb = tuple(round(a + (b - a) * t) for a, b in zip(lo, hi))
    fill = _luminance(rgb)
    on_black, on_white = (fill + 0.05) / 0.05, 1.05 / (fill + 0.05)
    return "#%02x%02x%02x" % rgb, ("#ffffff" if on_white > on_black else "#000000")


def heatmap(
    shares: Sequence[Sequence[float | None]],
    texts: Sequence[Sequence[str]],
    labels: Sequence[str],
    *,
    chart_id: str,
    title: str,
    desc: str,
    cell: int | None = None,
) -> str:
    """A K x K confusion heatmap; rows are true classes, columns predicted classes.

    Parameters
    ----------
    shares : K x K nested sequence of float in [0, 1] or None
        The row-normalised matrix, which sets each cell's shade (None, for a cell or a whole row:
        hatched, the true class has no samples).
    texts : K x K nested sequence of str
        What is printed in each cell (counts or percentages); omitted when K > 20.
    labels : sequence of str, length K
    cell : int, optional
        Cell size in px (default: 44 down to 12 as K grows); larger for longer cell texts.
    """
    k = len(labels)
    cell = cell or max(12, min(44, 520 // max(k, 1)))
    left, top = 150, 110
    width, height = left + cell * k + 20, top + cell * k + 30
    show_text = k <= 20
    out = [open_svg(chart_id, width, height, title, desc)]
    out.append('<defs><pattern id="%s-na" width="6" height="6" patternUnits="userSpaceOnUse">'
               '<path d="M0 6L6 0" stroke="%s" stroke-width="1"/></pattern></defs>' % (escape(chart_id), GRID))
    out.append(f'<text x="{left + cell * k / 2:.0f}" y="14" text-anchor="middle" fill="{MUTED}">'
               f'predicted class</text>')
    out.append(f'<text x="12" y="{top + cell * k / 2:.0f}" text-anchor="middle" fill="{MUTED}" '
               f'transform="rotate(-90 12 {top + cell * k / 2:.0f})">true class</text>')
    for j, label in enumerate(labels):
        cx = left + j * cell + cell / 2
        out.append(f'<text x="{cx:.1f}" y="{top - 6}" transform="rotate(-45 {cx:.1f} {top - 6})">'
                   f'<title>{escape(label)}</title>{escape(_short(str(label), 14))}</text>')
    for i, label in enumerate(labels):
        y = top + i * cell
        out.append(f'<text x="{left - 6}" y="{y + cell / 2 + 4:.1f}" text-anchor="end"><title>{escape(label)}</title>'
                   f'{escape(_short(str(label), 18))}</text>')
        row_shares = shares[i]  # None: a class without samples, its whole row hatched
        for j in range(k):
            v = row_shares[j] if row_shares is not None else None
            fill, ink = shade(v) if is_number(v) else (f"url(#{escape(chart_id)}-na)", MUTED)
            stroke = INK if i == j else GRID
            out.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" '
                       f'stroke="{stroke}" stroke-width="{1.5 if i == j else 0.5}"/>')
            if show_text:
                size = 13 if cell >= 80 else 11 if cell >= 36 else 9
                out.append(f'<text x="{left + j * cell + cell / 2:.1f}" y="{y + cell / 2 + 4:.1f}" '
                           f'text-anchor="middle" font-size="{size}" fill="{ink}">{escape(texts[i][j])}</text>')
    out.append("</svg>")
    return "".join(out)


def reliability_diagram(bins: Sequence[dict], *, chart_id: str, title: str, desc: str) -> str:
    """Reliability diagram: accuracy per confidence bin against the diagonal, with the gap shaded.

    Parameters
    ----------
    bins : sequence of dict
        ``{lo, hi, count, mean_confidence|None, accuracy|None}`` per bin (the result's calibration bins).
        Empty bins (count 0 or accuracy None) are left blank; a strip below shows the bin counts.
    """
    size, left, top = 300, 56, 14
    strip = 40
    width, height = left + size + 24, top + size + strip + 46

    def sx(v: float) -> float:
        return left + size * min(max(v, 0.0), 1.0)

    def sy(v: float) -> float:
        return top + size * (1 - min(max(v, 0.0), 1.0))

    out = [open_svg(chart_id, width, height, title, desc)]
    for tick in (0, 0.2, 0.4, 0.6, 0.8, 1.0):
        out.append(f'<line x1="{sx(0)}" x2="{sx(1)}" y1="{sy(tick):.1f}" y2="{sy(tick):.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{sy(tick) + 4:.1f}" text-anchor="end" fill="{MUTED}">{tick:.1f}</text>')
        out.append(f'<text x="{sx(tick):.1f}" y="{top + size + strip + 20}" text-anchor="middle" fill="{MUTED}">'
                   f'{tick:.1f}</text>')
    counts = [b.get("count") for b in bins if is_number(b.get("count"))]
    most = max(counts) if counts else 0
    for b in bins:
        lo, hi, acc, conf, n = b.get("lo"), b.get("hi"), b.get("accuracy"), b.get("mean_confidence"), b.get("count")
        if not (is_number(lo) and is_number(hi)):
            continue
        w = sx(hi) - sx(lo)
        if is_number(n) and n > 0 and most > 0:
            h = (strip - 8) * n / most
            out.append(f'<rect x="{sx(lo) + 1:.1f}" y="{top + size + strip - h:.1f}" width="{w - 2:.1f}" '
                       f'height="{h:.1f}" fill="{BAR_LIGHT}" stroke="{BAR}" stroke-width="0.5">'
                       f'<title>{n} samples in ({lo:.2f}, {hi:.2f}]</title></rect>')
        if not (is_number(acc) and is_number(n) and n > 0):
            continue
        out.append(f'<rect x="{sx(lo) + 1:.1f}" y="{sy(acc):.1f}" width="{w - 2:.1f}" height="{sy(0) - sy(acc):.1f}" '
                   f'fill="{BAR}"><title>({lo:.2f}, {hi:.2f}]: accuracy {pct(acc)}, mean confidence '
                   f'{pct(conf)}, {n} samples</title></rect>')
        if is_number(conf):
            y_a, y_c = sy(acc), sy(conf)
            out.append(f'<rect x="{sx(lo) + 1:.1f}" y="{min(y_a, y_c):.1f}" width="{w - 2:.1f}" '
                       f'height="{abs(y_a - y_c):.1f}" fill="{GAP}" fill-opacity="0.25" stroke="{GAP}" '
                       f'stroke-width="1"/>')
    out.append(f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(1)}" y2="{sy(1)}" stroke="{INK}" stroke-dasharray="4 3"/>')
    out.append(f'<rect x="{sx(0)}" y="{sy(1)}" width="{size}" height="{size}" fill="none" stroke="{MUTED}"/>')
    out.append(f'<text x="{left - 40}" y="{top + size / 2}" text-anchor="middle" fill="{MUTED}" '
               f'transform="rotate(-90 {left - 40} {top + size / 2})">accuracy</text>')
    out.append(f'<text x="{left - 6}" y="{top + size + strip - 4}" text-anchor="end" fill="{MUTED}" '
               f'font-size="10">count</text>')
    out.append(f'<text x="{left + size / 2}" y="{height - 6}" text-anchor="middle" fill="{MUTED}">'
               f'confidence (top label)</text>')
    out.append("</svg>")
    return "".join(out)


def group_bar_chart(groups: Sequence[dict], overall: float | None, *, chart_id: str, title: str, desc: str) -> str:
    """Accuracy per group with 95% intervals and the overall accuracy as a dashed line.

    Parameters
    ----------
    groups : sequence of dict
        ``{group, n, accuracy|None, accuracy_ci|None}`` per group (a disparity entry's groups).
    overall : float or None
    """
    labels = [f"{g.get('group')} (n={g.get('n')})" for g in groups]
    return bar_chart(
        labels, [g.get("accuracy") for g in groups], [g.get("accuracy_ci") for g in groups],
        chart_id=chart_id, title=title, desc=desc, axis_label="accuracy (bars: 95% interval)",
        reference=overall, reference_label=f"overall {pct(overall)}",
    )
