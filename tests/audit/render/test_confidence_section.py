import re

import numpy as np

from audit.engine.build import build_result
from audit.predictions import make_predictions
from audit.render.confidence_charts import MAX_CURVES, curve_classes
from audit.render.html import render_html


def result(k=4, n=800, seed=0, names=None, target=0.9):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), labels] += np.linspace(0.5, 3, k)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pred = make_predictions(labels, probs, names or [f"c{i}" for i in range(k)],
                            groups={"site": rng.choice(["north", "south"], n)})
    return build_result(pred, n_bootstrap=0, images=False, target_accuracy=target)


def section(html):
    return html[html.index('<section id="selective"'):html.index('<section id="disparity"')]


def test_review_sentence_group_table_and_ranking_table():
    r = result()
    html = render_html(r)
    part = section(html)
    sel = r["selective"]
    sentence = re.sub(r"\s+", " ", re.search(r'id="review-load-sentence">(.*?)</p>', part, re.S).group(1))
    assert f"To reach <strong>90%</strong> accuracy, people review <strong>{100 * sel['review_load']:.1f}%</strong>" in sentence
    assert 'id="selective-0"' in part and "Review load by site" in part
    for g in sel["by_group"][0]["groups"]:
        assert f"{100 * g['review_load']:.1f}%" in part
    assert 'id="ranking-table"' in part and f"{r['per_class'][0]['roc_auc']:.3f}" in part
    assert part.count('aria-labelledby="chart-roc-') == 4 and 'id="chart-risk-coverage-t"' in part
    assert '<a href="#selective">' in html


def test_unreachable_target_says_everything_is_reviewed():
    # the most confident image (0.9) is wrong, and so is half of the rest: no prefix reaches 90%
    pred = make_predictions([0, 0, 1, 1], [[0.1, 0.9], [0.6, 0.4], [0.7, 0.3], [0.45, 0.55]], ["a", "b"])
    part = section(render_html(build_result(pred, n_bootstrap=0, images=False)))
    assert "no confidence threshold is enough" in part


def test_many_classes_show_the_worst_first():
    r = result(k=MAX_CURVES + 3, n=3000, seed=2)
    shown = curve_classes(r)
    aucs = [r["per_class"][i]["roc_auc"] for i in shown]
    assert len(shown) == MAX_CURVES and aucs == sorted(aucs)
    assert max(aucs) <= min(row["roc_auc"] for i, row in enumerate(r["per_class"]) if i not in shown)
    part = section(render_html(r))
    assert "lowest ROC AUC" in part and part.count('aria-labelledby="chart-roc-') == MAX_CURVES


def test_hostile_class_names_are_escaped_and_old_results_render():
    r = result(k=3, names=["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{7*7}}"])
    html = render_html(r)
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "{{7*7}}" in html
    del r["selective"], r["ranking"]
    part = section(render_html(r))
    assert "no selective section" in part and 'id="ranking-table"' not in part


def test_class_with_every_sample_is_marked():
    pred = make_predictions(np.zeros(20, int), np.tile([0.7, 0.3], (20, 1)), ["a", "b"])
    r = build_result(pred, n_bootstrap=0, images=False)
    # the confusion heatmap cannot draw a None row (an absent class) yet: give it a row of None cells
    r["confusion_matrix_normalized"] = [row or [None, None] for row in r["confusion_matrix_normalized"]]
    part = section(render_html(r))
    assert "every sample" in part and "no samples" in part


def test_thousands_of_groups_list_the_most_and_least_reviewed_and_count_the_rest():
    from audit.render.confidence_charts import MAX_GROUP_ROWS

    rng = np.random.default_rng(3)
    n, k = 6000, 3
    labels = rng.integers(0, k, n)
    probs = rng.dirichlet(np.ones(k), n)
    ids = np.asarray([f"cam{i:04d}" for i in range(3000)])[rng.integers(0, 3000, n)]
    ids[:3000] = np.where(np.arange(3000) < 1500, "big-a", "big-b")  # two groups with many images
    pred = make_predictions(labels, probs, ["a", "b", "c"], groups={"camera": ids})
    r = build_result(pred, n_bootstrap=0, images=False)
    part = section(render_html(r))
    table = part[part.index('<table class="data" id="selective-0"'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r'<tr><th scope="row">', table)
    assert len(rows) <= MAX_GROUP_ROWS + 1  # the shown groups and the gaps row
    assert "big-a" in table and "big-b" in table  # the only groups with at least 30 images
    from audit.render import formatting as f

    n_groups = len(r["selective"]["by_group"][0]["groups"])
    assert f"{f.count(n_groups - 2)} more groups of camera" in part  # the rest counted, all in audit.json
    assert len(part.encode()) < 200_000
