"""Tests of report.html, read back with BeautifulSoup: sections, table cells, CSP, escaping, absent sections."""

from __future__ import annotations

import copy
import re

import pytest
from bs4 import BeautifulSoup
from helpers.sample_result import HOSTILE, sample_result

from audit.errors import AuditError
from audit.render import formatting as f
from audit.render.html import CSP, render_html

SECTIONS = ["Verdict", "Model card", "Per-class errors", "Confusions", "Calibration",
            "Confidence: ranking and human review", "Disparity between groups", "Label quality: suspected label errors",
            "Discovered weak slices", "Robustness under corruption",
            "Most confident mistakes", "Ethics checklist", "Baseline comparison", "Review and sign-off", "Provenance"]
MODEL_CARD = ["Model details", "Intended use", "Factors", "Metrics", "Evaluation data", "Training data",
              "Quantitative analyses", "Ethical considerations", "Caveats and recommendations"]


def soup_of(result) -> BeautifulSoup:
    return BeautifulSoup(render_html(result), "html.parser")


def test_sections_in_order(result):
    soup = soup_of(result)
    assert [h.get_text(strip=True) for h in soup.find_all("h2")] == SECTIONS
    card = soup.find(id="model-card")
    assert [dt.get_text(strip=True) for dt in card.find("dl", class_="card").find_all("dt", recursive=False)] == MODEL_CARD
    assert "To be written by the team." in card.get_text()


def test_csp_forbids_network_and_script(result):
    soup = soup_of(result)
    meta = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})
    assert meta is not None and meta["content"] == CSP
    policy = dict(p.strip().split(" ", 1) for p in CSP.split(";") if p.strip())
    assert policy["default-src"] == "'none'"
    assert policy["img-src"] == "data:"
    assert "script-src" not in policy  # falls back to default-src 'none'
    assert soup.find("meta", attrs={"charset": True}) is soup.head.find("meta")  # CSP after charset only


def test_self_contained(result):
    html = render_html(result)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("script") is None and soup.find("link") is None and soup.find("iframe") is None
    for img in soup.find_all("img"):
        assert img["src"].startswith("data:image/png;base64,")
    assert len(soup.find_all("img")) == 24
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "@import" not in html and "url(http" not in html
    assert not re.search(r"\bon[a-z]+=", html)


def test_per_class_cells_equal_result(result):
    rows = soup_of(result).find(id="per-class-table").tbody.find_all("tr")
    assert len(rows) == len(result["per_class"])
    for tr, row in zip(rows, result["per_class"]):
        cells = [" ".join(c.get_text().split()) for c in tr.find_all(["th", "td"])]  # as the browser shows them
        reason = "no samples" if row["support"] == 0 else None
        assert cells[0] == row["class"]
        assert cells[1] == f.count(row["support"])
        assert cells[2] == f.count(row["n_predicted"])
        assert cells[3] == f.pct(row["error_rate"], 1, reason)
        assert cells[4] == f.ci(row["error_rate_ci"], 1, reason)
        assert cells[5] == f.pct(row["precision"])
        assert cells[6] == f.pct(row["recall"], 1, reason)


def test_undefined_never_nan_or_none(result):
    text = soup_of(result).get_text(" ")
    assert "undefined (no samples)" in text
    assert not re.search(r"\b(nan|NaN|None|null|inf)\b", text)


def test_headline_and_verdict(result):
    soup = soup_of(result)
    verdict = soup.find(id="verdict")
    assert "Release gate FAILED" in verdict.get_text()
    rows = verdict.find("table").tbody.find_all("tr")
    assert rows[0].th.get_text(strip=True) == "max_ece"  # failing rule first
    assert rows[0].find_all("td")[0].get_text(strip=True) == "FAIL"
    headline = verdict.find("dl").get_text(" ", strip=True)
    assert f.pct(result["overall"]["accuracy"]) in headline
    assert f.ci(result["overall"]["accuracy_ci"]) in headline
    assert "airplane" in headline  # the worst class of the sample
    assert f.pct(result["calibration"]["ece"]) in headline
    assert f"{result['checklist']['n_open']} of 22" in headline


def test_calibration_table_and_temperature(result):
    soup = soup_of(result)
    cal = soup.find(id="calibration")
    assert "T = 1.732" in cal.get_text()
    assert "validation split of the training run" in cal.get_text()
    ece = cal.find(id="calibration-table").tbody.tr.find_all("td")
    assert ece[0].get_text(" ", strip=True) == "8.12% [7.44%, 8.81%]"
    assert ece[1].get_text(" ", strip=True) == "1.51% [1.12%, 2.03%]"
    assert len(cal.find_all("svg")) == 2


def test_disparity_proxy_label_and_bias_links(result):
    soup = soup_of(result)
    groupings = soup.find(id="disparity").find_all("article")
    assert len(groupings) == 2
    assert "PROXY" not in groupings[0].h3.get_text()
    assert "PROXY" in groupings[1].h3.get_text() and "Proxy slice" in groupings[1].get_text()
    cells = [td.get_text(strip=True) for td in groupings[0].table.tbody.tr.find_all("td")]
    g = result["disparity"][0]["groups"][0]
    assert cells == [f.count(g["n"]), f.pct(g["accuracy"]), f.ci(g["accuracy_ci"])]
    for item in ("bias-1", "bias-2", "bias-3"):
        row = soup.find(id=f"item-{item}")
        assert row.find("a", href="#disparity") is not None
    # the human-review item links to the review-load section
    assert soup.find(id="item-bias-4").find("a", href="#selective") is not None
    assert soup.find(id="item-consent-1").find("a", href="#disparity") is None


def test_checklist_rows_and_statuses(result):
    soup = soup_of(result)
    rows = soup.find(id="checklist").find_all("tr", id=True)
    assert len(rows) == 22
    status = {r["id"][5:]: r.find(class_="status").get_text(strip=True) for r in rows}
    assert status["consent-1"] == "Yes" and status["bias-1"] == "No"
    assert status["surveillance-4"] == "Not applicable" and status["data-1"] == "Open"


def test_conventions_all_shown(result):
    table = soup_of(result).find(id="conventions")
    shown = {tr.th.get_text(strip=True): " ".join(tr.td.get_text().split()) for tr in table.find_all("tr")}
    assert shown == {k: " ".join(v.split()) for k, v in result["conventions"].items()}


@pytest.mark.parametrize("key", ["gate", "baseline", "checklist", "mistakes", "calibration", "disparity",
                                 "confusion_matrix", "top_confusions", "provenance", "conventions", "run"])
@pytest.mark.parametrize("how", ["null", "absent"])
def test_absent_sections_render_gracefully(result, key, how):
    if how == "null":
        result[key] = None
    else:
        del result[key]
    soup = soup_of(result)
    assert [h.get_text(strip=True) for h in soup.find_all("h2")] == SECTIONS
    assert "None" not in soup.get_text(" ").split()


def test_no_gate_shows_headline_only():
    soup = soup_of(sample_result(gate=False))
    assert "No release gate was evaluated" in soup.find(id="verdict").get_text()


def test_baseline_section_when_present(result):
    # The shape audit.gate.baseline.compare_predictions returns.
    result["baseline"] = {
        "source": "old.npz", "kind": "predictions",
        "overall": {"n": 100, "accuracy_before": 0.70, "accuracy_after": 0.6877, "delta": -0.0123,
                    "mcnemar": {"b": 9, "c": 2, "p_value": 0.0654}},
        "per_class": [{"class": "cat", "recall_before": 0.5, "recall_after": 0.52, "delta": 0.02,
                       "mcnemar": {"b": 1, "c": 3, "p_value": 0.625}}],
    }
    section = soup_of(result).find(id="baseline")
    text = section.get_text(" ", strip=True)
    assert "70.0% → 68.8%" in text and "−1.2 pp" in text and "p = 0.065" in text
    cells = [td.get_text(strip=True) for td in section.find("tbody").find_all(["th", "td"])]
    assert cells == ["cat", "50.0%", "52.0%", "+2.0 pp", "1", "3", "0.625"]


def test_baseline_from_an_audit_json_has_no_test(result):
    result["baseline"] = {"source": "old/audit.json", "kind": "audit.json",
                          "overall": {"accuracy_before": 0.7, "accuracy_after": 0.71, "delta": 0.01, "mcnemar": None},
                          "per_class": [{"class": "cat", "recall_before": 0.5, "recall_after": 0.5, "delta": 0.0,
                                         "mcnemar": None}]}
    text = soup_of(result).find(id="baseline").get_text(" ", strip=True)
    assert "+1.0 pp" in text and "McNemar test:" not in text and "undefined" in text


def test_missing_required_section_is_a_clear_error(result):
    del result["per_class"]
    with pytest.raises(AuditError, match="'per_class'"):
        render_html(result)


def test_size_and_render_is_deterministic(result):
    html = render_html(result)
    assert len(html.encode()) < 2_000_000
    assert render_html(copy.deepcopy(result)) == html


def test_hostile_strings_only_as_text(hostile):
    html = render_html(hostile)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("script") is None
    imgs = soup.find_all("img")
    assert all(img["src"].startswith("data:image/png;base64,") for img in imgs)
    assert len(imgs) == 1  # the javascript: and https: thumbnails were dropped
    assert not any(tag.has_attr("onerror") for tag in soup.find_all(True))
    assert "49" not in soup.get_text() or "{{7*7}}" in soup.get_text()
    text = soup.get_text(" ")
    for bad in HOSTILE:
        assert bad in text
    assert HOSTILE[0] + HOSTILE[1] + HOSTILE[2] in soup.h1.get_text()
    assert soup.find(id="checklist").get_text().count(HOSTILE[1]) >= 1
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "javascript:" not in html and "https://example.com" not in html


@pytest.mark.parametrize("cache", ["folder", "unusable"])
def test_compiled_templates_are_cached_per_user_and_never_change_the_report(tmp_path, cache):
    """The report renders the same with the template cache, on a second run from it, and where the cache
    folder cannot be made (``AUDIT_CACHE`` naming a file)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = tmp_path / "cache"
    if cache == "unusable":
        root.write_text("not a folder")
    code = ("import sys\nfrom helpers.sample_result import sample_result\nfrom audit.render.html import render_html\n"
            "sys.stdout.write(render_html(sample_result()))\n")
    env = {**os.environ, "AUDIT_CACHE": str(root),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2])] + sys.path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout == render_html(sample_result())
    if cache == "folder":
        cached = list((root / "templates").iterdir())
        assert cached and (root / "templates").stat().st_mode & 0o077 == 0  # private to the user
