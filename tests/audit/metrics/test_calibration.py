import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import brier_score_loss, log_loss

from audit.metrics.calibration import (
    CalibrationAccumulator,
    adaptive_ece,
    bin_index,
    brier_score,
    ece_bootstrap_interval,
    expected_calibration_error,
    negative_log_likelihood,
)

# conf 1.0 (bin 4, right), 0.8 (bin 3, wrong), 0.6 (bin 2, right), 0.4 (bin 1, right),
# 0.5 tie -> class 0 (bin 2, wrong); 5 bins: (0,.2] (.2,.4] (.4,.6] (.6,.8] (.8,1]
PROBS = np.array([[1.0, 0.0, 0.0], [0.8, 0.1, 0.1], [0.6, 0.4, 0.0], [0.4, 0.3, 0.3], [0.5, 0.5, 0.0]])
LABELS = np.array([0, 1, 0, 0, 1])


def naive_ece(labels, probs, n_bins):
    """The straightforward loop: boolean masks per (lo, hi] bin, 0 in the first bin."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for b in range(n_bins):
        mask = (conf > edges[b]) & (conf <= edges[b + 1])
        if b == 0:
            mask |= conf == 0
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return ece


def test_bin_edges_are_lo_exclusive_hi_inclusive():
    assert_array_equal(bin_index(np.array([0.0, 0.2, 0.2000001, 0.6, 0.8, 1.0]), 5), [0, 0, 1, 2, 3, 4])
    assert_array_equal(bin_index(np.array([0.0, 1 / 15, 1.0]), 15), [0, 0, 14])


def test_calibration_hand_worked():
    r = CalibrationAccumulator(n_bins=5).update(LABELS, PROBS).result()
    # bin1: |1 − 0.4| = 0.6; bin2: |1 − 1.1| = 0.1; bin3: |0 − 0.8| = 0.8; bin4: |1 − 1| = 0 -> 1.5 / 5
    assert r["ece"] == pytest.approx(0.3)
    assert r["mce"] == pytest.approx(0.8)  # bin2 gap per sample is 0.1 / 2
    # Brier rows: 0, 0.64+0.81+0.01, 0.16+0.16, 0.36+0.09+0.09, 0.25+0.25 -> 2.82 / 5
    assert r["brier"] == pytest.approx(0.564)
    # NLL: −(ln 1 + ln .1 + ln .6 + ln .4 + ln .5) / 5 = 4.422849 / 5
    assert r["nll"] == pytest.approx(0.8845698, abs=1e-7)
    # classwise, 5 bins: class 0 gaps .6+.1+.8+0 = 1.5; class 1: b0 |1−.1| + b1 |0−.7| + b2 |1−.5| = 2.1;
    # class 2: b0 |0−.1| + b1 |0−.3| = 0.4 -> (0.3 + 0.42 + 0.08) / 3
    assert r["classwise_ece"] == pytest.approx(0.8 / 3)
    # adaptive, 5 equal-mass bins of one sample: |1−1| + |0−.8| + |1−.6| + |1−.4| + |0−.5| = 2.3 / 5
    assert r["adaptive_ece"] == pytest.approx(0.46)
    assert adaptive_ece(PROBS.max(1), PROBS.argmax(1) == LABELS, 5) == pytest.approx(0.46)
    bins = r["bins"]
    assert [b["count"] for b in bins] == [0, 1, 2, 1, 1]
    assert bins[0]["mean_confidence"] is None and bins[0]["accuracy"] is None
    assert bins[2]["mean_confidence"] == pytest.approx(0.55) and bins[2]["accuracy"] == 0.5
    assert bins[4]["lo"] == 0.8 and bins[4]["hi"] == 1.0


def test_confidence_exactly_one_lands_in_last_bin():
    r = CalibrationAccumulator(15).update([0, 1], np.array([[1.0, 0.0], [0.0, 1.0]])).result()
    assert r["bins"][14]["count"] == 2 and r["ece"] == 0.0 and r["mce"] == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ece_matches_naive_loop_and_sklearn(seed):
    rng = np.random.default_rng(seed)
    k = 4 + seed
    probs = rng.dirichlet(np.ones(k) * 0.5, 2000)
    probs[:50] = np.eye(k)[rng.integers(0, k, 50)]  # confidences of exactly 1.0
    labels = rng.integers(0, k, 2000)
    assert expected_calibration_error(labels, probs, 15) == pytest.approx(naive_ece(labels, probs, 15))
    assert negative_log_likelihood(labels, np.clip(probs, 1e-6, 1)) == pytest.approx(
        log_loss(labels, np.clip(probs, 1e-6, 1) / np.clip(probs, 1e-6, 1).sum(1, keepdims=True),
                 labels=range(k)), rel=1e-3)
    assert brier_score(labels, probs) == pytest.approx(
        brier_score_loss(labels, probs, labels=range(k), scale_by_half=False))


def test_nll_matches_log_loss_exactly_away_from_zero():
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(6) * 3, 1000)
    labels = rng.integers(0, 6, 1000)
    assert negative_log_likelihood(labels, probs) == pytest.approx(log_loss(labels, probs, labels=range(6)))


def test_nll_clip_is_applied():
    # p_true = 0 -> −ln(1e-15) = 34.538776
    assert negative_log_likelihood([1], np.array([[1.0, 0.0]])) == pytest.approx(34.538776, abs=1e-6)


def test_chunks_merged_equal_whole():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(5), 3000)
    labels = rng.integers(0, 5, 3000)
    whole = CalibrationAccumulator().update(labels, probs)
    parts = [CalibrationAccumulator().update(labels[i:i + 700], probs[i:i + 700]) for i in range(0, 3000, 700)]
    merged = parts[0]
    for p in parts[1:]:
        merged.merge(p)
    a, b = whole.result(n_bootstrap=50, seed=1), merged.result(n_bootstrap=50, seed=1)
    for key in ("ece", "mce", "classwise_ece", "adaptive_ece", "brier", "nll"):
        assert a[key] == pytest.approx(b[key], rel=1e-12), key
    assert_allclose(a["ece_ci"], b["ece_ci"], rtol=1e-9)
    assert [x["count"] for x in a["bins"]] == [x["count"] for x in b["bins"]]
    assert_allclose([x["mean_confidence"] or 0 for x in a["bins"]], [x["mean_confidence"] or 0 for x in b["bins"]])


def test_adaptive_ece_ties_do_not_depend_on_sample_order():
    conf = np.array([0.9, 0.9, 0.9, 0.5])
    correct = np.array([True, False, True, False])
    # sorted: .5 (wrong), .9 wrong, .9 right, .9 right; 2 bins of 2: |0 − 1.4| + |2 − 1.8| = 1.6 / 4
    assert adaptive_ece(conf, correct, 2) == pytest.approx(0.4)
    assert adaptive_ece(conf[::-1], correct[::-1], 2) == pytest.approx(0.4)


def test_sketch_adaptive_ece_close_to_exact():
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(10) * 0.3, 20000)
    labels = np.where(rng.random(20000) < 0.7, probs.argmax(1), rng.integers(0, 10, 20000))
    acc = CalibrationAccumulator().update(labels, probs)
    exact = adaptive_ece(probs.max(1), probs.argmax(1) == labels)
    assert acc.result()["adaptive_ece"] == pytest.approx(exact, abs=2e-3)


def test_bootstrap_interval_agrees_with_naive_resampling():
    rng = np.random.default_rng(6)
    n = 3000
    probs = rng.dirichlet(np.ones(10) * 0.4, n)
    labels = np.where(rng.random(n) < 0.6, probs.argmax(1), rng.integers(0, 10, n))
    acc = CalibrationAccumulator().update(labels, probs)
    fast = ece_bootstrap_interval(acc.cell_count, acc.cell_sum, acc.cell_sumsq, n_bootstrap=400, seed=0)
    eces = []
    for _ in range(400):
        idx = rng.integers(0, n, n)
        eces.append(naive_ece(labels[idx], probs[idx], 15))
    slow = np.quantile(eces, [0.025, 0.975])
    assert_allclose(fast, slow, atol=0.006)
    again = ece_bootstrap_interval(acc.cell_count, acc.cell_sum, acc.cell_sumsq, n_bootstrap=400, seed=0)
    assert fast == again  # seeded
    assert ece_bootstrap_interval(acc.cell_count, acc.cell_sum, acc.cell_sumsq, n_bootstrap=0) is None


def test_single_sample():
    r = CalibrationAccumulator().update([0], np.array([[0.7, 0.3]])).result(n_bootstrap=20)
    assert r["ece"] == pytest.approx(0.3) and r["mce"] == pytest.approx(0.3)
    assert r["adaptive_ece"] == pytest.approx(0.3)
    assert r["ece_ci"] == pytest.approx([0.3, 0.3])
