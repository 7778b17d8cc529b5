import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.metrics.calibration import CalibrationAccumulator
from audit.metrics.confusion import ConfusionAccumulator


@st.composite
def predictions(draw):
    k = draw(st.integers(2, 5))
    n = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k) * draw(st.sampled_from([0.1, 1.0, 10.0])), n)
    if draw(st.booleans()):
        probs[: n // 2] = np.eye(k)[rng.integers(0, k, n // 2)]  # confidences of exactly 1
    return rng.integers(0, k, n), probs, rng


SETTINGS = settings(max_examples=50, deadline=None)


@SETTINGS
@given(predictions())
def test_ece_and_friends_lie_in_range(data):
    labels, probs, _ = data
    r = CalibrationAccumulator().update(labels, probs).result()
    for key in ("ece", "mce", "classwise_ece", "adaptive_ece"):
        if r[key] is not None:
            assert -1e-12 <= r[key] <= 1 + 1e-12, key
    assert 0 <= r["brier"] <= 2 + 1e-12 and r["nll"] >= 0


@SETTINGS
@given(predictions())
def test_confusion_counts_sum_to_n(data):
    labels, probs, _ = data
    acc = ConfusionAccumulator(probs.shape[1]).update(labels, probs)
    assert acc.counts.sum() == len(labels)
    assert (acc.counts.sum(axis=1) == np.bincount(labels, minlength=probs.shape[1])).all()


@SETTINGS
@given(predictions())
def test_invariant_under_permutation(data):
    labels, probs, rng = data
    perm = rng.permutation(len(labels))
    a = CalibrationAccumulator().update(labels, probs).result()
    b = CalibrationAccumulator().update(labels[perm], probs[perm]).result()
    for key in ("ece", "mce", "classwise_ece", "adaptive_ece", "brier", "nll"):
        assert a[key] is None and b[key] is None or abs(a[key] - b[key]) < 1e-9, key
    ca = ConfusionAccumulator(probs.shape[1]).update(labels, probs)
    cb = ConfusionAccumulator(probs.shape[1]).update(labels[perm], probs[perm])
    assert (ca.counts == cb.counts).all()
