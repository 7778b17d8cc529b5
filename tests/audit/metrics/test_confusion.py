import numpy as np
from numpy.testing import assert_array_equal
from sklearn.metrics import confusion_matrix

from audit.metrics.confusion import ConfusionAccumulator, confusion_counts, top_confusions, top_label


def test_confusion_hand_worked():
    labels = [0, 0, 1, 2, 2, 2]
    predicted = [0, 1, 1, 2, 0, 2]
    # (0,0) (0,1) | (1,1) | (2,2) (2,0) (2,2)
    assert_array_equal(confusion_counts(labels, predicted, 3), [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_confusion_matches_sklearn_random():
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 7, 5000), rng.integers(0, 7, 5000)
    assert_array_equal(confusion_counts(y, p, 7), confusion_matrix(y, p, labels=range(7)))


def test_argmax_ties_go_to_lowest_index():
    probs = np.array([[0.5, 0.5, 0.0], [0.2, 0.4, 0.4], [1 / 3, 1 / 3, 1 / 3]])
    predicted, confidence = top_label(probs)
    assert_array_equal(predicted, [0, 1, 0])
    np.testing.assert_allclose(confidence, [0.5, 0.4, 1 / 3])


def test_top_confusions_order_count_then_row_then_column():
    counts = np.array([[5, 2, 2], [2, 5, 0], [0, 3, 5]])
    assert top_confusions(counts) == [(2, 1, 3), (0, 1, 2), (0, 2, 2), (1, 0, 2)]
    assert top_confusions(counts, k=2) == [(2, 1, 3), (0, 1, 2)]
    assert top_confusions(np.eye(3, dtype=int) * 4) == []


def test_accumulator_chunks_merged_equal_whole():
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(5), 1000)
    y = rng.integers(0, 5, 1000)
    whole = ConfusionAccumulator(5).update(y, probs)
    a = ConfusionAccumulator(5).update(y[:300], probs[:300])
    b = ConfusionAccumulator(5).update(y[300:700], probs[300:700]).update(y[700:], probs[700:])
    a.merge(b)
    assert_array_equal(a.counts, whole.counts)
    np.testing.assert_allclose(a.confidence_sum, whole.confidence_sum)
    assert a.n == 1000


def test_accumulator_takes_predicted_classes():
    acc = ConfusionAccumulator(3).update([0, 1], np.array([0, 2]))
    assert_array_equal(acc.counts, [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    assert not acc.has_confidence
