"""The report's robustness section, read back from the rendered HTML."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
from helpers.sample_result import sample_result

from audit.render.html import render_html
from audit.robustness.evaluate import evaluate_robustness

from .conftest import band_predict


@pytest.fixture(scope="module")
def result(synthetic):
    r = sample_result()
    r["robustness"] = evaluate_robustness(
        band_predict, synthetic.x_test, synthetic.y_test, synthetic.class_names,
        corruptions=("fog", "contrast", "jpeg_compression"), severities=(1, 2, 3, 4, 5), n_samples=60, seed=0,
        temperature=1.2, groups={"region": (np.arange(200) % 3, False)})
    return r


def section_of(html: str) -> str:
    start = html.index('<section id="robustness"')
    return html[start:html.index("</section>", start)]


def test_section_shows_heatmap_curves_tables_and_strip(result):
    html = section_of(render_html(result))
    assert "Robustness under corruption" in html
    assert 'id="chart-robustness-heatmap-t"' in html and 'id="chart-robustness-curves-t"' in html
    for name in ("fog", "contrast", "jpeg_compression"):
        assert f">{name}<" in html
    assert "Classes that break first" in html and "Groups by region" in html
    # one clean image and five severities per corruption
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 3 * 6
    clean = result["robustness"]["clean"]["accuracy"]
    assert f"{100 * clean:.1f}%" in html


def test_without_robustness_the_section_says_why(result):
    r = copy.deepcopy(result)
    del r["robustness"]
    assert "Not evaluated" in section_of(render_html(r))


def test_hostile_values_are_escaped_and_bad_thumbnails_dropped(result):
    r = copy.deepcopy(result)
    rb = r["robustness"]
    rb["corruptions"][0] = "<script>alert(1)</script>"
    rb["cells"][0]["corruption"] = "<script>alert(1)</script>"
    rb["examples"]["rows"][0]["images"][0] = "javascript:alert(1)"
    rb["examples"]["clean"] = "http://example.com/x.png"
    html = section_of(render_html(r))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html and "http://example.com" not in html


@pytest.mark.slow
def test_a_report_with_robustness_and_every_trend_metric_fits_screen_and_print(result, chromium, tmp_path):
    """The layout check of issue 21 on the widest tables a model audit has: robustness, and the trend with
    every key metric of a run (a past run's timestamp included)."""
    from helpers.layout import measure

    from audit.history.record import METRICS

    past = {"label": "#1", "time": "2026-12-05 07:53:08 UTC", "metrics": {m: 0.5 for m in METRICS},
            "verdict": "fail (informational)", "released": True, "current": False}
    trends = {"model": "seed", "note": None,
              "rows": [past, {**past, "label": "this run", "time": None, "current": True, "released": False}]}
    page = tmp_path / "report.html"
    page.write_text(render_html(result, trends=trends), encoding="utf-8")
    assert measure(chromium, page) == {"screen 1280 px": [], "screen 820 px": [], "print 794 px": []}
