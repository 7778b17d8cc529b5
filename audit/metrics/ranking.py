"""One-vs-rest ranking metrics per class: ROC AUC and average precision with intervals, exact in memory
(one sort per class, ties as scikit-learn handles them) and from a mergeable fixed-bin score histogram
for streamed and Dask audits, with a stated worst-case error bound.

Every computation works on *score groups*: consecutive runs of scores in ascending order, each holding
some positives and some negatives. In memory a group is a set of tied scores, so the result is exact;
in a stream a group is a histogram bin (:func:`score_bins`), and the bound covers every way the
samples inside one bin could be ordered.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from statistics import NormalDist

import numpy as np

#: Mantissa bits kept per score bin: bins are 2^-7 (0.8%) wide relative to min(p, 1 − p).
SCORE_MANTISSA_BITS = 7
#: min(p, 1 − p) below 2^-SCORE_MIN_EXP shares the outermost bin of its half.
SCORE_MIN_EXP = 64
_HALF = SCORE_MIN_EXP << SCORE_MANTISSA_BITS
#: Number of score bins on [0, 1].
SCORE_BINS = 2 * _HALF
#: Points kept of each ROC and precision–recall curve in audit.json.
CURVE_POINTS = 65
Z95 = NormalDist().inv_cdf(0.975)
#: From this many samples on, :func:`ranking_exact` may run classes in threads.
THREAD_MIN_ROWS = 1 << 16

ROC_AUC_CI = ("DeLong et al. 1988 variance of the Mann–Whitney AUC (placement values, ties counted "
              "half), 95% normal interval clipped to [0, 1]")
AP_CI = ("logit interval of Boyd et al. 2013: logit(AP) ± 1.96 / sqrt(n_pos · AP · (1 − AP)), "
         "back-transformed; undefined when AP is 0 or 1")


def inner(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a·b of two 1-D arrays by einsum's own loop: ``np.dot`` goes through BLAS, whose threads
    cost more than the sum itself at these sizes (and spin on a shared machine)."""
    return float(np.einsum("i,i->", a, b))


def score_bins(values: np.ndarray) -> np.ndarray:
    """Fixed, monotone bins of scores in [0, 1] with fine resolution near both ends.

    A score p goes by q = min(p, 1 − p) (exact for p ≥ 0.5): the float64 bit pattern of q, shifted to keep
    its exponent and the top ``SCORE_MANTISSA_BITS`` mantissa bits, numbers the bins of the lower half;
    the upper half mirrors them. So a bin spans 2^-7 of q relative to q itself (0.5 ± 0.004 near 0.5,
    1 − 1e-6 ± 8e-9 near 1), ``SCORE_BINS`` bins in all, and p < p' never puts p in a higher bin.

    Parameters
    ----------
    values : ndarray of float, any shape, values in [0, 1]

    Returns
    -------
    ndarray of int64, same shape, in ``[0, SCORE_BINS)``
    """
    v = np.asarray(values, dtype=np.float64)
    q = np.minimum(v, 1.0 - v)
    np.maximum(q, 0.0, out=q)
    half = (q.view(np.int64) >> (52 - SCORE_MANTISSA_BITS)) - ((1023 - SCORE_MIN_EXP) << SCORE_MANTISSA_BITS)
    np.clip(half, 0, _HALF - 1, out=half)
    return np.where(v <= 0.5, half, SCORE_BINS - 1 - half)


def bin_floor(code: int) -> float:
    """The smallest float64 in [0, 1] that :func:`score_bins` puts in bin ``code`` or above (a binary
    search over the bit patterns of [0, 1], which order like the floats they encode)."""
    code = int(code)
    lo, hi = 0, int(np.array([1.0]).view(np.int64)[0])  # bin(hi) >= code for every code
    while lo < hi:
        mid = (lo + hi) // 2
        if score_bins(np.array([mid], dtype=np.int64).view(np.float64))[0] >= code:
            hi = mid
        else:
            lo = mid + 1
    return float(np.array([lo], dtype=np.int64).view(np.float64)[0])


# --- metrics from score groups ------------------------------------------------------------------------


def rank_stats(pos, neg, *, binned: bool = False) -> dict:
    """ROC AUC, average precision, their intervals and curves from score groups.

    Parameters
    ----------
    pos, neg : array-like of shape (n_groups,)
        Positives and negatives per group, groups in ascending order of score.
    binned : bool, default False
        Whether a group is a bin of different scores (then ``*_bound`` hold the worst-case error of
        AUC and AP against any order of the scores inside the bins) or a set of ties (bounds 0).

    Returns
    -------
    dict
        ``n_pos, n_neg, roc_auc, roc_auc_ci, roc_auc_bound, average_precision,
        average_precision_ci, average_precision_bound, roc_curve {fpr, tpr}, pr_curve {recall,
        precision}``; everything but the counts is None when a class has no positive or no negative.
    """
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    out = {"n_pos": int(n_pos), "n_neg": int(n_neg), "roc_auc": None, "roc_auc_ci": None,
           "roc_auc_bound": None, "average_precision": None, "average_precision_ci": None,
           "average_precision_bound": None, "roc_curve": None, "pr_curve": None}
    if n_pos == 0 or n_neg == 0:
        return out
    neg_below = np.cumsum(neg) - neg
    pos_above = n_pos - np.cumsum(pos)
    neg_above = n_neg - np.cumsum(neg)
    auc = float(inner(pos, neg_below + 0.5 * neg) / (n_pos * n_neg))
    tp = pos_above + pos  # positives scored at or above the group
    fp = neg_above + neg
    hit = pos > 0
    precision = tp[hit] / (tp[hit] + fp[hit])
    ap = float(inner(pos[hit], precision) / n_pos)
    # DeLong: placement values of the positives (v10) and negatives (v01)
    v10 = (neg_below + 0.5 * neg) / n_neg
    v01 = (pos_above + 0.5 * pos) / n_pos
    s10 = float(inner(pos, (v10 - auc) ** 2) / (n_pos - 1)) if n_pos > 1 else 0.0
    s01 = float(inner(neg, (v01 - auc) ** 2) / (n_neg - 1)) if n_neg > 1 else 0.0
    se = np.sqrt(s10 / n_pos + s01 / n_neg)
    out.update(roc_auc=auc, roc_auc_ci=[max(0.0, auc - Z95 * se), min(1.0, auc + Z95 * se)],
               average_precision=ap, average_precision_ci=_logit_interval(ap, n_pos))
    if binned:
        out["roc_auc_bound"] = float(0.5 * inner(pos, neg) / (n_pos * n_neg))
        # each positive of a bin has its precision between the bin's worst and best internal orders
        tp_above, fp_above = pos_above[hit], neg_above[hit]
        lo = (tp_above + 1) / (tp_above + 1 + fp_above + neg[hit])
        hi = (tp_above + pos[hit]) / (tp_above + pos[hit] + fp_above)
        out["average_precision_bound"] = float(
            inner(pos[hit], np.maximum(hi - precision, precision - lo)) / n_pos)
    else:
        out["roc_auc_bound"] = out["average_precision_bound"] = 0.0
    # curves from the highest score down, starting at (0, 0) and recall 0
    tpr = np.concatenate([[0.0], tp[::-1] / n_pos])
    fpr = np.concatenate([[0.0], fp[::-1] / n_neg])
    idx = _spread(tpr + fpr, 2.0)
    out["roc_curve"] = {"fpr": _round(fpr[idx]), "tpr": _round(tpr[idx])}
    rec = tp[hit][::-1] / n_pos
    prec = precision[::-1]
    idx = _spread(rec, 1.0)
    out["pr_curve"] = {"recall": _round(rec[idx]), "precision": _round(prec[idx])}
    return out


def _logit_interval(ap: float, n_pos: float) -> list[float] | None:
    if not 0.0 < ap < 1.0:
        return None
    centre = np.log(ap / (1.0 - ap))
    half = Z95 / np.sqrt(n_pos * ap * (1.0 - ap))
    return [float(1.0 / (1.0 + np.exp(-(centre - half)))), float(1.0 / (1.0 + np.exp(-(centre + half))))]


def _spread(progress: np.ndarray, total: float) -> np.ndarray:
    """At most CURVE_POINTS indices of a curve, evenly spread along ``progress`` (non-decreasing)."""
    idx = np.searchsorted(progress, np.linspace(0.0, total, CURVE_POINTS), side="left")
    idx = np.unique(np.clip(idx, 0, progress.size - 1))
    return np.unique(np.concatenate([[0], idx, [progress.size - 1]]))


def _round(values: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in values]


# --- exact, in memory ---------------------------------------------------------------------------------


def narrowed(values: np.ndarray) -> np.ndarray:
    """``values`` as float32 when that loses nothing (a float32 model's outputs): the same order and
    ties, and a float32 sort is about 40% faster than a float64 one."""
    values = np.asarray(values)
    if values.dtype == np.float32 or values.size < 1024:
        return values
    small = values.astype(np.float32)
    return small if np.array_equal(small, values) else values


def tie_groups(scores: np.ndarray, is_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score groups of one class in ascending order, exact: one group per distinct positive score
    (with the negatives tied to it) and one per run of negatives between two positive scores.

    Positives and negatives are sorted apart (value sorts, no permutation); each distinct positive
    score finds its tied negatives by two binary searches.

    Returns
    -------
    pos, neg : ndarray of float64, shape (2 · n_distinct_positive_scores + 1,)
    """
    scores = narrowed(scores)
    p = np.sort(scores[is_pos])
    n = np.sort(scores[~is_pos])
    if p.size == 0:
        return np.zeros(1), np.array([float(n.size)])
    first = np.flatnonzero(np.concatenate([[True], p[1:] != p[:-1]]))
    values = p[first]
    counts = np.diff(np.append(first, p.size))
    lt = np.searchsorted(n, values, side="left")
    le = np.searchsorted(n, values, side="right")
    m = values.size
    pos = np.zeros(2 * m + 1)
    neg = np.zeros(2 * m + 1)
    pos[1::2] = counts
    neg[1::2] = le - lt
    neg[0::2] = np.append(lt, n.size) - np.concatenate([[0], le])
    return pos, neg


def ranking_exact(labels, probs, *, threads: int = 1) -> list[dict]:
    """Per class k, :func:`rank_stats` of p_k against 1[y = k], exact (equal to scikit-learn's
    ``roc_auc_score`` and ``average_precision_score`` up to float rounding).

    Parameters
    ----------
    labels : ndarray of int, shape (n_samples,)
    probs : ndarray of float, shape (n_samples, n_classes)
    threads : int, default 1
        Classes computed in up to this many threads (from ``THREAD_MIN_ROWS`` samples on); the
        result does not depend on it.
    """
    labels = np.asarray(labels)
    probs = np.asarray(probs)

    def one(k: int) -> dict:
        column = np.ascontiguousarray(probs[:, k], dtype=np.float64)
        return rank_stats(*tie_groups(column, labels == k))

    workers = min(threads, probs.shape[1]) if probs.shape[0] >= THREAD_MIN_ROWS else 1
    if workers <= 1:
        return [one(k) for k in range(probs.shape[1])]
    # the sorts, masks and binary searches release the GIL: classes run in parallel, results in order
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(probs.shape[1])))


# --- mergeable ----------------------------------------------------------------------------------------


class RankingAccumulator:
    """Per class, a histogram of p_k over :data:`SCORE_BINS` fixed bins, split by y = k or not.

    Parameters
    ----------
    n_classes : int
    """

    def __init__(self, n_classes: int):
        self.n_classes = int(n_classes)
        self.counts = np.zeros((self.n_classes, 2, SCORE_BINS), dtype=np.int64)

    def update(self, labels, probs) -> "RankingAccumulator":
        """Add one chunk: ``labels`` (n,), ``probs`` (n, K)."""
        labels = np.asarray(labels, dtype=np.int64)
        probs = np.asarray(probs)
        if labels.size == 0:
            return self
        k = self.n_classes
        slots = score_bins(probs)  # (n, K)
        slots += (np.arange(k, dtype=np.int64) * (2 * SCORE_BINS))[None, :]
        rows = np.arange(labels.size)
        slots[rows, labels] += SCORE_BINS  # the positive half of the true class
        self.counts += np.bincount(slots.reshape(-1), minlength=k * 2 * SCORE_BINS).reshape(k, 2, SCORE_BINS)
        return self

    def merge(self, other: "RankingAccumulator") -> "RankingAccumulator":
        """Add another accumulator's counts (in place) and return self."""
        if other.n_classes != self.n_classes:
            raise ValueError(f"cannot merge ranking accumulators over {self.n_classes} and "
                             f"{other.n_classes} classes")
        self.counts += other.counts
        return self

    def result(self) -> list[dict]:
        """Per class :func:`rank_stats` over the bins (``binned=True``: bounds stated)."""
        return [rank_stats(self.counts[k, 1], self.counts[k, 0], binned=True) for k in range(self.n_classes)]


# --- sections of the result ---------------------------------------------------------------------------


def ranking_means(stats: list[dict]) -> dict:
    """Macro and prevalence-weighted means of ROC AUC and AP over the classes that define them
    (weights: positives per class, as scikit-learn's ``average='weighted'``)."""
    out = {}
    for key in ("roc_auc", "average_precision"):
        rows = [(s[key], s["n_pos"]) for s in stats if s[key] is not None]
        if not rows:
            out[f"{key}_macro"] = out[f"{key}_weighted"] = None
            continue
        values = np.array([v for v, _ in rows])
        weights = np.array([w for _, w in rows], dtype=np.float64)
        out[f"{key}_macro"] = float(values.mean())
        out[f"{key}_weighted"] = float(inner(values, weights) / weights.sum())
    return out


def ranking_conventions(exact: bool) -> dict[str, str]:
    """The ``conventions`` entries of the ranking metrics."""
    how = ("exact: one sort of each class's scores, tied scores form one group (scikit-learn's "
           "roc_auc_score / average_precision_score)" if exact else
           f"from a mergeable histogram of p_k in {SCORE_BINS} fixed bins (2^-{SCORE_MANTISSA_BITS} "
           "relative width in min(p, 1 − p)); each bin treated as a set of ties; *_bound is the "
           "worst-case error against the exact value over every order inside the bins (AUC: half the "
           "share of positive–negative pairs that share a bin)")
    return {
        "roc_auc": f"one-vs-rest ROC AUC of p_k against 1[y = k], per class; {how}; undefined "
                   "(null) for a class with no samples or with every sample",
        "roc_auc_ci": ROC_AUC_CI,
        "average_precision": ("one-vs-rest average precision Σ (R_n − R_{n−1}) P_n over distinct "
                              "thresholds (no interpolation), undefined like ROC AUC"),
        "average_precision_ci": AP_CI,
        "ranking_means": ("macro: mean over the classes that define the metric; weighted: weighted by "
                          "each class's number of samples"),
    }
