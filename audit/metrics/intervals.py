"""Confidence intervals for proportions: the 95% Wilson score interval, vectorised."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

#: Two-sided coverage of every interval the audit reports (Wilson intervals and the ECE bootstrap).
CONFIDENCE = 0.95

MSG_CONFIDENCE = "confidence must lie strictly between 0 and 1; got {!r}"
MSG_COUNTS = "successes must lie in [0, n]; got successes={!r}, n={!r}"


def wilson_interval(successes, n, confidence: float = CONFIDENCE):
    """Wilson score interval for a binomial proportion ``successes / n``.

    Parameters
    ----------
    successes : int or array-like of int
        Number of successes.
    n : int or array-like of int, broadcastable with ``successes``
        Number of trials; where ``n == 0`` the interval is ``(nan, nan)``.
    confidence : float, default 0.95
        Two-sided coverage.

    Returns
    -------
    (lo, hi) : tuple of float, or of ndarray with the broadcast shape
        ``lo = (p + z²/2n − z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n)``, ``hi`` with ``+``,
        where ``p = successes / n`` and ``z`` the ``(1 + confidence) / 2`` normal quantile.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(MSG_CONFIDENCE.format(confidence))
    s = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    if np.any(s < 0) or np.any(s > m):
        raise ValueError(MSG_COUNTS.format(successes, n))
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / m
        z2n = z * z / m
        centre = (p + z2n / 2.0) / (1.0 + z2n)
        half = z / (1.0 + z2n) * np.sqrt(p * (1.0 - p) / m + z2n / (4.0 * m))
        lo = np.where(m > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        hi = np.where(m > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi
