"""Turn the arrays read from any predictions file into validated :class:`Predictions`.

Format readers only find the arrays; the checks live in :func:`audit.predictions.make_predictions`,
plus the two things only a file can get wrong: class names that disagree, labels given as names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from audit.errors import AuditError
from audit.predictions import (  # noqa: F401  (the label messages are re-exported for the tests)
    MSG_LABEL_NAMES_UNKNOWN,
    MSG_LABEL_NOT_A_CLASS,
    MSG_MISSING_LABELS,
    Predictions,
    labels_as_indices,
    make_predictions,
)

MSG_NAMES_DIFFER = "class names {found} differ from the expected {expected}"
MSG_MISSING_IDS = "sample ids have {count} missing value(s), first in row {row}"


@dataclass
class RawArrays:
    """Arrays as a reader found them, before validation; shapes as in :class:`Predictions`."""

    labels: np.ndarray
    probs: np.ndarray
    class_names: tuple[str, ...] | None = None
    sample_ids: np.ndarray | None = None
    groups: dict[str, np.ndarray] = field(default_factory=dict)


def assemble(
    raw: RawArrays, *, source: str, class_names: Sequence[str] | None = None, first_row: int = 0
) -> Predictions:
    """Validate ``raw`` through :func:`make_predictions`; every error names ``source``.

    Parameters
    ----------
    raw : RawArrays
        The arrays a reader found.
    source : str
        The file they came from.
    class_names : sequence of str, optional
        Class names the caller expects; if the file has its own they must be equal.
    first_row : int, default 0
        Row of the file where this chunk starts; errors in a later chunk say where it starts.
    """
    try:
        names = _reconcile_names(raw.class_names, class_names, source)
        labels = labels_as_indices(raw.labels, names, source, first_row)
        sample_ids = raw.sample_ids
        if sample_ids is not None:
            missing = _missing(sample_ids)
            if missing.any():
                raise AuditError(
                    MSG_MISSING_IDS.format(count=int(missing.sum()), row=first_row + int(np.argmax(missing))),
                    path=source,
                )
        return make_predictions(  # the reader's arrays are handed over: no second copy of the probabilities
            labels, raw.probs, names, sample_ids=sample_ids, groups=raw.groups, source=source, copy=False
        )
    except AuditError as exc:
        if first_row == 0 or "(in the chunk" in exc.message:
            raise
        raise AuditError(
            f"{exc.message} (in the chunk starting at data row {first_row}; row numbers above count "
            "from it)",
            path=exc.path,
            hint=exc.hint,
        ) from None


def _reconcile_names(found, expected, source: str) -> tuple[str, ...] | None:
    if expected is not None:
        expected = tuple(str(c) for c in expected)
    if found is not None:
        found = tuple(str(c) for c in found)
    if found is not None and expected is not None and found != expected:
        raise AuditError(MSG_NAMES_DIFFER.format(found=list(found), expected=list(expected)), path=source)
    return found if found is not None else expected


def _missing(values: np.ndarray) -> np.ndarray:
    """True where a value is None, NaN or the empty string."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind in "US":
        return values == values.dtype.type()
    if values.dtype.kind == "O":
        return np.fromiter(
            (v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and v == "") for v in values.ravel()),
            dtype=bool,
            count=values.size,
        ).reshape(values.shape)
    return np.zeros(values.shape, dtype=bool)


def concat_raw(parts: Sequence[Predictions]) -> RawArrays:
    """Concatenate validated chunks (same classes and group columns) back into raw arrays."""
    first = parts[0]
    return RawArrays(
        labels=np.concatenate([p.labels for p in parts]),
        probs=np.concatenate([p.probs for p in parts]),
        class_names=first.class_names,
        sample_ids=None if first.sample_ids is None else np.concatenate([p.sample_ids for p in parts]),
        groups={name: np.concatenate([p.groups[name] for p in parts]) for name in first.groups},
    )
