import numpy as np
import pytest
from numpy.testing import assert_allclose

from audit.metrics.intervals import MSG_CONFIDENCE, wilson_interval


def test_wilson_hand_worked():
    # 5/10, z = 1.959964: z²/n = 0.384146; centre = (0.5 + 0.192073) / 1.384146 = 0.5
    # half = 1.959964 / 1.384146 · sqrt(0.025 + 0.384146/40) = 1.416010 · 0.186021 = 0.263407
    assert_allclose(wilson_interval(5, 10), (0.236593, 0.763407), atol=1e-6)
    # 0/10: centre = 0.192073 / 1.384146 = 0.138767 = half -> (0, 0.277533)
    assert_allclose(wilson_interval(0, 10), (0.0, 0.277533), atol=1e-6)
    # 10/10 mirrors 0/10
    assert_allclose(wilson_interval(10, 10), (0.722467, 1.0), atol=1e-6)


def test_wilson_vectorised_and_empty():
    lo, hi = wilson_interval(np.array([0, 5, 1]), np.array([0, 10, 1]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    assert_allclose(lo[1:], [0.236593, 0.206549], atol=1e-6)  # 1/1: centre 2.920730/4.841459 = 0.603275, half 0.404829 · 0.979985 = 0.396726
    assert_allclose(hi[1:], [0.763407, 1.0], atol=1e-6)
    assert all(np.isnan(wilson_interval(0, 0)))


def test_wilson_contains_estimate_and_narrows():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 500, 200)
    s = rng.integers(0, n + 1)
    lo, hi = wilson_interval(s, n)
    assert np.all(lo <= s / n + 1e-12) and np.all(s / n <= hi + 1e-12)
    w99 = np.subtract(*wilson_interval(s, n, 0.99)[::-1])
    assert np.all(w99 >= hi - lo - 1e-12)


def test_wilson_rejects_bad_confidence():
    with pytest.raises(ValueError, match=MSG_CONFIDENCE.format(1.5).replace("(", r"\(")[:40]):
        wilson_interval(1, 2, confidence=1.5)
