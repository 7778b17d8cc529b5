"""Predictions: the seam between any model and the audit, and the one place that validates it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from audit.errors import AuditError, check_keywords

#: Rows of ``probs`` must sum to 1 within this absolute tolerance.
ROW_SUM_TOLERANCE = 1e-3
#: Probabilities may stray this far outside [0, 1] (float rounding) before they are rejected.
RANGE_TOLERANCE = 1e-6

MSG_EMPTY = "no predictions (N = 0); an audit needs at least one sample"
MSG_LOGITS = (
    "values look like logits, not probabilities (rows do not sum to 1 and some values lie outside "
    "[0, 1]); apply softmax before auditing"
)
MSG_LABEL_NOT_A_CLASS = "label {value!r} in row {row} is not a class name; class names: {names}"
MSG_LABEL_NAMES_UNKNOWN = "labels are class names but the file gives no class names"
MSG_MISSING_LABELS = "labels have {count} missing value(s), first in row {row}"
MSG_LABELS_NEED_NAMES = ("labels must be integers, or class names together with class_names; got text labels "
                         "such as {value!r} and no class_names")
MSG_LABEL_NOT_A_COLUMN = ("label {value!r} in row {row} names no column of the probabilities DataFrame; its columns are "
                          "integers ({columns}), so integer labels are read as column names, not positions")
MSG_PROB_COLUMNS = "class_names {given} differ from the probability columns {columns}"
MSG_GROUPS_TYPE = "groups must be a mapping of column name to values, or a DataFrame; got {kind}"


@dataclass(frozen=True)
class Predictions:
    """True labels and predicted class probabilities of one model on one evaluation set.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
        True class index of each sample, integers in ``[0, n_classes)``.
    probs : ndarray of shape (n_samples, n_classes)
        Predicted probability of each class; each row sums to 1 within ``ROW_SUM_TOLERANCE``.
    class_names : tuple of str, length n_classes
        Distinct class names, in the column order of ``probs``.
    sample_ids : ndarray of shape (n_samples,), optional
        Unique identifiers (strings), used to match samples against a baseline.
    groups : mapping of str to ndarray of shape (n_samples,)
        Group columns (sensitive features or slices), values as strings.
    images : ndarray of shape (n_samples, height, width, channels), optional
        The images (uint8) where they are at hand: used for image-property slices and the gallery.

    Use :func:`make_predictions` to build one: it converts and validates the inputs.
    """

    labels: np.ndarray
    probs: np.ndarray
    class_names: tuple[str, ...]
    sample_ids: np.ndarray | None = None
    groups: Mapping[str, np.ndarray] = field(default_factory=dict)
    images: np.ndarray | None = None

    def __repr__(self) -> str:
        names = ", ".join(self.class_names[:6]) + (", …" if self.n_classes > 6 else "")
        extra = [f"groups {sorted(self.groups)}"] if self.groups else []
        if self.sample_ids is not None:
            extra.append("sample ids")
        if self.images is not None:
            extra.append(f"images {'×'.join(map(str, self.images.shape[1:]))}")
        return (f"<Predictions: N = {self.n_samples}, {self.n_classes} classes ({names})"
                + "".join(f"; {e}" for e in extra) + ">")

    @property
    def n_samples(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.probs.shape[1])

    @property
    def predicted(self) -> np.ndarray:
        """Arg-max class; ties go to the lowest class index (numpy's ``argmax`` rule)."""
        return self.probs.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        """Top-label confidence, the largest probability of each row."""
        return self.probs.max(axis=1)


@check_keywords
def make_predictions(
    labels,
    probs,
    class_names=None,
    *,
    sample_ids=None,
    groups: Mapping[str, object] | None = None,
    images=None,
    source: str | None = None,
    copy: bool = True,
) -> Predictions:
    """Validate and convert raw arrays into :class:`Predictions`.

    ``probs`` is an array of shape (N, K) or a DataFrame whose column names are the class names;
    ``labels`` are class indices or class names (with a DataFrame whose column names are integers other than
    0..K-1, such as sklearn's ``columns=clf.classes_`` with classes 1, 2, 3, integer labels are those names,
    and one that names no column is refused); ``groups`` a mapping of column name to values or a
    DataFrame (one group column per column). ``source`` names the file the arrays came from; every error
    names it. Raises :class:`~audit.errors.AuditError` with one clear message for any invalid input.
    The probabilities are copied when they are clipped to [0, 1], unless ``copy`` is False: then a float64 array
    that owns its memory is clipped in place and text group columns are kept as given (a file reader hands over
    the arrays it just made, and no second copy of N × K floats is touched).
    """

    def fail(message: str, hint: str | None = None):
        raise AuditError(message, path=source, hint=hint)

    column_labels = None  # integer column names (sklearn's columns=clf.classes_): integer labels name them
    if _is_frame(probs):
        column_labels = _integer_columns(probs.columns)
        columns = tuple(str(c) for c in probs.columns)
        if class_names is not None and tuple(str(c) for c in np.asarray(class_names, dtype=object)) != columns:
            fail(MSG_PROB_COLUMNS.format(given=list(map(str, class_names)), columns=list(columns)))
        class_names, probs = columns, _frame_numbers(probs)
    probs = np.asarray(probs)
    if probs.ndim != 2:
        fail(f"probabilities must be a 2-D array (n_samples, n_classes); got shape {probs.shape}")
    if not (np.issubdtype(probs.dtype, np.floating) or np.issubdtype(probs.dtype, np.integer)):
        fail(f"probabilities must be numbers; got dtype {probs.dtype}")
    n, k = probs.shape
    if n == 0:
        fail(MSG_EMPTY)
    if k < 2:
        fail(f"need at least 2 classes; got {k} probability column(s)")
    owned = probs.dtype != np.float64 or (not copy and probs.flags.owndata and probs.flags.writeable)
    probs = probs.astype(np.float64, copy=False)
    problem = _probability_problem(probs)
    if problem:
        fail(problem)
    probs = np.clip(probs, 0.0, 1.0, out=probs if owned else None)

    names_given = class_names is not None
    if class_names is None:
        class_names = tuple(f"class_{i}" for i in range(k))
    else:
        names = np.asarray(class_names, dtype=object)
        if names.ndim != 1:
            fail(f"class names must be a 1-D list; got shape {names.shape}")
        class_names = tuple(str(c) for c in names)
        if any(not c.strip() for c in class_names):
            fail("class names must not be empty")
        if len(class_names) != k:
            fail(f"{len(class_names)} class names for {k} probability columns")
        if len(set(class_names)) != k:
            dupes = sorted({c for c in class_names if class_names.count(c) > 1})
            fail(f"class names must be distinct; repeated: {', '.join(dupes)}")

    if _is_frame(labels):
        if len(labels.columns) != 1:
            fail(f"labels must be one column; got a DataFrame with columns {list(labels.columns)}")
        labels = labels.iloc[:, 0]
    labels = np.asarray(labels)
    if not names_given and labels.dtype.kind in "OUS" and labels.size and isinstance(labels.ravel()[0], str):
        fail(MSG_LABELS_NEED_NAMES.format(value=str(labels.ravel()[0])))
    if column_labels is not None:
        labels = _labels_by_column(labels, column_labels, source)
    labels = labels_as_indices(labels, class_names, source)
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        fail(f"labels must be a 1-D array; got shape {labels.shape}")
    if labels.shape[0] != n:
        fail(f"labels and probabilities disagree on N: {labels.shape[0]} labels, {n} probability rows")
    if np.issubdtype(labels.dtype, np.floating):
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            fail("labels must be integers; got non-integer values")
    elif not np.issubdtype(labels.dtype, np.integer):
        fail(f"labels must be integers; got dtype {labels.dtype}")
    out = (labels < 0) | (labels >= k)  # checked before the int64 cast, so huge values cannot wrap
    if out.any():
        badv = labels[out][0]
        fail(f"labels must lie in [0, {k - 1}] (one per probability column); got {badv.item()!r}")
    labels = labels.astype(np.int64, copy=False)

    if sample_ids is not None:
        sample_ids = np.asarray(sample_ids)
        if sample_ids.shape == (n,) and _missing_mask(sample_ids).any():
            fail(f"sample ids must not be missing; row {int(np.argmax(_missing_mask(sample_ids)))} has none")
        sample_ids = sample_ids.astype(str)
        if sample_ids.shape != (n,):
            fail(f"sample_ids must have shape ({n},); got {sample_ids.shape}")
        uniq, counts = np.unique(sample_ids, return_counts=True)
        if (counts > 1).any():
            fail(f"sample ids must be unique; {str(uniq[counts > 1][0])!r} appears {int(counts.max())} times")

    if _is_frame(groups):
        groups = {column: groups[column].to_numpy() for column in groups.columns}
    elif groups is not None and not isinstance(groups, Mapping):
        fail(MSG_GROUPS_TYPE.format(kind=type(groups).__name__))
    clean_groups: dict[str, np.ndarray] = {}
    for name, values in (groups or {}).items():
        values = np.asarray(values)
        if values.shape != (n,):
            fail(f"group column {name!r} must have shape ({n},); got {values.shape}")
        missing = _missing_mask(values)
        if missing.any():
            fail(
                f"group column {name!r} has {int(missing.sum())} missing value(s), first in row "
                f"{int(np.argmax(missing))}",
                hint="fill them with an explicit value such as 'unknown'",
            )
        clean_groups[str(name)] = values.astype(str, copy=copy)

    if images is not None:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[0] != n:
            fail(f"images must have shape (N={n}, height, width, channels); got {images.shape}")

    return Predictions(
        labels=labels,
        probs=probs,
        class_names=class_names,
        sample_ids=sample_ids,
        groups=clean_groups,
        images=images,
    )


def labels_as_indices(labels, names, source: str | None, first_row: int = 0):
    """Map labels given as class-name strings to class indices (``names``: the class names, None when
    none were given); numbers pass through, missing labels are refused."""
    labels = np.asarray(labels)
    if labels.dtype.kind in "fO" and labels.ndim == 1:
        missing = _missing_mask(labels)
        if missing.any():
            raise AuditError(
                MSG_MISSING_LABELS.format(count=int(missing.sum()), row=first_row + int(np.argmax(missing))),
                path=source,
            )
    labels = _integer_objects(labels)
    if labels.dtype.kind not in "OUS":
        return labels
    if names is None:
        raise AuditError(MSG_LABEL_NAMES_UNKNOWN, path=source, hint="store class_names, or give integer labels")
    flat = (labels.astype(str) if labels.dtype.kind == "S" else labels).ravel()
    out, row = _positions(flat, names, str)
    if row is not None:
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        raise AuditError(
            MSG_LABEL_NOT_A_CLASS.format(value=str(flat[row]), row=first_row + row, names=shown),
            path=source,
            hint="labels are integer class indices or exactly one of the class names",
        )
    return out.reshape(labels.shape)


def _integer_objects(labels: np.ndarray) -> np.ndarray:
    """An object array holding only integers (Python's or numpy's, not bools) as int64; anything else as given."""
    if labels.dtype.kind == "O" and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                        for v in labels.ravel()):
        return labels.astype(np.int64)
    return labels


def _positions(flat: np.ndarray, names, key) -> tuple[np.ndarray, int | None]:
    """The position in ``names`` of each of ``flat``'s values (compared as ``key(value)``), and the row of the
    first value that names none (None when every one does). Each distinct value is looked up once: pandas
    factorises the rows (hashed), not a Python loop over them."""
    import pandas as pd

    codes, uniques = pd.factorize(flat, use_na_sentinel=False)  # a missing value is a value, never code -1
    index = {name: i for i, name in enumerate(names)}
    out = np.array([index.get(key(value), -1) for value in uniques], dtype=np.int64)[codes]
    unknown = np.flatnonzero(out < 0)
    return out, (int(unknown[0]) if unknown.size else None)


def _integer_columns(columns) -> list[int] | None:
    """The column names of a probabilities DataFrame as integers when every one is an integer (or its text,
    ``"3"``) and they are not simply the positions 0..K-1; None otherwise (integer labels are then
    positions)."""
    import numbers

    values = []
    for c in columns:
        if isinstance(c, numbers.Integral) and not isinstance(c, bool):
            values.append(int(c))
        elif isinstance(c, str) and re.fullmatch(r"[+-]?\d+", c.strip()):
            values.append(int(c.strip()))
        else:
            return None
    return None if values == list(range(len(values))) else values


def _labels_by_column(labels: np.ndarray, columns: list[int], source: str | None) -> np.ndarray:
    """Integer labels read as the integer column names of the probabilities DataFrame (their positions);
    a label that names no column is refused with its row, never shifted to a neighbouring column."""
    labels = _integer_objects(labels)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            return labels  # the checks that follow name the problem
    elif labels.dtype.kind not in "iu":
        return labels  # class names (text) are matched by labels_as_indices
    flat = labels.ravel()
    out, row = _positions(flat, columns, int)
    if row is not None:
        raise AuditError(MSG_LABEL_NOT_A_COLUMN.format(value=flat[row].item(), row=row,
                                                       columns=", ".join(map(str, columns))), path=source)
    return out.reshape(labels.shape)


def _frame_numbers(frame):
    """A DataFrame's values as an array: float64 where every column is numeric (nullable ``Float64`` and Arrow
    floats included; a missing value becomes NaN, which the checks then name), else as pandas gives them."""
    import pandas as pd

    if all(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) for dtype in frame.dtypes):
        return frame.to_numpy(dtype=np.float64, na_value=np.nan)
    return frame.to_numpy()


def _is_frame(value) -> bool:
    """A pandas DataFrame (recognised without importing pandas)."""
    return hasattr(value, "columns") and hasattr(value, "to_numpy") and getattr(value, "ndim", 0) == 2


#: Rows checked at once by :func:`_probability_problem` (its masks stay small whatever N).
CHECK_ROWS = 1 << 16


def _probability_problem(probs: np.ndarray) -> str | None:
    """What is wrong with float64 probabilities (N, K), or None: NaN or infinity, values outside [0, 1] (beyond
    ``RANGE_TOLERANCE``), rows not summing to 1 (beyond ``ROW_SUM_TOLERANCE``), or logits (both). Checked block by
    block of rows; the counts and first rows are those of the whole array."""
    n = probs.shape[0]
    bad = out = off = 0
    first_bad = first_out = first_off = None
    for start in range(0, n, CHECK_ROWS):
        block = probs[start:start + CHECK_ROWS]
        nonfinite = ~np.isfinite(block)
        if nonfinite.any():
            bad += int(nonfinite.sum())
            first_bad = first_bad if first_bad is not None else start + int(np.argwhere(nonfinite)[0][0])
            continue
        outside = (block < -RANGE_TOLERANCE) | (block > 1 + RANGE_TOLERANCE)
        if outside.any():
            out += 1
            if first_out is None:
                row = int(np.argwhere(outside)[0][0])
                first_out = (start + row, float(block[row][outside[row]][0]))
        sums = block.sum(axis=1)
        not_one = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
        if not_one.any():
            off += int(not_one.sum())
            if first_off is None:
                row = int(np.argmax(not_one))
                first_off = (start + row, float(sums[row]))
    if bad:
        return f"probabilities contain NaN or infinity ({bad} value(s), first in row {first_bad})"
    if off and out:
        return MSG_LOGITS
    if out:
        return f"probabilities must lie in [0, 1]; row {first_out[0]} has {first_out[1]!r}"
    if off:
        return (f"probability rows must sum to 1 (tolerance {ROW_SUM_TOLERANCE}); {off} row(s) do not, first row "
                f"{first_off[0]} sums to {first_off[1]:.6g}")
    return None


def _missing_mask(values: np.ndarray) -> np.ndarray:
    if np.issubdtype(values.dtype, np.floating):
        return np.isnan(values)
    if values.dtype == object:
        return np.array([v is None or (isinstance(v, float) and v != v) or v == "" for v in values])
    if values.dtype.kind in "US":
        return values == ""
    return np.zeros(values.shape, dtype=bool)
