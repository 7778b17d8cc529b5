"""Disparity across groups: per-group count cells over (true, predicted), mergeable, and fairlearn's
MetricFrame evaluated on those cells (one weighted row per non-empty cell, not one row per sample).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from audit.metrics.intervals import wilson_interval

MSG_SHAPE = "group values ({}) and labels ({}) disagree on the number of samples"
MSG_MERGE = "cannot merge group accumulators over different class counts: {} and {}"


def _opt(x) -> float | None:
    x = float(x)
    return None if not np.isfinite(x) else x


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and sorted unique values of a 1-D array.

    Group columns usually hold a few values: those seen in the first rows are matched by equality
    (one pass each), and only when other values remain does it fall back to a full ``np.unique``.
    """
    head = np.unique(values[:4096])
    if head.size <= 32:
        codes = np.full(values.shape, -1, dtype=np.int64)
        for i, value in enumerate(head):
            codes[values == value] = i
        if not (codes < 0).any():
            return codes, head
    uniques, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64), uniques


def _cells_by_value(values: np.ndarray, pairs: np.ndarray, n_pairs: int) -> dict[str, np.ndarray]:
    """Counts of each pair index (true · K + predicted) per distinct value of ``values``.

    Group columns usually hold a few values: those seen in the first rows are matched by equality
    (one comparison pass each, counting the matching pairs); only when other values remain does it
    fall back to a full ``np.unique``.
    """
    head = np.unique(values[:4096])
    if head.size <= 32:
        out, seen = {}, 0
        for value in head:
            block = np.bincount(pairs[values == value], minlength=n_pairs)
            seen += int(block.sum())
            out[str(value)] = block
        if seen == values.shape[0]:
            return out
    codes, uniques = _factorize(values)
    flat = np.bincount(codes.ravel() * n_pairs + pairs,
                       minlength=len(uniques) * n_pairs).reshape(len(uniques), n_pairs)
    return {str(value): block for value, block in zip(uniques, flat)}


class GroupCellAccumulator:
    """Confusion counts per group value: ``cells[group]`` is a K×K array (rows = true class).

    Parameters
    ----------
    n_classes : int
    """

    def __init__(self, n_classes: int):
        self.n_classes = int(n_classes)
        self.cells: dict[str, np.ndarray] = {}

    def update(self, labels, predicted, groups, *, pairs=None) -> "GroupCellAccumulator":
        """Add one chunk: labels, predicted classes and group values, each of shape (n,).

        ``pairs`` (n,), optional, is the precomputed ``labels · K + predicted``.
        """
        labels = np.asarray(labels, dtype=np.int64)
        groups = np.asarray(groups)
        if groups.shape != labels.shape:
            raise ValueError(MSG_SHAPE.format(groups.shape, labels.shape))
        if labels.size == 0:
            return self
        k = self.n_classes
        if pairs is None:
            pairs = labels * k + np.asarray(predicted, dtype=np.int64)
        for key, block in _cells_by_value(groups, pairs, k * k).items():
            block = block.reshape(k, k)
            if key in self.cells:
                self.cells[key] += block
            else:
                self.cells[key] = block.astype(np.int64)
        return self

    def merge(self, other: "GroupCellAccumulator") -> "GroupCellAccumulator":
        """Add another accumulator's cells into this one (in place) and return self."""
        if other.n_classes != self.n_classes:
            raise ValueError(MSG_MERGE.format(self.n_classes, other.n_classes))
        for key, block in other.cells.items():
            if key in self.cells:
                self.cells[key] = self.cells[key] + block
            else:
                self.cells[key] = block.copy()
        return self


def cells_to_rows(cells: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One row per non-empty (group, true, predicted) cell: y_true, y_pred, group, weight (= count)."""
    ys, ps, gs, ws = [], [], [], []
    for group in sorted(cells):
        t, p = np.nonzero(cells[group])
        ys.append(t)
        ps.append(p)
        gs.append(np.full(t.shape, group, dtype=object))
        ws.append(cells[group][t, p])
    return (np.concatenate(ys), np.concatenate(ps), np.concatenate(gs),
            np.concatenate(ws).astype(np.float64))


def accuracy_frame(cells: Mapping[str, np.ndarray]):
    """fairlearn ``MetricFrame`` of accuracy by group, built from the count cells with sample weights."""
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import accuracy_score

    y, p, g, w = cells_to_rows(cells)
    return MetricFrame(metrics=accuracy_score, y_true=y, y_pred=p, sensitive_features=g,
                       sample_params={"sample_weight": w})


def per_class_rate_gaps(cells: Mapping[str, np.ndarray], class_names) -> list[dict]:
    """One-vs-rest TPR and FPR gaps per class: max − min over groups where the rate is defined.

    TPR_g(k) = correct k / samples of class k in g; FPR_g(k) = non-k samples predicted k / non-k
    samples in g. A gap is None unless at least two groups define the rate.
    """
    blocks = np.stack([cells[g] for g in sorted(cells)]).astype(np.float64)  # (G, K, K)
    tp = np.diagonal(blocks, axis1=1, axis2=2)
    support = blocks.sum(axis=2)
    predicted = blocks.sum(axis=1)
    n = blocks.sum(axis=(1, 2))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = np.where(support > 0, tp / support, np.nan)
        fpr = np.where(n - support > 0, (predicted - tp) / (n - support), np.nan)

    def gap(col):
        col = col[~np.isnan(col)]
        return float(col.max() - col.min()) if col.size >= 2 else None

    return [{"class": str(name), "tpr_difference": gap(tpr[:, k]), "fpr_difference": gap(fpr[:, k])}
            for k, name in enumerate(class_names)]


def disparity_entry(
    cells: Mapping[str, np.ndarray], class_names, *, name: str, kind: str = "group column",
    proxy: bool = False, note: str | None = None,
) -> dict:
    """The JSON ``disparity[]`` entry for one grouping (see docs/audit-json.md).

    Accuracy by group, overall, difference and ratio between groups and to overall, worst and best
    group, all as fairlearn ``MetricFrame`` computes them; a 95% Wilson interval per group; and the
    one-vs-rest TPR/FPR gaps per class.
    """
    mf = accuracy_frame(cells)
    by_group = mf.by_group
    groups = []
    for group in sorted(cells):
        block = cells[group]
        n = int(block.sum())
        correct = int(np.trace(block))
        lo, hi = wilson_interval(correct, n)
        groups.append({"group": group, "n": n, "accuracy": _opt(by_group[group]),
                       "accuracy_ci": [lo, hi]})
    values = np.array([g["accuracy"] for g in groups], dtype=np.float64)
    return {
        "name": name,
        "kind": kind,
        "proxy": bool(proxy),
        "note": note,
        "metric": "accuracy",
        "groups": groups,
        "overall": _opt(mf.overall),
        "difference": _opt(mf.difference(method="between_groups")),
        "ratio": _opt(mf.ratio(method="between_groups")),
        "difference_to_overall": _opt(mf.difference(method="to_overall")),
        "ratio_to_overall": _opt(mf.ratio(method="to_overall")),
        "worst_group": groups[int(np.argmin(values))]["group"],
        "best_group": groups[int(np.argmax(values))]["group"],
        "per_class_gaps": per_class_rate_gaps(cells, class_names),
    }
