import numpy as np
import pytest

from audit.metrics.selective import (
    SelectiveAccumulator,
    aurc_from_groups,
    operating_point,
    selective_exact,
)


def brute_aurc(confidence, correct, rng, repeats=200):
    """AURC averaged over random orders of tied confidences (the definition, sample by sample)."""
    n = confidence.size
    total = 0.0
    for _ in range(repeats):
        order = np.lexsort((rng.random(n), -confidence))
        total += np.mean(np.cumsum(~correct[order]) / np.arange(1, n + 1))
    return total / repeats


@pytest.mark.parametrize("correct, aurc, optimal", [
    # confidences 0.9, 0.8, 0.7, 0.6: risks at coverage 1/4..4/4
    ([1, 0, 1, 0], (0 + 1 / 2 + 1 / 3 + 2 / 4) / 4, (0 + 0 + 1 / 3 + 2 / 4) / 4),
    ([0, 1, 1, 1], (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4, (0 + 0 + 0 + 1 / 4) / 4),
    ([1, 1, 1, 0], (0 + 0 + 0 + 1 / 4) / 4, (0 + 0 + 0 + 1 / 4) / 4),
    ([1, 1, 1, 1], 0.0, 0.0),
    ([0, 0, 0, 0], 1.0, 1.0),
])
def test_aurc_and_excess_on_hand_worked_orderings(correct, aurc, optimal):
    conf = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array(correct, bool)
    s = selective_exact(np.zeros(4, int), np.where(correct, 0, 1), conf, ["a", "b"], target=0.5)
    assert s["aurc"] == pytest.approx(aurc, abs=1e-12)
    assert s["aurc_optimal"] == pytest.approx(optimal, abs=1e-12)
    assert s["eaurc"] == pytest.approx(aurc - optimal, abs=1e-12)


def test_ties_count_as_the_expectation_over_their_orders():
    # 0.9 right; two tied 0.5, one right one wrong: E(2) = 0.5, E(3) = 1 -> (0 + 0.25 + 1/3) / 3
    s = selective_exact(np.zeros(3, int), np.array([0, 0, 1]), np.array([0.9, 0.5, 0.5]), ["a", "b"])
    assert s["aurc"] == pytest.approx((0 + 0.5 / 2 + 1 / 3) / 3, abs=1e-12)
    rng = np.random.default_rng(0)
    conf = np.round(rng.random(300), 1)
    correct = rng.random(300) < conf
    s = selective_exact(np.zeros(300, int), np.where(correct, 0, 1), conf, ["a", "b"])
    assert s["aurc"] == pytest.approx(brute_aurc(conf, correct, rng), abs=3e-3)


def test_groups_with_many_samples_use_the_closed_form():
    n = np.array([1, 5000, 3, 1])
    e = np.array([0, 1000, 3, 0])
    expanded = np.concatenate([np.zeros(1), np.full(5000, 0.2), np.ones(3), np.zeros(1)])
    direct = np.mean(np.cumsum(expanded) / np.arange(1, expanded.size + 1))
    assert aurc_from_groups(n, e)[0] == pytest.approx(direct, rel=1e-10)


def test_threshold_coverage_and_review_load_worked_by_hand():
    # ten samples by confidence; x = wrong. Target 0.8.
    # conf : .95 .9 .85 .8 .75 .7 .65 .6 .55 .5
    # right:  y  y   x   y   y   y   x   x   y   x
    # accuracy of the top i: 1 1 .67 .75 .8 .83 .71 .63 .67 .6 -> largest i with >= 0.8 is 6 (t = 0.7)
    conf = np.array([.95, .9, .85, .8, .75, .7, .65, .6, .55, .5])
    right = np.array([1, 1, 0, 1, 1, 1, 0, 0, 1, 0], bool)
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    pred = np.where(right, labels, 1 - labels)
    group = np.array(["a", "a", "b", "a", "b", "a", "b", "b", "a", "b"])
    s = selective_exact(labels, pred, conf, ["c0", "c1"], [{"name": "g", "values": group}], target=0.8)
    assert s["threshold"] == 0.7
    assert s["coverage"] == pytest.approx(0.6) and s["review_load"] == pytest.approx(0.4)
    assert s["selective_accuracy"] == pytest.approx(5 / 6)
    assert s["accuracy_full"] == pytest.approx(0.6)
    # group a: .95 .9 .8 .7 .55 -> 4 of 5 kept, all right; group b: .85 .75 .65 .6 .5 -> 2 kept, 1 right
    g = {row["group"]: row for row in s["by_group"][0]["groups"]}
    assert (g["a"]["coverage"], g["a"]["review_load"], g["a"]["selective_accuracy"]) == (0.8, pytest.approx(0.2), 1.0)
    assert (g["b"]["coverage"], g["b"]["review_load"], g["b"]["selective_accuracy"]) == (0.4, 0.6, 0.5)
    assert g["a"]["accuracy"] == 1.0 and g["b"]["accuracy"] == pytest.approx(0.2)
    entry = s["by_group"][0]
    assert entry["accuracy_gap_full"] == pytest.approx(0.8)
    assert entry["accuracy_gap_at_target"] == pytest.approx(0.5)
    assert entry["review_load_gap"] == pytest.approx(0.4) and entry["most_reviewed_group"] == "b"
    # class c0 (true): samples 0, 2, 4, 6, 8 -> kept 0, 2, 4 (3 of 5), 2 of them right
    c0 = s["by_class"][0]
    assert (c0["n"], c0["coverage"], c0["selective_accuracy"]) == (5, 0.6, pytest.approx(2 / 3))
    lo, hi = s["coverage_ci"]
    assert lo < 0.6 < hi


def test_unreachable_target_refers_everything():
    s = selective_exact(np.zeros(3, int), np.ones(3, int), np.array([0.9, 0.8, 0.7]), ["a", "b"], target=0.9)
    assert s["threshold"] is None and s["coverage"] == 0.0 and s["review_load"] == 1.0
    assert s["selective_accuracy"] is None


def test_operating_point_keeps_ties_together_and_refuses_bad_targets():
    # groups (descending): 2 right, then a tie of 2 with 1 wrong: 3/4 = 0.75 < 0.8, so only the first group
    assert operating_point([2, 2], [0, 1], 0.8) == {"index": 0, "retained": 2, "errors": 0}
    assert operating_point([2, 2], [0, 1], 0.75)["retained"] == 4
    for bad in (0, 1.5, "0.9", True):
        with pytest.raises(ValueError, match="target_accuracy"):
            operating_point([1], [0], bad)


def test_streamed_histograms_within_their_bounds():
    rng = np.random.default_rng(3)
    n, k = 5000, 3
    labels = rng.integers(0, k, n)
    conf = 1 / k + (1 - 1 / k) * rng.random(n) ** 0.5
    pred = np.where(rng.random(n) < conf, labels, (labels + 1) % k)
    group = rng.choice(["x", "y"], n)
    exact = selective_exact(labels, pred, conf, ["a", "b", "c"], [{"name": "g", "values": group}], target=0.85)
    acc = SelectiveAccumulator(k, ["g"])
    for a, b in ((0, 1234), (1234, 4000), (4000, n)):
        part = SelectiveAccumulator(k, ["g"]).update(labels[a:b], pred[a:b], conf[a:b], {"g": group[a:b]})
        acc.merge(part)
    s = acc.result(["a", "b", "c"], target=0.85)
    assert abs(s["aurc"] - exact["aurc"]) <= s["aurc_bound"] + 1e-12
    assert s["aurc_bound"] < 0.01
    assert s["aurc_optimal"] == pytest.approx(exact["aurc_optimal"], rel=1e-12)
    assert s["coverage"] <= exact["coverage"] <= s["coverage_upper"]
    assert s["selective_accuracy"] >= 0.85
    assert abs(s["coverage"] - exact["coverage"]) < 0.01
    kept = conf >= s["threshold"]  # the stated threshold retains exactly the stated coverage
    assert kept.mean() == pytest.approx(s["coverage"])
    assert (pred[kept] == labels[kept]).mean() == pytest.approx(s["selective_accuracy"])
    rows = {r["group"]: r for r in s["by_group"][0]["groups"]}
    assert rows["x"]["coverage"] == pytest.approx(kept[group == "x"].mean())
