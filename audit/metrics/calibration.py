"""Calibration: binned ECE/MCE, classwise ECE, adaptive ECE, Brier, NLL, reliability bins, and a fast
seeded bootstrap interval for ECE — as a mergeable accumulator plus pure functions.

Binning: ``n_bins`` equal-width bins, bin b = (edges[b], edges[b+1]] with ``edges = linspace(0, 1,
n_bins + 1)``; a confidence of exactly 0 falls in the first bin, exactly 1.0 in the last (Guo et al. 2017).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from audit.metrics.confusion import row_pick, top_label
from audit.metrics.intervals import CONFIDENCE

#: Probabilities are clipped to [NLL_CLIP, 1] before the log in the negative log-likelihood.
NLL_CLIP = 1e-15
#: Resolution of the confidence histogram that the streaming adaptive ECE is computed from.
SKETCH_BINS = 1 << 14
#: Entries of the probability matrix per block in the classwise pass (temporaries stay in cache).
BLOCK_VALUES = 1 << 17
#: From this many probability entries on, the top label is found in a worker thread (see
#: :func:`top_label_and_classwise`).
THREAD_MIN_VALUES = 1 << 18
MSG_BINS = "n_bins must be an int >= 1; got {!r}"
MSG_MERGE = "cannot merge calibration accumulators with different settings: {} and {}"


def bin_edges(n_bins: int) -> np.ndarray:
    """Edges of ``n_bins`` equal-width bins on [0, 1], shape (n_bins + 1,)."""
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(MSG_BINS.format(n_bins))
    return np.linspace(0.0, 1.0, int(n_bins) + 1)


def bin_index(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each value under the (lo, hi] rule; 0 goes to the first bin, 1.0 to the last.

    Computed as ``ceil(v · n_bins) − 1`` clipped to ``[0, n_bins)``, in float64 (one multiply, no
    search), so a value on an edge b / n_bins is placed by the rounded product ``v · n_bins``.

    Parameters
    ----------
    values : ndarray of float in [0, 1], any shape

    Returns
    -------
    ndarray of intp, same shape, values in ``[0, n_bins)``
    """
    return _bin_codes(values, n_bins).astype(np.intp)


def _bin_codes(values: np.ndarray, n_bins: int, spare: int = 1) -> np.ndarray:
    """:func:`bin_index` as the narrowest unsigned type that holds ``spare · n_bins`` codes (a float
    to uint8/uint16 cast is several times faster than one to int64; callers may scale the codes by
    up to ``spare`` in place)."""
    bin_edges(n_bins)
    scaled = np.multiply(values, n_bins, dtype=np.float64)
    np.ceil(scaled, out=scaled)
    np.clip(scaled, 1, n_bins, out=scaled)
    scaled -= 1
    return scaled.astype(_slot_dtype(spare * n_bins))


def _slot_dtype(n_slots: int) -> type:
    """Narrowest unsigned integer type that holds ``n_slots`` slot numbers (casts to it are SIMD-fast)."""
    return np.uint8 if n_slots <= 1 << 8 else np.uint16 if n_slots <= 1 << 16 else np.intp


def _classwise_slot_blocks(probs: np.ndarray, n_bins: int):
    """Blocks of about ``BLOCK_VALUES`` entries: yields (p, slot), both of shape (m, n_classes).

    Each entry gets the slot ``clip(ceil(p · n_bins), 0, n_bins + 1) + k · (n_bins + 2)`` of its
    class k (so values at or below 0 and above 1 have slots of their own and no clip to the bin range
    is needed per entry). The slot is computed in float64, cast to a narrow unsigned type and offset
    by a precomputed same-shape array: a broadcast add over a last axis of K entries, or a cast to
    int64, would cost more than the rest of the pass. The slot buffer is reused between blocks.
    """
    n, k = probs.shape
    width = n_bins + 2
    dtype = _slot_dtype(k * width)
    rows = max(1, BLOCK_VALUES // k)
    m0 = min(rows, n)
    scaled = np.empty((m0, k))
    slots = np.empty((m0, k), dtype=dtype)
    offsets = np.broadcast_to((np.arange(k) * width).astype(dtype), (m0, k)).copy()
    for start in range(0, n, rows):
        p = probs[start:start + rows]
        m = p.shape[0]
        s, slot = scaled[:m], slots[:m]
        np.multiply(p, n_bins, out=s)
        np.ceil(s, out=s)
        np.clip(s, 0, n_bins + 1, out=s)
        np.copyto(slot, s, casting="unsafe")
        slot += offsets[:m]
        yield p, slot


def classwise_p_sums(probs: np.ndarray, n_bins: int) -> tuple[np.ndarray, float]:
    """Per class k and (lo, hi] bin of p_k the summed p_k, and Σ p² over all entries (one pass).

    Per-bin counts are left out: no metric needs them (each class's bins together hold every
    sample), and they would cost a second bincount over all N·K entries. Rows are processed in blocks
    of about ``BLOCK_VALUES`` entries so each block's temporaries stay in cache (see
    :func:`_classwise_slot_blocks`); the slots are folded into bins afterwards: slot 0 and 1 to the
    first bin, slot ``n_bins + 1`` to the last — the same bins as :func:`bin_index`.

    Parameters
    ----------
    probs : ndarray of float64, shape (n_samples, n_classes)
    n_bins : int

    Returns
    -------
    p_sum : ndarray of float64, shape (n_classes, n_bins)
    sum_sq : float
        Σ_ij p_ij², for the Brier score.
    """
    k = probs.shape[1]
    p_sum = np.zeros(k * (n_bins + 2))
    sum_sq = 0.0
    for p, slot in _classwise_slot_blocks(probs, n_bins):
        flat = p.reshape(-1)
        p_sum += np.bincount(slot.reshape(-1), weights=flat, minlength=p_sum.size)
        sum_sq += float(np.einsum("ij,ij->", p, p))
    return _fold_slots(p_sum, k, n_bins), sum_sq


def top_label_and_classwise(probs: np.ndarray, n_bins: int, *, threaded: bool = True):
    """:func:`~audit.metrics.confusion.top_label` and :func:`classwise_p_sums` of ``probs``.

    The two passes are independent; for large inputs the binning runs in a worker thread while this
    thread finds the top label, whose arg-max and row pick release the GIL for their whole length
    (the binning's bincount holds it, but nothing else here needs it meanwhile). Results are the
    same either way. ``threaded=False`` runs both here (for callers that already run in parallel).

    Returns
    -------
    predicted : ndarray of int64, shape (n_samples,)
    confidence : ndarray of float64, shape (n_samples,)
    classwise : tuple (p_sum of shape (n_classes, n_bins), sum_sq)
    """
    if not threaded or probs.size < THREAD_MIN_VALUES:
        return (*top_label(probs), classwise_p_sums(probs, n_bins))
    with ThreadPoolExecutor(max_workers=1) as pool:
        classwise = pool.submit(classwise_p_sums, probs, n_bins)
        predicted, confidence = top_label(probs)
        return predicted, confidence, classwise.result()


def _fold_slots(slot_values: np.ndarray, k: int, n_bins: int) -> np.ndarray:
    """(k · (n_bins + 2),) slot sums of :func:`_classwise_slot_blocks` to (k, n_bins) bin sums."""
    v = slot_values.reshape(k, n_bins + 2)
    out = v[:, 1:n_bins + 1].copy()
    out[:, 0] += v[:, 0]
    out[:, -1] += v[:, n_bins + 1]
    return out


def ece_from_bins(count, conf_sum, correct_sum) -> tuple[float | None, float | None]:
    """ECE = Σ_b (n_b / N) |acc_b − conf_b| = Σ_b |correct_b − conf_b·n_b| / N; MCE = max over non-empty bins.

    Parameters
    ----------
    count, conf_sum, correct_sum : array-like of shape (n_bins,)

    Returns
    -------
    (ece, mce) : floats, or (None, None) when every bin is empty
    """
    count = np.asarray(count, dtype=np.float64)
    n = count.sum()
    if n == 0:
        return None, None
    gap = np.abs(np.asarray(correct_sum, dtype=np.float64) - np.asarray(conf_sum, dtype=np.float64))
    ece = float(gap.sum() / n)
    nonempty = count > 0
    mce = float(np.max(gap[nonempty] / count[nonempty]))
    return ece, mce


def expected_calibration_error(labels, probs, n_bins: int = 15) -> float:
    """Top-label ECE of ``probs`` against ``labels`` (equal-width (lo, hi] bins).

    Parameters
    ----------
    labels : ndarray of int, shape (n_samples,)
    probs : ndarray of shape (n_samples, n_classes)
    """
    acc = CalibrationAccumulator(n_bins=n_bins).update(labels, probs)
    return ece_from_bins(acc.count, acc.conf_sum, acc.correct_sum)[0]


def classwise_ece_from_bins(count, p_sum, hit_sum) -> float | None:
    """Mean over classes of the binned ECE of p_k against 1[y = k].

    Parameters
    ----------
    count : array-like of shape (n_classes, n_bins) or (n_classes, 1)
        Samples per class and bin, or only each class's total (the sum over its bins is all
        that is used).
    p_sum, hit_sum : array-like of shape (n_classes, n_bins)
        Per class and bin: sum of p_k, number with y = k.
    """
    count = np.asarray(count, dtype=np.float64)
    n = count.sum(axis=1)
    if np.any(n == 0):
        return None
    gap = np.abs(np.asarray(hit_sum, dtype=np.float64) - np.asarray(p_sum, dtype=np.float64)).sum(axis=1)
    return float(np.mean(gap / n))


def _equal_mass_sizes(n: int, n_bins: int) -> np.ndarray:
    """Group sizes of ``numpy.array_split(range(n), n_bins)``: the first ``n % n_bins`` get one more."""
    return np.array([n // n_bins + (1 if b < n % n_bins else 0) for b in range(n_bins)])


def adaptive_ece(confidence, correct, n_bins: int = 15) -> float | None:
    """Top-label adaptive ECE with equal-mass bins (exact; needs every confidence, so not mergeable).

    The samples, sorted by top-label confidence (ties: incorrect before correct, so the result does
    not depend on the order of the samples), are split into ``n_bins`` consecutive
    groups whose sizes differ by at most one (``numpy.array_split``); ACE = Σ_b (n_b / N) |acc_b − conf_b|.
    With fewer samples than bins, the empty groups are skipped.

    No sort with a permutation is needed: the confidences of the incorrect and of the correct samples
    are sorted apart (value sorts, SIMD-fast), and at each group boundary the number of each kind
    among the first r ranks follows from binary searches (:func:`_split_ranks`); the groups' sums are
    differences of prefix sums.

    Parameters
    ----------
    confidence : ndarray of float, shape (n_samples,)
    correct : ndarray of bool, shape (n_samples,)
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    n = confidence.shape[0]
    if n == 0:
        return None
    correct = np.asarray(correct, dtype=bool)
    wrong_conf = np.sort(confidence[~correct])
    right_conf = np.sort(confidence[correct])
    ends = np.cumsum(_equal_mass_sizes(n, n_bins))
    in_wrong, in_right = _split_ranks(confidence, wrong_conf, right_conf, ends)
    conf_prefix = (np.concatenate(([0.0], np.cumsum(wrong_conf)))[in_wrong]
                   + np.concatenate(([0.0], np.cumsum(right_conf)))[in_right])
    c = np.diff(conf_prefix, prepend=0.0)
    a = np.diff(in_right, prepend=0).astype(np.float64)
    return float(np.abs(a - c).sum() / n)


def _split_ranks(confidence, wrong_sorted, right_sorted, ranks) -> tuple[np.ndarray, np.ndarray]:
    """For each r in ``ranks``: how many incorrect and correct samples are among the first r in
    (confidence, correct) order, i.e. ties in confidence taken incorrect first."""
    ranks = np.asarray(ranks, dtype=np.int64)
    kth = np.maximum(ranks - 1, 0)
    v = np.partition(confidence, np.unique(kth))[kth]  # the r-th smallest confidence
    w_lt = np.searchsorted(wrong_sorted, v, side="left")
    r_lt = np.searchsorted(right_sorted, v, side="left")
    w_eq = np.searchsorted(wrong_sorted, v, side="right") - w_lt
    rest = ranks - w_lt - r_lt  # samples at exactly v inside the first r
    take_wrong = np.minimum(rest, w_eq)
    in_wrong = np.where(ranks > 0, w_lt + take_wrong, 0)
    in_right = np.where(ranks > 0, r_lt + rest - take_wrong, 0)
    return in_wrong, in_right


def adaptive_ece_from_histogram(count, conf_sum, correct_sum, n_bins: int = 15) -> float | None:
    """Approximate adaptive ECE from a fine confidence histogram (the mergeable, streaming variant).

    Each fine bin goes, whole, to the equal-mass group (sizes as in :func:`adaptive_ece`) that holds the
    rank of its middle sample; so the groups match the exact ones to within one fine bin (width
    1/SKETCH_BINS) and equal them when no fine bin holds samples of two groups.
    """
    count = np.asarray(count, dtype=np.float64)
    n = count.sum()
    if n == 0:
        return None
    starts = np.cumsum(_equal_mass_sizes(int(n), n_bins)) - _equal_mass_sizes(int(n), n_bins)
    mid_rank = np.floor(np.cumsum(count) - count + np.maximum(count - 1.0, 0.0) / 2.0)
    group = np.searchsorted(starts, mid_rank, side="right") - 1
    c = np.bincount(group, weights=conf_sum, minlength=n_bins)
    a = np.bincount(group, weights=correct_sum, minlength=n_bins)
    return float(np.abs(a - c).sum() / n)


def reliability_bins(count, conf_sum, correct_sum) -> list[dict]:
    """Reliability-diagram rows {lo, hi, count, mean_confidence, accuracy}; None for empty bins."""
    count = np.asarray(count)
    edges = bin_edges(len(count))
    rows = []
    for b, m in enumerate(count):
        m = int(m)
        rows.append({
            "lo": float(edges[b]),
            "hi": float(edges[b + 1]),
            "count": m,
            "mean_confidence": float(conf_sum[b] / m) if m else None,
            "accuracy": float(correct_sum[b] / m) if m else None,
        })
    return rows


def brier_score(labels, probs) -> float:
    """Multiclass Brier score: mean over samples of Σ_k (p_k − 1[y = k])²."""
    probs = np.asarray(probs, dtype=np.float64)
    p_true = probs[np.arange(probs.shape[0]), labels]
    return float(np.mean(np.einsum("ij,ij->i", probs, probs) - 2.0 * p_true + 1.0))


def negative_log_likelihood(labels, probs, clip: float = NLL_CLIP) -> float:
    """Mean of −log(clip(p_true, clip, 1)): the natural-log NLL (log loss) of the true class."""
    probs = np.asarray(probs, dtype=np.float64)
    p_true = probs[np.arange(probs.shape[0]), labels]
    return float(np.mean(-np.log(np.clip(p_true, clip, 1.0))))


def ece_bootstrap_interval(
    cell_count, cell_sum, cell_sumsq, *, n_bootstrap: int = 200, seed: int = 0, confidence: float = CONFIDENCE
) -> list[float] | None:
    """Seeded bootstrap percentile interval for top-label ECE, from per-(bin, correct) cell statistics.

    A bootstrap resample of N samples is drawn at the cell level: the counts of the 2·n_bins cells
    (bin × correct/incorrect) are multinomial(N, cell_count / N) — exactly their bootstrap distribution —
    and each cell's confidence sum, given its resampled count m, is drawn from a normal with the cell's
    empirical mean·m and variance·m (the first two moments of the exact resampled sum). Cost is
    O(n_bootstrap · n_bins), independent of N, and it merges across chunks.

    Parameters
    ----------
    cell_count, cell_sum, cell_sumsq : array-like of shape (n_bins, 2)
        Per bin and correctness (column 1 = correct): count, sum and sum of squares of confidences.

    Returns
    -------
    [lo, hi] or None when there are no samples or ``n_bootstrap`` is 0
    """
    cell_count = np.asarray(cell_count, dtype=np.float64).ravel()
    n = int(cell_count.sum())
    if n == 0 or n_bootstrap <= 0:
        return None
    cell_sum = np.asarray(cell_sum, dtype=np.float64).ravel()
    cell_sumsq = np.asarray(cell_sumsq, dtype=np.float64).ravel()
    safe = np.maximum(cell_count, 1.0)
    mean = cell_sum / safe
    var = np.maximum(cell_sumsq / safe - mean * mean, 0.0)
    rng = np.random.default_rng(seed)
    m = rng.multinomial(n, cell_count / n, size=n_bootstrap).astype(np.float64)  # (B, 2·bins)
    sums = m * mean + np.sqrt(m * var) * rng.standard_normal(m.shape)
    sums = sums.reshape(n_bootstrap, -1, 2)
    conf = sums.sum(axis=2)
    correct = m.reshape(n_bootstrap, -1, 2)[:, :, 1]
    eces = np.abs(correct - conf).sum(axis=1) / n
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(eces, [alpha, 1.0 - alpha])
    return [float(lo), float(hi)]


class CalibrationAccumulator:
    """Mergeable sums for every calibration metric of one set of predictions.

    Parameters
    ----------
    n_bins : int, default 15
        Equal-width bins (lo, hi] for ECE, MCE, classwise ECE and the reliability diagram.
    n_classes : int, optional
        Fixed on the first update when not given.

    Attributes
    ----------
    count, conf_sum, correct_sum : ndarray of shape (n_bins,)
        Top-label: samples, summed confidence and number correct per bin.
    cell_count, cell_sum, cell_sumsq : ndarray of shape (n_bins, 2)
        Same split by correctness (column 1 = correct), with sums of squares, for the bootstrap.
    cw_p_sum, cw_hit_sum : ndarray of shape (n_classes, n_bins)
        Classwise: per class k and bin of p_k, summed p_k and number with y = k (each class's
        bins together hold all ``n`` samples, so no per-bin counts are kept).
    sketch_count, sketch_conf, sketch_correct : ndarray of shape (SKETCH_BINS,)
        Fine top-label confidence histogram for the streaming adaptive ECE.
    brier_sum, nll_sum : float
    n : int
    """

    def __init__(self, n_bins: int = 15, n_classes: int | None = None):
        bin_edges(n_bins)
        self.n_bins = int(n_bins)
        self.n_classes = None
        self.n = 0
        self.count = np.zeros(self.n_bins)
        self.conf_sum = np.zeros(self.n_bins)
        self.correct_sum = np.zeros(self.n_bins)
        self.cell_count = np.zeros((self.n_bins, 2))
        self.cell_sum = np.zeros((self.n_bins, 2))
        self.cell_sumsq = np.zeros((self.n_bins, 2))
        self.sketch_count = np.zeros(SKETCH_BINS)
        self.sketch_conf = np.zeros(SKETCH_BINS)
        self.sketch_correct = np.zeros(SKETCH_BINS)
        self.brier_sum = 0.0
        self.nll_sum = 0.0
        #: (predicted, confidence) of the latest update, for callers that need them again.
        self.last_top_label = None
        if n_classes is not None:
            self._init_classes(n_classes)

    def _init_classes(self, k: int) -> None:
        self.n_classes = int(k)
        self.cw_p_sum = np.zeros((self.n_classes, self.n_bins))
        self.cw_hit_sum = np.zeros((self.n_classes, self.n_bins))

    def update(self, labels, probs, *, predicted=None, confidence=None,
               classwise=None, threaded: bool = True) -> "CalibrationAccumulator":
        """Add one chunk.

        Parameters
        ----------
        labels : ndarray of int, shape (n,)
        probs : ndarray of float, shape (n, K)
        predicted, confidence : ndarray of shape (n,), optional
            Precomputed :func:`~audit.metrics.confusion.top_label` of ``probs``.
        classwise : tuple (p_sum, sum_sq), optional
            Precomputed :func:`classwise_p_sums` of ``probs`` with this accumulator's ``n_bins``.
        threaded : bool, default True
            Passed to :func:`top_label_and_classwise` when the top label is not given.
        """
        labels = np.asarray(labels, dtype=np.int64)
        probs = np.asarray(probs, dtype=np.float64)
        n, k = probs.shape
        if self.n_classes is None:
            self._init_classes(k)
        elif k != self.n_classes:
            raise ValueError(MSG_MERGE.format(self.n_classes, k))
        if n == 0:
            return self
        if predicted is None or confidence is None:
            predicted, confidence, classwise = top_label_and_classwise(probs, self.n_bins, threaded=threaded)
        self.last_top_label = (predicted, confidence)
        correct = predicted == labels
        nb = self.n_bins

        cell = _bin_codes(confidence, nb, spare=2)
        cell *= 2
        cell += correct
        self.cell_count += np.bincount(cell, minlength=2 * nb).reshape(nb, 2)
        self.cell_sum += np.bincount(cell, weights=confidence, minlength=2 * nb).reshape(nb, 2)
        self.cell_sumsq += np.bincount(cell, weights=confidence * confidence, minlength=2 * nb).reshape(nb, 2)
        self.count = self.cell_count.sum(axis=1)
        self.conf_sum = self.cell_sum.sum(axis=1)
        self.correct_sum = self.cell_count[:, 1].copy()

        # sketch cells (fine bin, correct): two bincounts give count, correct count and confidence sum
        fine = np.multiply(confidence, SKETCH_BINS)
        np.minimum(fine, SKETCH_BINS - 1, out=fine)
        sketch = fine.astype(_slot_dtype(2 * SKETCH_BINS))
        sketch *= 2
        sketch += correct
        c2 = np.bincount(sketch, minlength=2 * SKETCH_BINS)
        w2 = np.bincount(sketch, weights=confidence, minlength=2 * SKETCH_BINS)
        self.sketch_count += c2[0::2] + c2[1::2]
        self.sketch_correct += c2[1::2]
        self.sketch_conf += w2[0::2] + w2[1::2]

        cw_p_sum, sum_sq = classwise_p_sums(probs, nb) if classwise is None else classwise
        self.cw_p_sum += cw_p_sum
        p_true = row_pick(probs, labels)
        hit = labels * nb
        hit += _bin_codes(p_true, nb)
        self.cw_hit_sum += np.bincount(hit, minlength=k * nb).reshape(k, nb)

        self.brier_sum += float(sum_sq - 2.0 * p_true.sum() + n)
        self.nll_sum += float(-np.log(np.clip(p_true, NLL_CLIP, 1.0)).sum())
        self.n += n
        return self

    def merge(self, other: "CalibrationAccumulator") -> "CalibrationAccumulator":
        """Add another accumulator's sums into this one (in place) and return self."""
        if other.n_bins != self.n_bins:
            raise ValueError(MSG_MERGE.format(self.n_bins, other.n_bins))
        if other.n_classes is None:
            return self
        if self.n_classes is None:
            self._init_classes(other.n_classes)
        if other.n_classes != self.n_classes:
            raise ValueError(MSG_MERGE.format(self.n_classes, other.n_classes))
        for name in ("cell_count", "cell_sum", "cell_sumsq", "sketch_count", "sketch_conf",
                     "sketch_correct", "cw_p_sum", "cw_hit_sum"):
            getattr(self, name).__iadd__(getattr(other, name))
        self.count = self.cell_count.sum(axis=1)
        self.conf_sum = self.cell_sum.sum(axis=1)
        self.correct_sum = self.cell_count[:, 1].copy()
        self.brier_sum += other.brier_sum
        self.nll_sum += other.nll_sum
        self.n += other.n
        return self

    def result(self, *, n_bootstrap: int = 0, seed: int = 0, adaptive: float | None = None) -> dict:
        """JSON-ready calibration metrics.

        Parameters
        ----------
        n_bootstrap : int, default 0
            Resamples for ``ece_ci`` (None when 0).
        seed : int
            Seed of the bootstrap.
        adaptive : float, optional
            An exact adaptive ECE computed on the whole array; when None the histogram sketch gives it.
        """
        ece, mce = ece_from_bins(self.count, self.conf_sum, self.correct_sum)
        if adaptive is None:
            adaptive = adaptive_ece_from_histogram(
                self.sketch_count, self.sketch_conf, self.sketch_correct, self.n_bins)
        return {
            "ece": ece,
            "ece_ci": ece_bootstrap_interval(self.cell_count, self.cell_sum, self.cell_sumsq,
                                             n_bootstrap=n_bootstrap, seed=seed),
            "mce": mce,
            "classwise_ece": (None if self.n_classes is None else
                              classwise_ece_from_bins(np.full((self.n_classes, 1), self.n),
                                                      self.cw_p_sum, self.cw_hit_sum)),
            "adaptive_ece": adaptive,
            "brier": self.brier_sum / self.n if self.n else None,
            "nll": self.nll_sum / self.n if self.n else None,
            "bins": reliability_bins(self.count, self.conf_sum, self.correct_sum),
        }
