"""The sanity checks (audit.model.explain.sanity): Spearman against scipy and by hand, the deletion check on
models whose evidence is known, the verdicts' thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.explain_fixtures import CORNER, corner_callable, corner_images

from audit.model.explain import sanity as S


def test_rank_correlation_by_hand_and_against_scipy():
    # ranks (1, 2, 3, 4) and (1, 3, 2, 4): d² = 0 + 1 + 1 + 0 = 2; rho = 1 - 6 * 2 / (4 * 15) = 0.8
    assert S.rank_correlation(np.array([[0.1, 0.2], [0.3, 0.4]]), np.array([[0.0, 0.5], [0.2, 0.9]])) == pytest.approx(0.8)
    assert S.rank_correlation(np.zeros((2, 2)), np.arange(4.0)) is None  # a flat map has no ranks
    rng = np.random.default_rng(1)
    a, b = rng.random((16, 16)), rng.random((16, 16))
    from scipy.stats import spearmanr

    assert S.rank_correlation(a, b) == pytest.approx(spearmanr(a.ravel(), b.ravel()).statistic)
    assert S.mean_rank_correlation([a, a, np.zeros((2, 2))], [a, -a, np.ones((2, 2))]) == (pytest.approx(0.0), 2)


def test_deletion_masks_take_the_top_20_percent_and_a_seeded_random_20_percent():
    m = np.arange(100.0).reshape(1, 10, 10)
    top, rand, flat = S.deletion_masks(m, 10, 10, seed=0)
    assert top.sum() == rand.sum() == 20 and not flat[0]
    assert top[0].ravel()[80:].all() and not top[0].ravel()[:80].any()
    ties = S.deletion_masks(np.ones((1, 10, 10)), 10, 10, seed=0)[0]
    assert ties.sum() == 20 and not ties[0, :2].all()  # a flat region is not cut from the top rows
    _, rand2, _ = S.deletion_masks(m, 10, 10, seed=0)
    np.testing.assert_array_equal(rand, rand2)
    assert S.deletion_masks(np.zeros((1, 4, 4)), 4, 4, seed=0)[2][0]  # flat


def test_deleting_the_corner_beats_deleting_random_pixels_and_a_flat_map_never_wins():
    x, y = corner_images(10)
    corner_map = np.zeros((10, 32, 32))
    corner_map[:, :CORNER, :CORNER] = 1.0
    rate, wins = S.deletion_win_rate(corner_callable, x, y, corner_map, seed=0)
    assert rate == 1.0 and all(wins)
    wrong_map = np.ones((10, 32, 32))
    wrong_map[:, :CORNER, :CORNER] = 0.0  # everything but what the model reads
    assert S.deletion_win_rate(corner_callable, x, y, wrong_map, seed=0)[0] == 0.0
    assert S.deletion_win_rate(corner_callable, x, y, np.zeros((10, 32, 32)), seed=0)[0] == 0.0


def test_verdicts_speak_only_when_a_figure_says_not_to_trust_the_maps():
    assert S.verdicts(0.1, 0.9) == []
    assert S.verdicts(None, None) == []
    flagged = S.verdicts(0.5, 0.5)
    assert len(flagged) == 2 and all("Do not read them as the model's reasons" in v for v in flagged)
    assert "0.50" in flagged[0] and "50%" in flagged[1]
