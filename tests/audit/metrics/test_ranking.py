import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import average_precision_score, roc_auc_score

from audit.metrics.ranking import (
    SCORE_BINS,
    RankingAccumulator,
    bin_floor,
    rank_stats,
    ranking_exact,
    ranking_means,
    score_bins,
    tie_groups,
)


def random_case(seed, n=400, k=4, decimals=None):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), labels] += 1.0
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    if decimals is not None:  # many ties, within and across classes
        probs = np.round(probs, decimals)
    return labels, probs


@pytest.mark.parametrize("seed, decimals", [(0, None), (1, None), (2, 1), (3, 2), (4, 0)])
def test_equal_to_scikit_learn_on_random_and_tied_scores(seed, decimals):
    labels, probs = random_case(seed, decimals=decimals)
    stats = ranking_exact(labels, probs)
    for k, s in enumerate(stats):
        assert s["roc_auc"] == pytest.approx(roc_auc_score(labels == k, probs[:, k]), rel=1e-12)
        assert s["average_precision"] == pytest.approx(average_precision_score(labels == k, probs[:, k]), rel=1e-12)
        assert s["roc_auc_bound"] == 0.0 and s["average_precision_bound"] == 0.0


def test_hand_worked_with_a_tie():
    # scores 0.9 (+), 0.8 (−), 0.8 (+), 0.1 (−): pairs (+,−) = 4, wins 0.9>0.8, 0.9>0.1, 0.8>0.1, tie 0.8=0.8
    scores = np.array([0.9, 0.8, 0.8, 0.1])
    is_pos = np.array([True, False, True, False])
    s = rank_stats(*tie_groups(scores, is_pos))
    assert s["roc_auc"] == pytest.approx(3.5 / 4)
    # thresholds 0.9: P = 1/1, R = 1/2; 0.8 (tie group): P = 2/3, R = 1 -> AP = 0.5 + 0.5 · 2/3
    assert s["average_precision"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert s["n_pos"] == 2 and s["n_neg"] == 2


def test_class_without_samples_or_with_every_sample_is_undefined():
    labels = np.array([0, 0, 0])
    probs = np.array([[0.6, 0.4], [0.7, 0.3], [0.2, 0.8]])
    stats = ranking_exact(labels, probs)
    for s in stats:  # class 0 has every sample, class 1 none
        assert s["roc_auc"] is None and s["average_precision"] is None and s["roc_auc_ci"] is None
    assert ranking_means(stats) == {"roc_auc_macro": None, "roc_auc_weighted": None,
                                    "average_precision_macro": None, "average_precision_weighted": None}


def test_means_are_macro_and_prevalence_weighted_as_scikit_learn():
    labels, probs = random_case(5, n=600, k=3)
    stats = ranking_exact(labels, probs)
    onehot = np.eye(3)[labels]
    m = ranking_means(stats)
    assert m["roc_auc_macro"] == pytest.approx(roc_auc_score(onehot, probs, average="macro"), rel=1e-12)
    assert m["roc_auc_weighted"] == pytest.approx(roc_auc_score(onehot, probs, average="weighted"), rel=1e-12)
    assert m["average_precision_macro"] == pytest.approx(average_precision_score(onehot, probs, average="macro"), rel=1e-12)
    assert m["average_precision_weighted"] == pytest.approx(
        average_precision_score(onehot, probs, average="weighted"), rel=1e-12)


def test_delong_interval_matches_the_hand_formula():
    # 2 positives (0.9, 0.4), 2 negatives (0.5, 0.1): V10 = (1, 0.5), V01 = (0.5, 1) -> AUC 0.75
    s = rank_stats(*tie_groups(np.array([0.9, 0.4, 0.5, 0.1]), np.array([True, True, False, False])))
    assert s["roc_auc"] == pytest.approx(0.75)
    var = np.var([1, 0.5], ddof=1) / 2 + np.var([0.5, 1], ddof=1) / 2
    assert_allclose(s["roc_auc_ci"], [0.75 - 1.959963984540054 * var ** 0.5, 1.0])


def test_average_precision_logit_interval():
    labels, probs = random_case(6, n=300, k=2)
    s = ranking_exact(labels, probs)[1]
    ap, n = s["average_precision"], s["n_pos"]
    half = 1.959963984540054 / np.sqrt(n * ap * (1 - ap))
    logit = np.log(ap / (1 - ap))
    assert_allclose(s["average_precision_ci"], 1 / (1 + np.exp(-np.array([logit - half, logit + half]))))
    assert s["average_precision_ci"][0] < ap < s["average_precision_ci"][1]


def test_score_bins_are_monotone_and_fine_at_both_ends():
    rng = np.random.default_rng(7)
    x = np.sort(np.concatenate([rng.random(20000), rng.random(2000) ** 20, 1 - rng.random(2000) ** 20,
                                [0.0, 0.5, 1.0, 1e-300, 1 - 2 ** -53]]))
    codes = score_bins(x)
    assert np.all(np.diff(codes) >= 0) and codes.min() >= 0 and codes.max() < SCORE_BINS
    assert score_bins(np.array([1e-6]))[0] != score_bins(np.array([1.01e-6]))[0]
    assert score_bins(np.array([1 - 1e-6]))[0] != score_bins(np.array([1 - 1.01e-6]))[0]
    for code in (1, 777, 8064, 8065, 8320, 12000, SCORE_BINS - 1):
        t = bin_floor(code)
        assert score_bins(np.array([t]))[0] >= code
        assert t == 0.0 or score_bins(np.array([np.nextafter(t, 0)]))[0] < code


@pytest.mark.parametrize("seed, decimals", [(8, None), (9, 3)])
def test_merged_histograms_are_within_the_stated_bound(seed, decimals):
    labels, probs = random_case(seed, n=3000, k=5, decimals=decimals)
    exact = ranking_exact(labels, probs)
    parts = [RankingAccumulator(5).update(labels[a:b], probs[a:b]) for a, b in ((0, 1000), (1000, 1700), (1700, 3000))]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    whole = RankingAccumulator(5).update(labels, probs)
    assert np.array_equal(merged.counts, whole.counts)
    for s, e in zip(merged.result(), exact):
        assert abs(s["roc_auc"] - e["roc_auc"]) <= s["roc_auc_bound"] + 1e-12
        assert abs(s["average_precision"] - e["average_precision"]) <= s["average_precision_bound"] + 1e-12
        assert s["roc_auc_bound"] < 0.01


def test_bins_holding_single_scores_reproduce_the_exact_values():
    """With 2-decimal scores every bin holds one distinct score (bins are at most 0.002 wide):
    binned = exact, whatever the bound says."""
    labels, probs = random_case(10, n=2000, k=3, decimals=2)
    exact = ranking_exact(labels, probs)
    for s, e in zip(RankingAccumulator(3).update(labels, probs).result(), exact):
        assert s["roc_auc"] == pytest.approx(e["roc_auc"], rel=1e-12)
        assert s["average_precision"] == pytest.approx(e["average_precision"], rel=1e-12)


def test_curves_start_at_the_origin_and_end_at_one():
    labels, probs = random_case(11, n=500, k=3)
    s = ranking_exact(labels, probs)[0]
    roc, pr = s["roc_curve"], s["pr_curve"]
    assert (roc["fpr"][0], roc["tpr"][0]) == (0.0, 0.0) and (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)
    assert pr["recall"][-1] == 1.0 and len(roc["fpr"]) <= 67
    assert np.all(np.diff(roc["fpr"]) >= 0) and np.all(np.diff(pr["recall"]) >= 0)


def test_float32_scores_sorted_narrow_give_the_same_values():
    labels, probs = random_case(12, n=5000, k=3)
    probs32 = probs.astype(np.float32)
    stats = ranking_exact(labels, probs32.astype(np.float64))  # lossless: sorted as float32
    for k, s in enumerate(stats):
        assert s["roc_auc"] == pytest.approx(roc_auc_score(labels == k, probs32[:, k]), rel=1e-12)
        assert s["average_precision"] == pytest.approx(average_precision_score(labels == k, probs32[:, k]), rel=1e-12)
