"""Selective classification: the risk–coverage curve of top-label confidence, AURC and excess AURC
(Geifman & El-Yaniv 2017; Geifman et al. 2019), and the operating point that reaches a target accuracy
— its confidence threshold, coverage and review load overall, per class and per group (Jones et al.
2021: abstention can widen the accuracy gap between groups).

As in :mod:`audit.metrics.ranking`, the curve is computed from *confidence groups* in ascending order
of confidence, each with its samples and its errors: tied confidences in memory (exact), fixed
histogram bins in a stream (mergeable; bounds stated).
"""

from __future__ import annotations

import numpy as np

from audit.metrics.disparity import factorize
from audit.metrics.intervals import wilson_interval
from audit.metrics.ranking import SCORE_BINS, inner, bin_floor, narrowed, score_bins

#: Default target accuracy of the operating point (the policy's ``selective.target_accuracy``).
DEFAULT_TARGET_ACCURACY = 0.90
#: Points kept of the risk–coverage curve in audit.json.
CURVE_POINTS = 101
#: Accuracy within this distance of the target counts as reaching it (float rounding).
TOLERANCE = 1e-12
MSG_TARGET = "target_accuracy must be a number in (0, 1]; got {!r}"


def _harmonic_diff(b: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Σ_{j=1..n} 1 / (b + j) for arrays b >= 0, n >= 1 (exact sum where n = 1, digamma elsewhere)."""
    b = np.asarray(b, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    out = 1.0 / (b + 1.0)
    many = n > 1
    if np.any(many):
        from scipy.special import digamma  # here, not at import: scipy.special costs 0.15 s to import

        out[many] = digamma(b[many] + n[many] + 1.0) - digamma(b[many] + 1.0)
    return out


def aurc_from_groups(n, e) -> tuple[float, float]:
    """AURC and the optimal AURC of the same errors, from confidence groups in DESCENDING order.

    AURC = (1/N) Σ_{i=1..N} E(i) / i, where E(i) is the number of errors among the i most confident
    samples. Inside a group of tied confidences E(i) grows linearly (the expectation over every order
    of the tied samples), so the value does not depend on the order of the input. The optimal AURC puts
    every error last: (1/N) [m − (N − m)(H_N − H_{N−m})] with m errors.
    """
    n = np.asarray(n, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    if not np.all(n > 0):
        keep = n > 0
        n, e = n[keep], e[keep]
    b = np.cumsum(n)
    total, m = float(b[-1]), float(e.sum())
    b -= n
    a = np.cumsum(e)
    a -= e
    r = e / n
    # Σ_{j=1..n} (a + j r) / (b + j) = n r + (a − r b) Σ 1 / (b + j), and Σ n r = m
    r *= b
    a -= r
    aurc = float((m + inner(a, _harmonic_diff(b, n))) / total)
    if m == 0:
        optimal = 0.0
    elif m == total:
        optimal = 1.0
    else:
        optimal = float((m - (total - m) * float(_harmonic_diff(np.array([total - m]), np.array([m]))[0])) / total)
    return aurc, optimal


def aurc_bound(n, e) -> float:
    """Worst-case error of :func:`aurc_from_groups` when each group is a bin of different confidences:
    inside a bin, E(i) can differ from its linear interpolation by at most min(e_b, n_b − e_b)."""
    n = np.asarray(n, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    keep = n > 0
    n, e = n[keep], e[keep]
    b = np.cumsum(n) - n
    return float(np.sum(np.minimum(e, n - e) * _harmonic_diff(b, n)) / n.sum())


def operating_point(n, e, target: float) -> dict:
    """The largest coverage whose retained samples reach ``target`` accuracy.

    Parameters
    ----------
    n, e : array-like of shape (n_groups,)
        Samples and errors per confidence group, in DESCENDING order of confidence. Only whole groups
        can be retained (ties in confidence are retained together).
    target : float in (0, 1]

    Returns
    -------
    dict
        ``index`` (last retained group, or None when no prefix reaches the target), ``retained``,
        ``errors`` (among the retained).
    """
    if not isinstance(target, (int, float)) or isinstance(target, bool) or not 0.0 < target <= 1.0:
        raise ValueError(MSG_TARGET.format(target))
    cn = np.cumsum(np.asarray(n, dtype=np.float64))
    ce = np.cumsum(np.asarray(e, dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (cn > 0) & ((cn - ce) >= (target - TOLERANCE) * cn)
    if not np.any(ok):
        return {"index": None, "retained": 0, "errors": 0}
    i = int(np.flatnonzero(ok)[-1])
    return {"index": i, "retained": int(cn[i]), "errors": int(ce[i])}


def coverage_upper(n, e, target: float) -> int:
    """An upper bound on the retained count of the exact operating point when groups are bins: the
    most samples any prefix can hold if, inside the bin where it ends, every correct sample came
    first (groups in DESCENDING order)."""
    n = np.asarray(n, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    before_n = np.cumsum(n) - n
    before_e = np.cumsum(e) - e
    correct = n - e
    best = 0.0
    # prefix = all groups before g plus j samples of g, the first min(j, correct_g) of them correct
    head = before_n + correct
    with np.errstate(invalid="ignore", divide="ignore"):
        reach = (head > 0) & (head - before_e >= (target - TOLERANCE) * head)
        extra = np.floor((head - before_e) / target - before_n + TOLERANCE)
    j = np.minimum(n, np.maximum(extra, correct))
    if np.any(reach):
        best = float(np.max((before_n + j)[reach]))
    return int(best)


def curve_points(n, e) -> dict:
    """The risk–coverage curve at up to CURVE_POINTS group boundaries (descending groups):
    coverage and accuracy of the retained samples."""
    cn = np.cumsum(np.asarray(n, dtype=np.float64))
    ce = np.cumsum(np.asarray(e, dtype=np.float64))
    total = cn[-1]
    idx = np.searchsorted(cn, np.linspace(0, total, CURVE_POINTS), side="left")
    idx = np.unique(np.clip(idx, 0, cn.size - 1))
    idx = idx[cn[idx] > 0]
    return {"coverage": [round(float(v), 5) for v in cn[idx] / total],
            "accuracy": [round(float(v), 5) for v in 1.0 - ce[idx] / cn[idx]]}


# --- the section ---------------------------------------------------------------------------------------


def _ci(successes, n):
    if n == 0:
        return None
    lo, hi = wilson_interval(successes, n)
    return [lo, hi]


def _opt(num, den):
    return None if den == 0 else float(num / den)


def count_row(label: str, key: str, counts) -> dict:
    """One class's or group's row from its counts (n, correct, retained, correct among retained)."""
    n, correct, kept, kept_correct = (int(c) for c in counts)
    return {key: label, "n": n,
            "accuracy": _opt(correct, n), "accuracy_ci": _ci(correct, n),
            "coverage": _opt(kept, n), "coverage_ci": _ci(kept, n),
            "review_load": _opt(n - kept, n), "review_load_ci": _ci(n - kept, n),
            "selective_accuracy": _opt(kept_correct, kept), "selective_accuracy_ci": _ci(kept_correct, kept)}


def _gap(rows, key):
    values = [(r[key], r["group"]) for r in rows if r[key] is not None]
    if len(values) < 2:
        return None, None
    return float(max(values)[0] - min(values)[0]), min(values)[1]


def grouping_entry(name: str, counts: dict, *, kind: str, proxy: bool, order=None) -> dict:
    """The ``selective.by_group[]`` entry of one grouping: per group its accuracy at full coverage,
    coverage, review load and accuracy of the retained samples at the target's threshold, and the
    gaps between groups (max − min over groups that define the value)."""
    listed = [g for g in (order or ()) if g in counts]
    rows = [count_row(g, "group", counts[g]) for g in listed + sorted(set(counts) - set(listed))]
    full, worst_full = _gap(rows, "accuracy")
    at_target, worst_target = _gap(rows, "selective_accuracy")
    load = [(r["review_load"], r["group"]) for r in rows if r["review_load"] is not None]
    load_gap = float(max(load)[0] - min(load)[0]) if len(load) >= 2 else None
    return {"name": name, "kind": kind, "proxy": bool(proxy), "groups": rows,
            "accuracy_gap_full": full, "worst_group_full": worst_full,
            "accuracy_gap_at_target": at_target, "worst_group_at_target": worst_target,
            "review_load_gap": load_gap,
            "most_reviewed_group": max(load)[1] if load else None}


def selective_summary(n_desc, e_desc, threshold_of, target: float, *, binned: bool) -> dict:
    """The overall part of the ``selective`` section from descending confidence groups.

    ``threshold_of(i)`` gives the confidence threshold that retains groups 0..i.
    """
    total = int(np.sum(n_desc))
    errors = int(np.sum(e_desc))
    aurc, optimal = aurc_from_groups(n_desc, e_desc)
    point = operating_point(n_desc, e_desc, target)
    kept, kept_err = point["retained"], point["errors"]
    out = {
        "n": total, "target_accuracy": float(target),
        "aurc": aurc, "aurc_optimal": optimal, "eaurc": aurc - optimal,
        "aurc_bound": aurc_bound(n_desc, e_desc) if binned else 0.0,
        "accuracy_full": _opt(total - errors, total),
        "threshold": None if point["index"] is None else float(threshold_of(point["index"])),
        "coverage": _opt(kept, total), "coverage_ci": _ci(kept, total),
        "review_load": _opt(total - kept, total), "review_load_ci": _ci(total - kept, total),
        "selective_accuracy": _opt(kept - kept_err, kept), "selective_accuracy_ci": _ci(kept - kept_err, kept),
        "coverage_upper": _opt(coverage_upper(n_desc, e_desc, target), total) if binned else _opt(kept, total),
        "curve": curve_points(n_desc, e_desc),
    }
    return out


def _counts_by(codes: np.ndarray, n_codes: int, correct: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """(n_codes, 4) counts: n, correct, retained, correct among retained."""
    flat = codes * 4
    out = np.bincount(flat, minlength=4 * n_codes)
    out = out + np.bincount(flat + 1, weights=correct, minlength=4 * n_codes).astype(np.int64)
    out = out + np.bincount(flat + 2, weights=kept, minlength=4 * n_codes).astype(np.int64)
    out = out + np.bincount(flat + 3, weights=kept & correct, minlength=4 * n_codes).astype(np.int64)
    return out.reshape(n_codes, 4)


def selective_exact(labels, predicted, confidence, class_names, groupings=(), *,
                    target: float = DEFAULT_TARGET_ACCURACY) -> dict:
    """The ``selective`` section, exact (in memory): confidence groups are tied confidences.

    Parameters
    ----------
    labels, predicted : ndarray of int, shape (n_samples,)
    confidence : ndarray of float, shape (n_samples,)
        Top-label confidence.
    class_names : sequence of str
    groupings : sequence of dict
        ``{name, values (n_samples,), kind, proxy, order}`` per grouping.
    target : float, default 0.90
    """
    labels = np.asarray(labels, dtype=np.int64)
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(predicted) == labels
    # tie groups in descending confidence: all confidences and the errors' sorted apart
    confidence = narrowed(confidence)
    s_all = np.sort(confidence)
    first = np.flatnonzero(np.concatenate([[True], s_all[1:] != s_all[:-1]]))
    values = s_all[first][::-1]
    n_desc = np.diff(np.append(first, s_all.size))[::-1].astype(np.float64)
    # errors per distinct value: the errors' own distinct values, placed among all distinct values
    s_err = np.sort(confidence[~correct])
    e_desc = np.zeros(values.size)
    if s_err.size:
        e_first = np.flatnonzero(np.concatenate([[True], s_err[1:] != s_err[:-1]]))
        at = values.size - 1 - np.searchsorted(values[::-1], s_err[e_first])
        e_desc[at] = np.diff(np.append(e_first, s_err.size))
    out = selective_summary(n_desc, e_desc, lambda i: values[i], target, binned=False)
    threshold = out["threshold"]
    kept = confidence >= threshold if threshold is not None else np.zeros(labels.size, bool)
    k = len(class_names)
    per_class = _counts_by(labels, k, correct, kept)
    out["by_class"] = [count_row(str(name), "class", per_class[i]) for i, name in enumerate(class_names)]
    out["by_group"] = []
    for g in groupings:
        codes, uniques = factorize(np.asarray(g["values"]))
        counts = _counts_by(codes, len(uniques), correct, kept)
        out["by_group"].append(grouping_entry(
            g["name"], {str(u): counts[i] for i, u in enumerate(uniques)},
            kind=g.get("kind", "group column"), proxy=g.get("proxy", False), order=g.get("order")))
    return out


class SelectiveAccumulator:
    """Histograms of top-label confidence over :data:`~audit.metrics.ranking.SCORE_BINS` fixed bins,
    by true class and correctness, and by value of each group column: mergeable.

    Parameters
    ----------
    n_classes : int
    group_names : sequence of str
    """

    def __init__(self, n_classes: int, group_names=()):
        self.n_classes = int(n_classes)
        self.by_class = np.zeros((self.n_classes, SCORE_BINS, 2), dtype=np.int64)
        self.groups: dict[str, dict[str, np.ndarray]] = {str(g): {} for g in group_names}

    def update(self, labels, predicted, confidence, groups=None) -> "SelectiveAccumulator":
        """Add one chunk: labels, predicted classes and top-label confidences (n,), and its group
        columns (name -> values of shape (n,))."""
        labels = np.asarray(labels, dtype=np.int64)
        if labels.size == 0:
            return self
        slots = score_bins(confidence) * 2 + (np.asarray(predicted) == labels)
        self.by_class += np.bincount(labels * (2 * SCORE_BINS) + slots,
                                     minlength=self.n_classes * 2 * SCORE_BINS).reshape(self.n_classes, SCORE_BINS, 2)
        for name, table in self.groups.items():
            codes, uniques = factorize(np.asarray((groups or {})[name]))
            flat = np.bincount(codes * (2 * SCORE_BINS) + slots, minlength=len(uniques) * 2 * SCORE_BINS)
            for value, block in zip(uniques, flat.reshape(len(uniques), SCORE_BINS, 2)):
                key = str(value)
                table[key] = block if key not in table else table[key] + block
        return self

    def merge(self, other: "SelectiveAccumulator") -> "SelectiveAccumulator":
        """Add another accumulator's histograms (in place) and return self."""
        self.by_class += other.by_class
        for name, table in other.groups.items():
            mine = self.groups.setdefault(name, {})
            for key, block in table.items():
                mine[key] = block.copy() if key not in mine else mine[key] + block
        return self

    @property
    def n(self) -> int:
        return int(self.by_class.sum())

    def result(self, class_names, *, target: float = DEFAULT_TARGET_ACCURACY) -> dict:
        """The ``selective`` section from the histograms (thresholds restricted to bin edges)."""
        hist = self.by_class.sum(axis=0)[::-1]  # descending confidence
        n_desc = hist.sum(axis=1).astype(np.float64)
        e_desc = hist[:, 0].astype(np.float64)
        out = selective_summary(n_desc, e_desc, lambda i: bin_floor(SCORE_BINS - 1 - i), target, binned=True)
        cut = None if out["threshold"] is None else int(score_bins(np.array([out["threshold"]]))[0])

        def counts(block):  # block (SCORE_BINS, 2) ascending -> n, correct, kept, kept correct
            kept = block[cut:] if cut is not None else block[:0]
            return (block.sum(), block[:, 1].sum(), kept.sum(), kept[:, 1].sum())

        out["by_class"] = [count_row(str(name), "class", counts(self.by_class[i]))
                           for i, name in enumerate(class_names)]
        out["by_group"] = [grouping_entry(name, {key: counts(block) for key, block in table.items()},
                                          kind="group column", proxy=False)
                           for name, table in self.groups.items() if table]
        return out


def selective_conventions(exact: bool) -> dict[str, str]:
    """The ``conventions`` entries of the selective metrics."""
    how = ("exact: tied confidences are retained or referred together" if exact else
           f"from a mergeable histogram of top-label confidence in {SCORE_BINS} fixed bins: thresholds "
           "are bin edges (coverage and accuracy exact for the threshold given, which may retain fewer "
           "samples than the in-memory optimum; coverage_upper bounds that optimum); aurc_bound is the "
           "worst-case AURC error over every order inside the bins")
    return {
        "selective": ("samples ranked by top-label confidence; a threshold t retains those with "
                      "confidence ≥ t and refers the rest to a person (review load = 1 − coverage); "
                      "the operating point is the largest coverage whose retained samples reach "
                      f"target_accuracy; {how}; per class by TRUE class, per group by the group's "
                      "samples at the one overall threshold; intervals: 95% Wilson, conditional on the "
                      "threshold"),
        "aurc": ("area under the risk–coverage curve, (1/N) Σ_i E(i)/i over the i most confident "
                 "samples; inside tied confidences E(i) is linear (expectation over the ties' orders); "
                 "eaurc = aurc − aurc_optimal, the optimum ranking every error last (Geifman et al. "
                 "2019)"),
    }
