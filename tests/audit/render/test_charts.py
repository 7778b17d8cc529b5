"""Tests of the SVG charts: well-formed, accessible (title, desc, text labels) and escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from audit.render import charts

SVG = "{http://www.w3.org/2000/svg}"
BAD = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on malformed XML, e.g. an unescaped label
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
    assert root.find(f".//{SVG}script") is None
    assert not any(el.tag.endswith("img") or el.tag.endswith("foreignObject") for el in root.iter())
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]


def test_bar_chart_labels_values_and_undefined():
    svg = charts.bar_chart(["cat", BAD, "truck"], [0.25, 0.5, None], [[0.2, 0.3], None, None],
                           chart_id="c", title=BAD, desc="d", axis_label="error rate")
    root = parse(svg)
    shown = texts(root)
    assert "25.0%" in shown and "50.0%" in shown and "undefined" in shown
    assert any(t.startswith("cat") for t in shown)
    assert root.find(f"{SVG}title").text == BAD
    assert len(root.findall(f"{SVG}rect")) == 2  # no bar for the undefined value
    assert len(root.findall(f"{SVG}path")) == 1  # one interval whisker


def test_bar_bounds_follow_values():
    root = parse(charts.bar_chart(["a", "b"], [0.0, 1.0], chart_id="c", title="t", desc="d", axis_label="x"))
    widths = [float(r.get("width")) for r in root.findall(f"{SVG}rect")]
    assert widths[0] == 0.0 and widths[1] == 720 - 170 - 150


def test_heatmap_cells_and_hatched_undefined_row():
    shares = [[0.75, 0.25], [None, None]]
    root = parse(charts.heatmap(shares, [["3", "1"], ["0", "0"]], ["a", BAD], chart_id="h", title="t", desc="d"))
    rects = root.findall(f"{SVG}rect")
    assert len(rects) == 4
    assert rects[2].get("fill") == "url(#h-na)"
    assert {"3", "1", "0"} <= set(texts(root))


def test_reliability_diagram_skips_empty_bins():
    bins = [{"lo": 0.0, "hi": 0.5, "count": 0, "mean_confidence": None, "accuracy": None},
            {"lo": 0.5, "hi": 1.0, "count": 10, "mean_confidence": 0.8, "accuracy": 0.6}]
    root = parse(charts.reliability_diagram(bins, chart_id="r", title="t", desc="d"))
    titled = [r for r in root.findall(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    # one count bar and one accuracy bar, both for the non-empty bin
    assert [r.find(f"{SVG}title").text.split(":")[0] for r in titled] == ["10 samples in (0.50, 1.00]", "(0.50, 1.00]"]


def test_group_bar_chart_has_overall_line():
    groups = [{"group": BAD, "n": 5, "accuracy": 0.4, "accuracy_ci": [0.1, 0.8]}]
    root = parse(charts.group_bar_chart(groups, 0.5, chart_id="g", title="t", desc="d"))
    assert "overall 50.0%" in texts(root)


def test_every_heatmap_cell_text_contrasts_at_least_4_5_to_1():
    """WCAG AA for small text: the cell's number on its shade, whatever the share."""
    from audit.render.charts import _luminance, shade

    def rgb(hex_colour):
        return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))

    for v in [i / 1000 for i in range(1001)]:
        fill, text = (_luminance(rgb(c)) for c in shade(v))
        ratio = (max(fill, text) + 0.05) / (min(fill, text) + 0.05)
        assert ratio >= 4.5, (v, shade(v), ratio)


def test_the_red_used_for_text_contrasts_at_least_4_5_to_1_on_white():
    from audit.render.charts import GAP_TEXT, _luminance

    luminance = _luminance(tuple(int(GAP_TEXT[i:i + 2], 16) for i in (1, 3, 5)))
    assert 1.05 / (luminance + 0.05) >= 4.5
