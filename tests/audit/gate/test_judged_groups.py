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


# -- result.disparity["judged"]: the gate's choice of groupings and of group sizes (review finding 6) ----------


@pytest.fixture(scope="module")
def with_proxies():
    """Predictions with two group columns and images (so the image-property proxies are measured too)."""
    rng = np.random.default_rng(1)
    n = 240
    probs = rng.dirichlet(np.ones(3), size=n)
    labels = np.where(rng.random(n) < 0.7, probs.argmax(axis=1), rng.integers(0, 3, n))
    images = rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8)
    site = np.repeat(["a", "b", "c"], [120, 100, 20])  # c is under the default minimum size (30)
    age = np.asarray(["young", "old"])[np.arange(n) % 2]
    return audit.make_predictions(probs=probs, labels=labels, class_names=["x", "y", "z"], images=images,
                                  groups={"site": site, "age": age})


def _judged(result) -> dict[str, set[str]]:
    frame = result.disparity
    return {col: set(frame.loc[col].index[frame.loc[col, "judged"]]) for col in frame.index.unique("column")}


def _rule_groupings(result) -> set[str]:
    return {r["name"].split("[", 1)[1][:-1] for r in result.gate["rules"] if r["name"].startswith("min_worst_group")}


def test_judged_follows_the_gate_by_default_proxies_are_not_judged(with_proxies):
    result = audit.run_audit(with_proxies, n_bootstrap=0)
    judged = _judged(result)
    proxies = {d["name"] for d in result.data["disparity"] if d.get("proxy")}
    assert proxies and all(judged[p] == set() for p in proxies)  # include_proxies = false: shown, not judged
    assert judged["site"] == {"a", "b"} and judged["age"] == {"young", "old"}  # c: 20 < 30 samples
    assert _rule_groupings(result) == {"site", "age"}  # the gate's rules name exactly these groupings


def test_judged_follows_the_policys_groupings(with_proxies):
    result = audit.run_audit(with_proxies, n_bootstrap=0, policy={"disparity": {"groupings": ["site"]}})
    judged = _judged(result)
    assert judged["site"] == {"a", "b"}
    assert all(judged[col] == set() for col in judged if col != "site")  # no rule judges age or the proxies
    assert _rule_groupings(result) == {"site"}


def test_judged_includes_proxies_when_the_policy_does(with_proxies):
    result = audit.run_audit(with_proxies, n_bootstrap=0,
                             policy={"disparity": {"include_proxies": True, "min_group_size": 100}})
    judged = _judged(result)
    proxies = {d["name"] for d in result.data["disparity"] if d.get("proxy")}
    for p in proxies:  # proxies are judged whole (terciles), whatever the minimum size
        groups = next(d["groups"] for d in result.data["disparity"] if d["name"] == p)
        assert judged[p] == {str(g["group"]) for g in groups}
    assert judged["site"] == {"a", "b"} and judged["age"] == {"young", "old"}
    assert _rule_groupings(result) == {"site", "age"} | proxies


def test_nothing_is_judged_when_the_disparity_rules_are_off_or_there_is_no_verdict(with_proxies):
    off = audit.run_audit(with_proxies, n_bootstrap=0, policy={"disparity": {"enabled": False}})
    assert not off.disparity["judged"].any() and len(off.disparity) > 0
    bare = audit.AuditResult({**off.data, "gate": None})
    assert not bare.disparity["judged"].any()
