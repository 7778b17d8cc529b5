"""Per-image metadata (site, camera, consented annotations...) matched to an image set as group columns."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from audit.errors import AuditError
from audit.model.images import ImageSet, normalise_relative, read_text_table

#: Group value given to images without a metadata row when gaps are allowed.
NO_ROW = "(no metadata row)"
HINT_GAPS = "fix the file, or pass --allow-metadata-gaps to count and report them instead"

MSG_NO_PATH = "a metadata file needs a 'path' column (relative to the data folder); columns present: {present}"
MSG_NO_ATTRIBUTES = "the metadata file has no attribute column besides 'path'"
MSG_UNKNOWN_COLUMN = "unknown metadata column {name!r}; attribute columns: {available}"
MSG_WITHOUT_ROW = "{n} image(s) have no metadata row, first: {first}"
MSG_DUPLICATES = "{n} image path(s) have more than one metadata row, first: {first}"
MSG_NO_IMAGE = "{n} metadata row(s) name images that are not in the data, first: {first}"


def load_metadata(path: str | Path, image_set: ImageSet, *, group_cols: Sequence[str] = (),
                  allow_gaps: bool = False) -> tuple[dict[str, np.ndarray], dict]:
    """Group columns for ``image_set`` from a CSV (or Parquet) file with a ``path`` column.

    Parameters
    ----------
    path : path
        One row per image: ``path`` relative to the data folder (``cat/0001.png``), and one column
        per attribute. Values are read as text; an empty cell is missing (refused later, as in
        predictions files).
    image_set : ImageSet
    group_cols : sequence of str
        Attribute columns to use; empty uses them all.
    allow_gaps : bool, default False
        Count images without a row (group value ``NO_ROW``), duplicate rows (first kept) and rows
        naming absent images (ignored) instead of refusing the file.

    Returns
    -------
    (groups, report)
        ``groups``: name -> ndarray of str, shape (n_images,), in image order. ``report``: the file,
        the columns used and the counts of each kind of gap.
    """
    path = Path(path)
    frame = read_text_table(path)
    if "path" not in frame.columns:
        present = ", ".join(repr(c) for c in frame.columns) or "none"
        raise AuditError(MSG_NO_PATH.format(present=present), path=path)
    available = [c for c in frame.columns if c != "path"]
    if not available:
        raise AuditError(MSG_NO_ATTRIBUTES, path=path)
    selected = list(dict.fromkeys(group_cols)) or available
    for name in selected:
        if name not in available:
            raise AuditError(MSG_UNKNOWN_COLUMN.format(name=name, available=", ".join(available)), path=path)

    root = image_set.root
    rel = [normalise_relative(v, row, path, root) for row, v in enumerate(frame["path"])]
    counts = Counter(rel)
    duplicates = [p for p, c in counts.items() if c > 1]
    known = set(image_set.paths)
    no_image = [p for p in dict.fromkeys(rel) if p not in known]
    row_of: dict[str, int] = {}
    for row, p in enumerate(rel):
        row_of.setdefault(p, row)
    without = [p for p in image_set.paths if p not in row_of]
    problems = [(duplicates, MSG_DUPLICATES), (no_image, MSG_NO_IMAGE), (without, MSG_WITHOUT_ROW)]
    if not allow_gaps:
        for items, message in problems:
            if items:
                raise AuditError(message.format(n=len(items), first=", ".join(items[:5])), path=path, hint=HINT_GAPS)

    rows = np.array([row_of.get(p, -1) for p in image_set.paths])
    groups = {}
    for name in selected:
        values = np.asarray(frame[name].to_numpy(dtype=str), dtype=object)
        column = np.where(rows >= 0, values[np.maximum(rows, 0)] if len(values) else NO_ROW, NO_ROW)
        groups[str(name)] = column.astype(str)
    report = {"file": str(path), "columns": selected, "rows": int(len(frame)),
              "images_without_row": len(without), "duplicate_rows": int(sum(counts[p] - 1 for p in duplicates)),
              "rows_without_image": len(no_image), "gaps_allowed": bool(allow_gaps)}
    return groups, report
