"""The report at any K and any group structure: no crash on valid input, the worst classes first, the
confusion sub-matrix beyond a readable K, K = 2 as one small table, thousands of groups collapsed."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from helpers.any_input import LONG_NAME, UNICODE_NAMES, result_for

from audit.render import views
from audit.render.html import render_html
from audit.render.markdown import render_markdown

MB = 1 << 20


def soup(result) -> BeautifulSoup:
    return BeautifulSoup(render_html(result), "html.parser")


def test_class_without_samples_renders_hatched_row_not_typeerror():
    """The bug of issue 11: a class absent from the labels crashed the row-normalised heatmap."""
    r = result_for(10, 300, absent=(3,))
    assert r["confusion_matrix_normalized"][3] is None
    page = soup(r)
    assert page.find(id="chart-cm-norm-t") is not None and page.find(id="chart-cm-counts-t") is not None
    row = next(tr for tr in page.find(id="per-class-table").tbody.find_all("tr") if tr.th.get_text() == "c3")
    assert "undefined (no samples)" in row.get_text()
    assert "1 of 10 classes have no samples" in page.find(id="per-class").get_text()


def test_never_predicted_class_reads_undefined_precision():
    r = result_for(5, 200, never_predicted=(2,))
    row = next(tr for tr in soup(r).find(id="per-class-table").tbody.find_all("tr") if tr.th.get_text() == "c2")
    assert "undefined (never predicted)" in row.get_text()


def test_k2_is_one_small_confusion_table():
    page = soup(result_for(2, 100))
    confusion = page.find(id="confusion")
    assert confusion.find(id="chart-cm-binary-t") is not None
    assert confusion.find(id="chart-cm-counts-t") is None and confusion.find(id="chart-cm-norm-t") is None
    assert page.find(id="worst-classes-table") is None
    assert page.find(id="per-class-table").find_parent("details") is None  # two rows: shown open


def test_k1000_report_worst_first_submatrix_and_under_2mb():
    r = result_for(1000, 50_000, absent=(0, 1), never_predicted=(5,), group_sizes=[20_000, 20_000] + [5] * 2000)
    assert r["confusion_matrix"] is None and r["confusion_cells"]  # stored sparse above 100 classes
    html = render_html(r)
    assert len(html.encode()) < 2 * MB
    page = BeautifulSoup(html, "html.parser")
    worst = page.find(id="worst-classes-table").tbody.find_all("tr")
    assert len(worst) == views.WORST_CLASSES
    rates = [row["error_rate"] for row in r["per_class"] if row["error_rate"] is not None]
    assert worst[0].th.get_text() == next(
        row["class"] for row in r["per_class"] if row["error_rate"] == max(rates))
    assert page.find(id="per-class-table").find_parent("details") is not None  # full table collapsed
    sub = page.find(id="chart-cm-sub-t").parent  # the <svg>
    assert page.find(id="chart-cm-counts-t") is None
    assert len(sub.find_all("rect")) <= views.SUBMATRIX_CLASSES ** 2 + 5
    top = r["top_confusions"][0]
    labels = {t.get_text() for t in sub.find_all("title")}
    assert top["true"] in labels and top["predicted"] in labels
    text = page.find(id="disparity").get_text()
    assert "2,000 not judged" in text and "10,000 samples in all" in text


def test_thousands_of_groups_collapsed_under_2mb():
    r = result_for(10, 10_000, group_sizes=[10] * 1000)
    html = render_html(r)
    assert len(html.encode()) < 2 * MB
    article = BeautifulSoup(html, "html.parser").find(id="disparity-0")
    assert "1,000 not judged" in article.get_text()
    rules = {rule["name"]: rule for rule in r["gate"]["rules"]}
    assert rules["max_disparity_difference[site]"]["skipped"]  # no group of 30: nothing judged


def test_single_group_column_reads_undefined_with_reason():
    r = result_for(4, 200, group_sizes=[200])
    entry = r["disparity"][0]
    assert entry["difference"] is None and entry["undefined_reason"]
    text = soup(r).find(id="disparity-0").get_text(" ", strip=True)
    assert "undefined (only one group: there is nothing to compare)" in text
    rules = {rule["name"]: rule for rule in r["gate"]["rules"]}
    assert rules["max_disparity_difference[site]"]["skipped"] and "undefined" in rules[
        "max_disparity_difference[site]"]["reason"]


@pytest.mark.parametrize("accuracy", [0.0, 1.0])
def test_all_wrong_and_all_right(accuracy):
    r = result_for(3, 60, accuracy=accuracy)
    html = render_html(r)
    assert r["overall"]["accuracy"] == accuracy and "<svg" in html
    render_markdown(r)


def test_a_single_sample():
    r = result_for(3, 1)
    page = soup(r)
    assert r["overall"]["n"] == 1 and page.find(id="per-class-table") is not None
    render_markdown(r)


def test_unicode_long_and_wordnet_names_escaped_and_titled():
    names = UNICODE_NAMES + [f"n0{1440765 + i}" for i in range(30)]
    r = result_for(len(names), 600, names=names)
    html = render_html(r)
    assert "<b>&amp;</b>" not in html and "&lt;b&gt;&amp;amp;&lt;/b&gt;" in html
    page = BeautifulSoup(html, "html.parser")
    cells = [th.get_text() for th in page.find(id="per-class-table").tbody.find_all("th")]
    assert cells[:len(UNICODE_NAMES)] == UNICODE_NAMES and LONG_NAME[:200] in cells
    # chart labels are shortened to stay legible; the full name stays in the label's <title> tooltip
    chart = page.find(id="chart-per-class-t").parent
    for label in chart.find_all("text"):
        title = label.find("title")
        if title is not None:
            shown = label.get_text()[len(title.get_text()):]
            assert len(shown) <= 22 and title.get_text().startswith(shown.rstrip("\u2026"))


def test_many_groups_show_worst_and_best_judged_first_or_the_largest():
    judged = result_for(5, 3_000, group_sizes=[100] * 25 + [2] * 250)
    article = BeautifulSoup(render_html(judged), "html.parser").find(id="disparity-0")
    first = article.find("table")
    assert "20 worst and best judged groups, worst first" in first.caption.get_text()
    shown = [(row.th.get_text(" ", strip=True), row.find_all("td")[1].get_text()) for row in first.tbody.find_all("tr")]
    rates = [float(rate.rstrip("%")) for _, rate in shown]
    assert rates[:10] == sorted(rates[:10]) and len(shown) == 20
    assert all("not judged" not in name for name, _ in shown)
    tiny = result_for(5, 920, group_sizes=[3] * 300 + [20])
    article = BeautifulSoup(render_html(tiny), "html.parser").find(id="disparity-0")
    caption = article.find("table").caption.get_text()
    assert "largest groups (no group is large enough to be judged)" in caption


def test_markdown_summary_stays_short_at_k1000():
    from audit.render.markdown import MAX_RULES

    r = result_for(1000, 5_000, absent=tuple(range(30)), accuracy=0.1)
    text = render_markdown(r)
    failed = sum(1 for rule in r["gate"]["rules"] if not rule["passed"])
    assert failed > MAX_RULES and f"and {failed - MAX_RULES} more failed rules" in text
    undefined = sum(1 for row in r["per_class"] if row["error_rate"] is None)
    assert undefined >= 30 and f"and {undefined - MAX_RULES} more." in text
    assert text.count("max\\_class\\_error\\_rate") <= MAX_RULES
    assert len(text.encode()) < 20_000
