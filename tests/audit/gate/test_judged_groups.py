"""One rule for which groups are judged: the disparity rules, the review-load rules and the report's tables
mark the same groups judged and not judged, also when the policy gives the two rule families different
minimum group sizes; ``[selective]`` takes ``[disparity]``'s size unless it sets its own."""

from __future__ import annotations

import numpy as np
import pytest
from bs4 import BeautifulSoup

import audit
from audit.gate.group_judging import is_judged, judged_groups
from audit.render.html import render_html

#: group -> samples: with sizes 50 (disparity) and 35 (review load), "c" is judged by one rule family only
SIZES = {"a": 200, "b": 60, "c": 40, "d": 10}


def _predictions():
    rng = np.random.default_rng(0)
    n = sum(SIZES.values())
    probs = rng.dirichlet(np.ones(3), size=n)
    labels = np.where(rng.random(n) < 0.7, probs.argmax(axis=1), rng.integers(0, 3, n))
    site = np.repeat(list(SIZES), list(SIZES.values()))
    return audit.make_predictions(probs=probs, labels=labels, class_names=["x", "y", "z"], groups={"site": site})


def _policy(tmp_path, selective_size: int | None):
    text = "[disparity]\nmin_group_size = 50\n"
    if selective_size is not None:
        text += f"[selective]\nmin_group_size = {selective_size}\n"
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _not_judged_in_tables(html: str) -> tuple[set[str], set[str]]:
    """Groups marked not judged in the disparity table and in the review-load table of the report."""
    soup = BeautifulSoup(html, "html.parser")

    def marked(table) -> set[str]:
        return {row.th.get_text(" ", strip=True).split()[0] for row in table.find_all("tr", class_="not-judged")}

    disparity = soup.find("caption", string=lambda s: s and s.startswith("Accuracy by site")).parent
    review = soup.find("caption", string=lambda s: s and s.startswith("Review load by site")).parent
    return marked(disparity), marked(review)


@pytest.mark.parametrize("selective_size, review_not_judged, source", [
    (35, {"d"}, "selective"),          # two sizes: each rule family judges by its own
    (None, {"c", "d"}, "disparity"),   # one size: [selective] takes [disparity]'s
])
def test_report_and_verdict_judge_the_same_groups(tmp_path, selective_size, review_not_judged, source):
    result = audit.run_audit(_predictions(), policy=_policy(tmp_path, selective_size), n_bootstrap=0,
                             reproducible=True)
    gate = result.gate
    assert gate["disparity_policy"]["min_group_size"] == 50
    assert gate["selective_policy"] == {"min_group_size": selective_size or 50, "min_group_size_from": source,
                                        "use": "point"}
    rules = {r["name"]: r for r in gate["rules"]}
    # the verdict: disparity judges a and b (2 of 4), the review-load rule leaves out the others
    assert "2 of 4 groups judged (n ≥ 50)" in rules["min_worst_group_accuracy[site]"]["reason"]
    review_reason = rules["max_review_load_gap[site]"]["reason"]
    assert f"{len(review_not_judged)} group(s) under {selective_size or 50} samples left out: " \
           f"{', '.join(sorted(review_not_judged))}" in review_reason
    # the report: the same groups marked
    disparity_marked, review_marked = _not_judged_in_tables(render_html(result.data))
    assert disparity_marked == {"c", "d"}
    assert review_marked == review_not_judged


def test_old_policy_files_with_both_sizes_still_load(tmp_path):
    policy = audit.load_policy(_policy(tmp_path, 30))
    assert (policy.disparity.min_group_size, policy.selective.min_group_size) == (50, 30)
    assert policy.selective.min_group_size_from == "selective"
    default = audit.default_policy()
    assert default.selective.min_group_size == default.disparity.min_group_size == 30
    assert default.selective.min_group_size_from == "disparity"


@pytest.mark.parametrize("n, size, judged", [(30, 30, True), (29, 30, False), (0, 1, False), (1, 1, True),
                                             (True, 1, False), (None, 1, False), (5.0, 1, False)])
def test_is_judged_by_hand(n, size, judged):
    assert is_judged(n, size) is judged


def test_judged_groups_keeps_order_and_sets_aside_what_is_not_a_group():
    groups = [{"group": "a", "n": 40}, {"group": "b", "n": 3}, "junk", {"group": "c", "n": 31}]
    judged, not_judged = judged_groups(groups, 30)
    assert [g["group"] for g in judged] == ["a", "c"]
    assert not_judged == [{"group": "b", "n": 3}, "junk"]
