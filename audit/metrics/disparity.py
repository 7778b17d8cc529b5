"""Disparity across groups: per-group count cells over (true, predicted), mergeable, and fairlearn's
MetricFrame evaluated on those cells (one weighted row per non-empty cell, not one row per sample).
"""

from __future__ import annotations

from itertools import combinations
from typing import Mapping, Sequence

import numpy as np

from audit.metrics.intervals import wilson_interval

MSG_SHAPE = "group values ({}) and labels ({}) disagree on the number of samples"
#: Above this many classes a group's K×K cells are kept sparse (scipy CSR, only the non-zero cells):
#: 3,000 groups × 1,000² dense int64 cells would need 24 GB; sparse cells need at most one per sample.
DENSE_MAX_CLASSES = 32
#: Why a grouping's difference and ratio are undefined with a single group.
ONE_GROUP = "only one group: there is nothing to compare"
MSG_MERGE = "cannot merge group accumulators over different class counts: {} and {}"


def _opt(x) -> float | None:
    x = float(x)
    return None if not np.isfinite(x) else x


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and sorted unique values of a 1-D array.

    Group columns usually hold a few values: when those seen in the first rows are all there is,
    :func:`_head_codes` codes the rows in a few passes; only otherwise does it fall back to coding every
    row: strings by pandas' hash factorisation (``sort=True``: the same codes and sorted values as
    ``np.unique``, without sorting a million strings), other values by ``np.unique``.
    """
    head = np.unique(values[:4096])
    codes = _head_codes(values, head) if head.size <= 32 else None
    if codes is not None:
        return codes.astype(np.int64, copy=False), head
    if values.dtype.kind in "US":
        import pandas as pd

        codes, uniques = pd.factorize(values, sort=True)
        return codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=values.dtype)
    uniques, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64), uniques


def _key_positions(table: np.ndarray) -> tuple[int, ...] | None:
    """Fewest (at most 3) character positions whose code points tell the rows of ``table`` apart.

    Parameters
    ----------
    table : ndarray of uint32, shape (n_values, width)
        Distinct strings as code points (numpy's UCS4 storage, zero-padded).
    """
    width = table.shape[1]
    for size in (1, 2, 3):
        for positions in combinations(range(width), size):
            if np.unique(table[:, positions], axis=0).shape[0] == table.shape[0]:
                return positions
    return None


def _head_codes(values: np.ndarray, head: np.ndarray) -> np.ndarray | None:
    """Index into ``head`` (at most 32 sorted distinct values) of each value, shape (n,), or None if
    some value is not in ``head``.

    Strings are matched on a key taken from the code points at the few positions that tell the head
    values apart (one position: the code point itself; two or three: 21 bits each packed in 64),
    then checked exactly: every row's characters must equal those of the head value its key picked
    (a row whose key matches none gets code 0 and fails the check unless it is head[0]). Codes are
    built as uint8 by OR-ing the equality masks scaled by the index (keys are distinct, so at most
    one mask is set per row). A few integer passes instead of one string comparison per head value;
    other dtypes compare by equality, with the same exact check.
    """
    n = values.shape[0]
    if values.dtype.kind == "U" and values.dtype.itemsize:
        width = values.dtype.itemsize // 4
        rows = np.ascontiguousarray(values).view(np.uint32).reshape(n, width)
        table = np.ascontiguousarray(head, dtype=values.dtype).view(np.uint32).reshape(len(head), width)
        positions = _key_positions(table)
        if positions is None:
            return None

        def pack(chars: np.ndarray) -> np.ndarray:
            key = chars[:, positions[0]].copy()
            if len(positions) > 1:
                key = key.astype(np.uint64)
                for j, pos in enumerate(positions[1:], start=1):
                    key |= chars[:, pos].astype(np.uint64) << np.uint64(21 * j)
            return key

        key, head_keys = pack(rows), pack(table)
    else:
        rows = key = values
        table = head_keys = head
    codes = np.zeros(n, dtype=np.uint8)
    for i, head_key in enumerate(head_keys[1:], start=1):
        hit = (key == head_key).view(np.uint8)
        hit *= i
        codes |= hit
    if not np.array_equal(np.take(table, codes, axis=0), rows):
        return None
    return codes.astype(np.intp)


def _sparse_cells_by_value(values: np.ndarray, pairs: np.ndarray, k: int) -> dict:
    """As :func:`_cells_by_value`, each group's K×K counts as a scipy CSR array of its non-zero cells
    (memory grows with the number of distinct (group, true, predicted) triples, never with G·K²)."""
    from scipy import sparse

    uniques, codes = np.unique(values, return_inverse=True)
    keys, counts = np.unique(codes.astype(np.int64) * (k * k) + pairs, return_counts=True)
    group, pair = np.divmod(keys, k * k)
    bounds = np.searchsorted(group, np.arange(len(uniques) + 1))
    out = {}
    for g, value in enumerate(uniques):
        lo, hi = bounds[g], bounds[g + 1]
        if lo == hi:
            continue
        rows, cols = np.divmod(pair[lo:hi], k)
        out[str(value)] = sparse.csr_array((counts[lo:hi].astype(np.int64), (rows, cols)), shape=(k, k))
    return out


def block_cells(block) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, column and count of every non-zero cell of a group's K×K block (dense or sparse)."""
    if isinstance(block, np.ndarray):
        t, p = np.nonzero(block)
        return t, p, block[t, p]
    coo = block.tocoo()
    keep = coo.data != 0
    return coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64), coo.data[keep]


def _cells_by_value(values: np.ndarray, pairs: np.ndarray, n_pairs: int) -> dict[str, np.ndarray]:
    """Counts of each pair index (true · K + predicted) per distinct value of ``values``.

    Group columns usually hold a few values: when those seen in the first rows are all there is,
    :func:`_head_codes` codes the rows and one bincount of (code, pair) gives every group's cells;
    otherwise it falls back to a full ``np.unique``.
    """
    codes, head = factorize(values)
    flat = np.bincount(codes * n_pairs + pairs, minlength=len(head) * n_pairs)
    return {str(value): block for value, block in zip(head, flat.reshape(len(head), n_pairs))}


class GroupCellAccumulator:
    """Confusion counts per group value: ``cells[group]`` is a K×K array (rows = true class).

    Parameters
    ----------
    n_classes : int

    Notes
    -----
    Up to ``DENSE_MAX_CLASSES`` classes the blocks are dense ndarrays; above, scipy CSR arrays of the
    non-zero cells (:func:`block_cells` and :func:`group_margins` read both).
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
        if k > DENSE_MAX_CLASSES:
            for key, block in _sparse_cells_by_value(groups, pairs, k).items():
                self.cells[key] = self.cells[key] + block if key in self.cells else block
            return self
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
        t, p, w = block_cells(cells[group])
        ys.append(t)
        ps.append(p)
        gs.append(np.full(t.shape, group, dtype=object))
        ws.append(w)
    return (np.concatenate(ys), np.concatenate(ps), np.concatenate(gs),
            np.concatenate(ws).astype(np.float64))


def weighted_accuracy(y_true, y_pred, sample_weight) -> float:
    """Accuracy with per-sample weights: Σ w·1[y_true = y_pred] / Σ w, as ``np.average`` computes it
    (the same arithmetic as scikit-learn's ``accuracy_score(..., sample_weight=w)``, without its
    input checks, which cost more than the sum over a few hundred cells).

    Parameters
    ----------
    y_true, y_pred : ndarray of int, shape (n_cells,)
    sample_weight : ndarray of float, shape (n_cells,)
    """
    return float(np.average(np.asarray(y_true) == np.asarray(y_pred), weights=sample_weight))


def accuracy_frame(cells: Mapping[str, np.ndarray]):
    """fairlearn ``MetricFrame`` of accuracy by group, built from the count cells with sample weights."""
    from audit.prefetch import wait

    wait("fairlearn.metrics")  # started by audit.pipeline as soon as it knows the audit has groups
    from fairlearn.metrics import MetricFrame

    import pandas as pd

    y, p, g, w = cells_to_rows(cells)
    # a Series, not an ndarray: fairlearn rejects a one-element ndarray ("too many dimensions"),
    # which is what a single sample, or a single non-empty cell, gives
    g = pd.Series(g, name="sensitive_feature_0")
    return MetricFrame(metrics=weighted_accuracy, y_true=y, y_pred=p, sensitive_features=g,
                       sample_params={"sample_weight": w})


def group_margins(cells: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Correct, support and predicted counts per (group in sorted order, class), each (G, K) float64.

    Dense blocks are stacked; sparse ones are summed in one ``bincount`` over all their non-zero
    cells (per-group scipy calls cost more than the arithmetic when there are thousands of groups).
    """
    names = sorted(cells)
    blocks = [cells[g] for g in names]
    if all(isinstance(b, np.ndarray) for b in blocks):
        stacked = np.stack(blocks).astype(np.float64)  # (G, K, K)
        return (np.diagonal(stacked, axis1=1, axis2=2).copy(), stacked.sum(axis=2), stacked.sum(axis=1))
    k = blocks[0].shape[0]
    parts = [block_cells(b) for b in blocks]
    g = np.repeat(np.arange(len(blocks)), [len(t) for t, _, _ in parts])
    t, p, w = (np.concatenate(x) for x in zip(*parts))
    w = w.astype(np.float64)
    size = len(blocks) * k

    def per_group(idx, weights):
        return np.bincount(g * k + idx, weights=weights, minlength=size).reshape(len(blocks), k)

    return per_group(t, w * (t == p)), per_group(t, w), per_group(p, w)


def per_class_rate_gaps(cells: Mapping[str, np.ndarray], class_names) -> list[dict]:
    """One-vs-rest TPR and FPR gaps per class: max − min over groups where the rate is defined.

    TPR_g(k) = correct k / samples of class k in g; FPR_g(k) = non-k samples predicted k / non-k
    samples in g. A gap is None unless at least two groups define the rate.
    """
    tp, support, predicted = group_margins(cells)
    n = support.sum(axis=1)[:, None]
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
    proxy: bool = False, note: str | None = None, order: Sequence[str] | None = None,
) -> dict:
    """The JSON ``disparity[]`` entry for one grouping (see docs/audit-json.md).

    Accuracy by group, overall, difference and ratio between groups and to overall, worst and best
    group, all as fairlearn ``MetricFrame`` computes them; a 95% Wilson interval per group; and the
    one-vs-rest TPR/FPR gaps per class.

    ``order``, optional, lists groups in their natural order (say low, mid, high): the ``groups``
    list follows it, then any other groups sorted; by default all are sorted. Ties for the worst
    and best group go to the first in that list.
    """
    mf = accuracy_frame(cells)
    by_group = mf.by_group
    listed = [g for g in (order or ()) if g in cells]
    groups = []
    ordered = listed + sorted(set(cells) - set(listed))
    ns = np.array([int(cells[g].sum()) for g in ordered], dtype=np.int64)
    right = np.array([int(cells[g].diagonal().sum()) for g in ordered], dtype=np.int64)
    los, his = wilson_interval(right, ns)  # one vectorised call for thousands of groups
    for i, group in enumerate(ordered):
        groups.append({"group": group, "n": int(ns[i]), "n_correct": int(right[i]),
                       "accuracy": _opt(by_group[group]), "accuracy_ci": [float(los[i]), float(his[i])]})
    values = np.array([g["accuracy"] for g in groups], dtype=np.float64)
    compared = len(groups) >= 2
    return {
        "name": name,
        "kind": kind,
        "proxy": bool(proxy),
        "note": note,
        "metric": "accuracy",
        "groups": groups,
        "overall": _opt(mf.overall),
        # with one group MetricFrame says 0 and 1; there is no disparity to measure, so null + reason
        "difference": _opt(mf.difference(method="between_groups")) if compared else None,
        "ratio": _opt(mf.ratio(method="between_groups")) if compared else None,
        "difference_to_overall": _opt(mf.difference(method="to_overall")) if compared else None,
        "ratio_to_overall": _opt(mf.ratio(method="to_overall")) if compared else None,
        "undefined_reason": None if compared else ONE_GROUP,
        "worst_group": groups[int(np.argmin(values))]["group"],
        "best_group": groups[int(np.argmax(values))]["group"],
        "per_class_gaps": per_class_rate_gaps(cells, class_names),
    }
