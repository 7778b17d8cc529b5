"""Shared helpers for the predictions-file tests: a tiny valid set and writers of (bad) files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audit.errors import AuditError
from audit.predictions import make_predictions

NAMES = ("cat", "dog", "bird")
PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.25, 0.25, 0.5]])
LABELS = np.array([0, 1, 1, 2])


@pytest.fixture
def pred():
    """Four samples, three classes, sample ids and one group column."""
    return make_predictions(
        LABELS, PROBS, NAMES, sample_ids=["a", "b", "c", "d"], groups={"region": ["n", "s", "n", "s"]}
    )


def write_npz(path: Path, **arrays) -> Path:
    """Write arrays to an .npz under exactly the given keys (pickling allowed, for bad files)."""
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def csv_text(labels=LABELS, probs=PROBS, names=NAMES, extra: dict | None = None) -> str:
    """A CSV in the documented layout, with optional extra columns {name: values}."""
    extra = extra or {}
    header = ["label", *(f"prob_{n}" for n in names), *extra]
    rows = [",".join(header)]
    for i, (y, p) in enumerate(zip(labels, probs)):
        rows.append(",".join([str(y), *(repr(float(v)) for v in p), *(str(v[i]) for v in extra.values())]))
    return "\n".join(rows) + "\n"


def assert_clear(info: pytest.ExceptionInfo, path, *fragments: str) -> None:
    """The error is an AuditError on one line that starts with the file and contains every fragment."""
    assert info.type is AuditError
    text = str(info.value)
    assert text.startswith(f"{path}: "), text
    assert "\n" not in text, text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
