"""Confusion counts: a mergeable accumulator over (true, predicted) pairs, and the largest confusions."""

from __future__ import annotations

import numpy as np

#: How many off-diagonal cells the result lists as the largest confusions.
TOP_CONFUSIONS = 10

MSG_CLASSES = "n_classes must be an int >= 2; got {!r}"
MSG_MERGE = "cannot merge accumulators over different class counts: {} and {}"
MSG_SHAPE = "labels ({}) and predictions ({}) disagree on the number of samples"


def row_pick(probs: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``probs[i, columns[i]]`` for every row i, shape (n_samples,); a flat ``take`` when ``probs``
    is C-contiguous (about 3× faster than the 2-D fancy index)."""
    n, k = probs.shape
    if probs.flags.c_contiguous:
        flat = np.arange(0, n * k, k, dtype=np.intp)
        flat += columns
        return probs.reshape(-1).take(flat)
    return probs[np.arange(n), columns]


def top_label(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class and its confidence; ties in the arg-max go to the lowest class index.

    Parameters
    ----------
    probs : ndarray of shape (n_samples, n_classes)

    Returns
    -------
    predicted : ndarray of int64, shape (n_samples,)
    confidence : ndarray of float64, shape (n_samples,)
    """
    predicted = probs.argmax(axis=1)
    return predicted, np.asarray(row_pick(probs, predicted), dtype=np.float64)


def confusion_counts(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """K×K confusion counts, rows = true class, columns = predicted class.

    Parameters
    ----------
    labels, predicted : ndarray of int of shape (n_samples,), values in ``[0, n_classes)``
    n_classes : int

    Returns
    -------
    ndarray of int64, shape (n_classes, n_classes)
    """
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    if labels.shape != predicted.shape:
        raise ValueError(MSG_SHAPE.format(labels.shape, predicted.shape))
    flat = np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes).astype(np.int64, copy=False)


def top_confusions(counts: np.ndarray, k: int = TOP_CONFUSIONS) -> list[tuple[int, int, int]]:
    """The ``k`` largest non-zero off-diagonal cells of a confusion matrix.

    Ordered by count (descending), then true class (row), then predicted class (column), ascending.

    Returns
    -------
    list of (true, predicted, count)
    """
    counts = np.asarray(counts)
    n = counts.shape[0]
    rows, cols = np.nonzero(counts * (1 - np.eye(n, dtype=counts.dtype)))
    values = counts[rows, cols]
    order = np.lexsort((cols, rows, -values))[:k]
    return [(int(rows[i]), int(cols[i]), int(values[i])) for i in order]


class ConfusionAccumulator:
    """Confusion counts plus the summed top-label confidence of each true class, mergeable.

    Parameters
    ----------
    n_classes : int
        Number of classes K (>= 2).

    Attributes
    ----------
    counts : ndarray of int64, shape (K, K)
        Rows = true class, columns = predicted class.
    confidence_sum : ndarray of float64, shape (K,)
        Sum of top-label confidence over samples of each TRUE class (only when probabilities were given).
    has_confidence : bool
        False once any update gave predicted classes without probabilities.
    """

    def __init__(self, n_classes: int):
        if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise ValueError(MSG_CLASSES.format(n_classes))
        self.n_classes = int(n_classes)
        self.counts = np.zeros((self.n_classes, self.n_classes), dtype=np.int64)
        self.confidence_sum = np.zeros(self.n_classes, dtype=np.float64)
        self.has_confidence = True

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def update(self, labels, scores, *, predicted=None, confidence=None,
               pairs=None) -> "ConfusionAccumulator":
        """Add one chunk.

        Parameters
        ----------
        labels : ndarray of int, shape (n,)
        scores : ndarray of shape (n, K) (probabilities) or (n,) (predicted classes)
        predicted, confidence : ndarray of shape (n,), optional
            Precomputed :func:`top_label` of ``scores`` (saves a pass over the probabilities).
        pairs : ndarray of int, shape (n,), optional
            Precomputed ``labels · K + predicted``.
        """
        labels = np.asarray(labels, dtype=np.int64)
        scores = np.asarray(scores)
        if scores.ndim == 2:
            if predicted is None or confidence is None:
                predicted, confidence = top_label(scores)
            self.confidence_sum += np.bincount(labels, weights=confidence, minlength=self.n_classes)
        else:
            predicted = scores
            self.has_confidence = False
        if pairs is None:
            self.counts += confusion_counts(labels, predicted, self.n_classes)
        else:
            k = self.n_classes
            self.counts += np.bincount(pairs, minlength=k * k).reshape(k, k)
        return self

    def merge(self, other: "ConfusionAccumulator") -> "ConfusionAccumulator":
        """Add another accumulator's counts into this one (in place) and return self."""
        if other.n_classes != self.n_classes:
            raise ValueError(MSG_MERGE.format(self.n_classes, other.n_classes))
        self.counts += other.counts
        self.confidence_sum += other.confidence_sum
        self.has_confidence = self.has_confidence and other.has_confidence
        return self
