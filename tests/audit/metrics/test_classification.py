import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import balanced_accuracy_score, f1_score, precision_recall_fscore_support

from audit.metrics.classification import (
    normalized_confusion,
    overall_metrics,
    per_class_arrays,
    per_class_metrics,
)
from audit.metrics.confusion import confusion_counts

# labels [0,0,1,2,2,2], predicted [0,1,1,2,0,2]
HAND = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_overall_hand_worked():
    o = overall_metrics(HAND, confidence_sum=np.array([1.0, 0.5, 1.5]))
    assert o["n"] == 6 and o["n_correct"] == 4
    assert o["accuracy"] == pytest.approx(4 / 6)
    # recall 1/2, 1/1, 2/3 -> (0.5 + 1 + 0.666667) / 3
    assert o["balanced_accuracy"] == pytest.approx(0.722222, abs=1e-6)
    # F1 = 2tp/(2tp+fp+fn): 2/(2+1+1)=0.5, 2/(2+1+0)=0.666667, 4/(4+0+1)=0.8 -> mean 0.655556
    assert o["macro_f1"] == pytest.approx(0.655556, abs=1e-6)
    assert o["mean_confidence"] == pytest.approx(3.0 / 6)
    assert o["accuracy_ci"][0] < 4 / 6 < o["accuracy_ci"][1]


def test_per_class_hand_worked():
    rows = per_class_metrics(HAND, ["a", "b", "c"], confidence_sum=np.array([1.0, 0.5, 1.5]))
    assert [r["support"] for r in rows] == [2, 1, 3]
    assert [r["n_predicted"] for r in rows] == [2, 2, 2]
    assert_allclose([r["precision"] for r in rows], [0.5, 0.5, 1.0])
    assert_allclose([r["recall"] for r in rows], [0.5, 1.0, 2 / 3])
    assert_allclose([r["error_rate"] for r in rows], [0.5, 0.0, 1 / 3])
    assert_allclose([r["mean_confidence"] for r in rows], [0.5, 0.5, 0.5])
    assert rows[1]["error_rate_ci"][0] == 0.0


def test_absent_class_is_undefined_and_left_out_of_macro_f1():
    counts = np.zeros((4, 4), dtype=int)
    counts[:3, :3] = HAND
    rows = per_class_metrics(counts, list("abcd"))
    assert rows[3]["support"] == 0
    for key in ("error_rate", "error_rate_ci", "precision", "recall", "f1", "mean_confidence"):
        assert rows[3][key] is None
    o = overall_metrics(counts)
    assert o["macro_f1"] == pytest.approx(0.655556, abs=1e-6)
    assert o["balanced_accuracy"] == pytest.approx(0.722222, abs=1e-6)
    assert normalized_confusion(counts)[3] is None


def test_class_predicted_but_absent_has_f1_zero_and_no_recall():
    counts = np.array([[1, 1], [0, 0]])  # class 1 absent, predicted once
    pc = per_class_arrays(counts)
    assert np.isnan(pc["recall"][1]) and pc["f1"][1] == 0.0


@pytest.mark.parametrize("k,absent", [(5, None), (6, 5), (4, 0)])
def test_matches_sklearn_random(k, absent):
    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 3000)
    p = rng.integers(0, k, 3000)
    if absent is not None:
        y[y == absent] = (absent + 1) % k
        p[p == absent] = (absent + 2) % k
    counts = confusion_counts(y, p, k)
    pc = per_class_arrays(counts)
    prec, rec, f1, sup = precision_recall_fscore_support(y, p, labels=range(k), zero_division=np.nan)
    assert_allclose(pc["precision"], prec, equal_nan=True)
    assert_allclose(pc["recall"], rec, equal_nan=True)
    assert_allclose(pc["f1"], f1, equal_nan=True)
    assert_allclose(pc["support"], sup)
    o = overall_metrics(counts)
    assert o["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p))
    assert o["macro_f1"] == pytest.approx(
        f1_score(y, p, average="macro", labels=range(k), zero_division=np.nan))


def test_single_sample():
    o = overall_metrics(confusion_counts([1], [1], 3))
    assert o["n"] == 1 and o["accuracy"] == 1.0 and o["balanced_accuracy"] == 1.0
    assert o["macro_f1"] == 1.0  # only class 1 defines F1
