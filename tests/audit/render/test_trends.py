"""The report's Trends section (templates/_trends.html.j2) and its charts (audit/render/trend_chart.py)."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from helpers.browser import open_page, requires_browser

from audit.render.html import render_html
from audit.render.trend_chart import trend_chart

HOSTILE = "<script>alert(1)</script>"


def _trends(model: str = "seed") -> dict:
    rows = [{"label": f"#{i}", "time": f"2026-12-0{i} 10:00:00 UTC", "released": i == 2, "current": False,
             "verdict": "pass", "metrics": {"accuracy": 0.60 + i / 100, "ece_before": 0.05}} for i in (1, 2, 3)]
    rows[2]["metrics"]["accuracy"] = None  # undefined in one run: a gap in the line
    rows.append({"label": "this run", "time": None, "released": False, "current": True, "verdict": "fail",
                 "metrics": {"accuracy": 0.65, "ece_before": 0.04, "robustness_mean": 0.5}})
    return {"model": model, "rows": rows, "note": None}


def test_chart_marks_released_and_current_and_breaks_the_line_at_undefined_values():
    svg = trend_chart(["#1", "#2", "#3", "this run"], [0.61, 0.62, None, 0.65], [False, True, False, False],
                      [False, False, False, True], chart_id="t", title="Accuracy", desc="d")
    soup = BeautifulSoup(svg, "html.parser")
    assert len(soup.find_all("path", class_="released")) == 1
    assert len(soup.find_all("circle", class_="current")) == 1
    assert len(soup.find_all("polyline")) == 1  # #1-#2 joined; #3 undefined; "this run" alone
    assert "#2: 62.0% (released)" in svg and "this run: 65.0% (this run)" in svg


def test_section_table_and_charts(result):
    soup = BeautifulSoup(render_html(result, trends=_trends()), "html.parser")
    section = soup.find("section", id="trends")
    head = [th.get_text(" ", strip=True) for th in section.find("thead").find_all("th")]
    assert head == ["Run", "Recorded", "Accuracy", "ECE", "Robustness (mean accuracy)", "Verdict", "Released"]
    rows = section.find("tbody").find_all("tr")
    assert [r.th.get_text() for r in rows] == ["#1", "#2", "#3", "this run"]
    assert rows[1].get("class") == ["released"] and "released" in rows[1].get_text()
    assert [td.get_text() for td in rows[3].find_all("td")][:4] == ["now", "65.00%", "0.0400", "50.00%"]
    assert rows[2].find_all("td")[1].get_text() == "undefined"
    assert [f.figcaption.get_text() for f in section.find_all("figure")] == [
        "Accuracy", "ECE", "Robustness (mean accuracy)"]


def test_no_section_without_history(result):
    assert BeautifulSoup(render_html(result), "html.parser").find("section", id="trends") is None


def test_model_name_is_escaped(result):
    html = render_html(result, trends=_trends(HOSTILE))
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.slow
@requires_browser
def test_trends_open_in_chromium_without_errors(chromium, tmp_path, result):
    page = tmp_path / "report.html"
    page.write_text(render_html(result, trends=_trends(HOSTILE)), encoding="utf-8")
    report = open_page(chromium, page, height=1500)
    assert report.errors == []
    assert not any("alert" in text for _, text in report.console)
