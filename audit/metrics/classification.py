"""Overall and per-class classification metrics computed from confusion counts.

Conventions (scikit-learn's): balanced accuracy is the mean recall over classes present in the
labels; a precision, recall or F1 whose denominator is zero is undefined (None), and macro F1 is the
mean of the defined per-class F1 values, as ``f1_score(average='macro', labels=range(K),
zero_division=np.nan)``.
"""

from __future__ import annotations

import numpy as np

from audit.metrics.confusion import TOP_CONFUSIONS
from audit.metrics.intervals import wilson_interval


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _opt(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def per_class_arrays(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class support, predictions, precision, recall, F1 and error rate (NaN where undefined).

    Parameters
    ----------
    counts : ndarray of shape (K, K)
        Confusion counts, rows = true class.

    Returns
    -------
    dict of ndarray of shape (K,)
        ``support``, ``n_predicted``, ``tp``, ``precision`` (tp / n_predicted), ``recall``
        (tp / support), ``f1`` (2tp / (2tp + fp + fn), NaN when tp + fp + fn = 0) and
        ``error_rate`` (1 − recall).
    """
    counts = np.asarray(counts, dtype=np.int64)
    tp = np.diag(counts)
    support = counts.sum(axis=1)
    n_predicted = counts.sum(axis=0)
    fp = n_predicted - tp
    fn = support - tp
    recall = _ratio(tp, support)
    return {
        "support": support,
        "n_predicted": n_predicted,
        "tp": tp,
        "precision": _ratio(tp, n_predicted),
        "recall": recall,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "error_rate": 1.0 - recall,
    }


def overall_metrics(counts: np.ndarray, confidence_sum: np.ndarray | None = None) -> dict:
    """Overall metrics: n, n_correct, accuracy (+95% Wilson CI), balanced accuracy, macro F1.

    Parameters
    ----------
    counts : ndarray of shape (K, K)
        Confusion counts, rows = true class.
    confidence_sum : ndarray of shape (K,), optional
        Summed top-label confidence per true class; gives ``mean_confidence``.

    Returns
    -------
    dict of JSON-ready values (None where undefined).
    """
    pc = per_class_arrays(counts)
    n = int(pc["support"].sum())
    n_correct = int(pc["tp"].sum())
    lo, hi = wilson_interval(n_correct, n)
    present = pc["support"] > 0
    f1 = pc["f1"]
    return {
        "n": n,
        "n_correct": n_correct,
        "accuracy": _opt(n_correct / n) if n else None,
        "accuracy_ci": None if n == 0 else [lo, hi],
        "balanced_accuracy": _opt(pc["recall"][present].mean()) if present.any() else None,
        "macro_f1": _opt(np.nanmean(f1)) if not np.all(np.isnan(f1)) else None,
        "mean_confidence": (
            None if confidence_sum is None or n == 0 else float(np.sum(confidence_sum) / n)
        ),
    }


def per_class_metrics(
    counts: np.ndarray, class_names, confidence_sum: np.ndarray | None = None
) -> list[dict]:
    """One JSON-ready row per class (see docs/audit-json.md ``per_class``).

    ``error_rate_ci`` is the 95% Wilson interval of errors / support; ``mean_confidence`` is the
    mean top-label confidence over samples whose TRUE class is k. Undefined values are None.
    """
    pc = per_class_arrays(counts)
    support = pc["support"]
    errors = support - pc["tp"]
    safe = np.maximum(support, 1)
    lo, hi = wilson_interval(np.minimum(errors, safe), safe)
    mean_conf = (
        _ratio(confidence_sum, support) if confidence_sum is not None else np.full(len(support), np.nan)
    )
    rows = []
    for k, name in enumerate(class_names):
        defined = support[k] > 0
        rows.append({
            "class": str(name),
            "index": k,
            "support": int(support[k]),
            "n_predicted": int(pc["n_predicted"][k]),
            "error_rate": _opt(pc["error_rate"][k]),
            "error_rate_ci": [float(lo[k]), float(hi[k])] if defined else None,
            "precision": _opt(pc["precision"][k]),
            "recall": _opt(pc["recall"][k]),
            "f1": _opt(pc["f1"][k]),
            "mean_confidence": _opt(mean_conf[k]),
        })
    return rows


def normalized_confusion(counts: np.ndarray) -> list[list[float] | None]:
    """Each row of the confusion matrix divided by its support; rows of absent classes are None."""
    counts = np.asarray(counts, dtype=np.float64)
    support = counts.sum(axis=1)
    return [None if s == 0 else (row / s).tolist() for row, s in zip(counts, support)]


#: Up to this many classes audit.json also holds the dense K×K matrices (10,000 cells); above, only
#: ``confusion_cells``: a 1,000-class matrix is a million mostly-zero cells (several MB of JSON).
DENSE_CONFUSION_MAX = 100


def confusion_cells(counts: np.ndarray) -> list[list[int]]:
    """The non-zero cells of a confusion matrix as ``[true, predicted, count]``, row-major order."""
    counts = np.asarray(counts)
    rows, cols = np.nonzero(counts)
    return [[int(t), int(p), int(c)] for t, p, c in zip(rows, cols, counts[rows, cols])]


def dense_confusion(cells, n_classes: int) -> np.ndarray:
    """The K×K count matrix back from :func:`confusion_cells` rows."""
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    for t, p, c in cells:
        out[t, p] += c
    return out


def confusion_rows(counts: np.ndarray, class_names, k: int = TOP_CONFUSIONS) -> list[dict]:
    """The ``k`` largest off-diagonal cells as JSON rows {true, predicted, count, rate}."""
    from audit.metrics.confusion import top_confusions

    support = np.asarray(counts).sum(axis=1)
    return [
        {"true": str(class_names[t]), "predicted": str(class_names[p]), "count": c,
         "rate": float(c / support[t])}
        for t, p, c in top_confusions(counts, k)
    ]
