import numpy as np
import pytest
from numpy.testing import assert_allclose

from audit.metrics.temperature import apply_temperature, cross_fit_temperature, fit_temperature


def test_apply_temperature_hand_worked():
    # softmax(ln p / 2) ∝ sqrt(p): [.707107, .5, .5] / 1.707107
    assert_allclose(apply_temperature(np.array([[0.5, 0.25, 0.25]]), 2.0),
                    [[0.414214, 0.292893, 0.292893]], atol=1e-6)
    p = np.array([[0.7, 0.3, 0.0]])
    assert_allclose(apply_temperature(p, 1.0), p)
    assert apply_temperature(p, 0.5)[0, 2] == 0.0


def test_fit_temperature_hand_worked():
    # every row [0.9, 0.1]; 3 of 4 labels are 0. Best scaled p = 0.75 = 1 / (1 + (1/9)^(1/T)) -> T = 2
    probs = np.tile([0.9, 0.1], (400, 1))
    labels = np.array([0, 0, 0, 1] * 100)
    assert fit_temperature(labels, probs) == pytest.approx(2.0, rel=1e-3)


def test_fit_temperature_recovers_a_known_scaling():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (5000, 5))
    calibrated = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = (rng.random(5000)[:, None] > calibrated.cumsum(1)).sum(1)
    overconfident = apply_temperature(calibrated, 0.5)  # T = 0.5 sharpens; T ≈ 2 undoes it
    assert fit_temperature(labels, overconfident) == pytest.approx(2.0, rel=0.08)


def test_cross_fit_is_seeded_and_uses_the_other_fold():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(4) * 0.3, 1000)
    labels = rng.integers(0, 4, 1000)
    s1, t1 = cross_fit_temperature(labels, probs, seed=3)
    s2, t2 = cross_fit_temperature(labels, probs, seed=3)
    assert_allclose(s1, s2) and t1 == t2
    perm = np.random.default_rng(3).permutation(1000)
    fold_a = np.sort(perm[:500])
    assert_allclose(s1[fold_a], apply_temperature(probs[fold_a], t1[1]))


def test_bad_temperature():
    with pytest.raises(ValueError, match="temperature must be"):
        apply_temperature(np.array([[1.0, 0.0]]), 0.0)


def test_cross_fit_in_two_threads_is_identical_to_one():
    from audit.metrics.temperature import THREAD_MIN_ROWS, cross_fit_temperature

    rng = np.random.default_rng(5)
    n = THREAD_MIN_ROWS + 11
    probs = rng.dirichlet(np.full(4, 0.5), n)
    labels = rng.integers(0, 4, n)
    one, t_one = cross_fit_temperature(labels, probs, seed=2, threads=1)
    two, t_two = cross_fit_temperature(labels, probs, seed=2, threads=2)
    assert t_one == t_two and np.array_equal(one, two)
