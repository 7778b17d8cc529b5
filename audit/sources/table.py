"""The table formats, CSV and Parquet: a ``label`` column and one ``prob_<class name>`` column per class."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from audit.atomic import atomic_path
from audit.errors import AuditError
from audit.predictions import Predictions
from audit.sources.assemble import RawArrays

LABEL_COLUMN = "label"
SAMPLE_ID_COLUMN = "sample_id"
PROB_PREFIX = "prob_"
GROUP_PREFIX = "group_"
#: Spellings of a missing number in a CSV probability or label cell; in text columns only "" is missing.
NUMERIC_NA = ("", "nan", "NaN", "NAN", "-nan", "NA", "N/A", "n/a", "null", "NULL", "None", "#N/A")
#: Suffixes of the table files written.
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")

MSG_MISSING_COLUMN = "missing column {column!r}; columns present: {present}"
MSG_NO_PROB_COLUMNS = "no probability columns (named prob_<class name>); columns present: {present}"
MSG_DUPLICATE_COLUMNS = "duplicate column name(s) {names}"
MSG_UNKNOWN_GROUP = "unknown group column {name!r}; group_* columns: {groups}; other columns: {others}"
MSG_AMBIGUOUS_GROUP = "group column {name!r} is ambiguous: both {name!r} and 'group_{name}' exist"
MSG_NOT_NUMERIC = "column {column!r} must hold numbers; row {row} has {value!r}"
MSG_TABLE_SUFFIX = "cannot write a table with extension {suffix!r}; use .csv or .parquet"


@dataclass(frozen=True)
class Layout:
    """Which columns of a table hold what."""

    prob_columns: tuple[str, ...]
    class_names: tuple[str, ...]
    sample_id: str | None
    groups: dict[str, str]  # group name -> column

    @property
    def columns(self) -> list[str]:
        """The columns to read, each once, in file order of roles."""
        cols = [LABEL_COLUMN, *self.prob_columns]
        if self.sample_id:
            cols.append(self.sample_id)
        cols += self.groups.values()
        return list(dict.fromkeys(cols))


def layout_of(columns: Sequence[str], group_cols: Sequence[str], source: str) -> Layout:
    """Work out the layout from the column names, or raise an :class:`AuditError` naming the problem."""
    columns = [str(c) for c in columns]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise AuditError(MSG_DUPLICATE_COLUMNS.format(names=", ".join(repr(c) for c in dupes)), path=source)
    present = ", ".join(repr(c) for c in columns) or "none"
    if LABEL_COLUMN not in columns:
        raise AuditError(MSG_MISSING_COLUMN.format(column=LABEL_COLUMN, present=present), path=source)
    prob_columns = tuple(c for c in columns if c.startswith(PROB_PREFIX))
    if not prob_columns:
        raise AuditError(MSG_NO_PROB_COLUMNS.format(present=present), path=source)
    class_names = tuple(c[len(PROB_PREFIX):] for c in prob_columns)
    if "" in class_names:
        raise AuditError("column 'prob_' has no class name after the prefix", path=source)
    group_columns = {c[len(GROUP_PREFIX):]: c for c in columns if c.startswith(GROUP_PREFIX) and c != GROUP_PREFIX}
    if not group_cols:
        groups = group_columns
    else:
        groups = {}
        for name in dict.fromkeys(group_cols):
            if name in columns and name in group_columns:
                raise AuditError(MSG_AMBIGUOUS_GROUP.format(name=name), path=source)
            if name in group_columns:
                groups[name] = group_columns[name]
            elif name in columns:
                groups[name] = name
            else:
                roles = {LABEL_COLUMN, SAMPLE_ID_COLUMN, *prob_columns, *group_columns.values()}
                others = [c for c in columns if c not in roles]
                raise AuditError(
                    MSG_UNKNOWN_GROUP.format(
                        name=name,
                        groups=", ".join(group_columns) or "none",
                        others=", ".join(repr(c) for c in others) or "none",
                    ),
                    path=source,
                )
    sample_id = SAMPLE_ID_COLUMN if SAMPLE_ID_COLUMN in columns else None
    return Layout(prob_columns, class_names, sample_id, groups)


def read_csv_header(path: str | Path) -> list[str]:
    """The column names on the first line of a CSV file (UTF-8, an optional byte-order mark)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise AuditError(f"cannot read the CSV header: {exc}", path=path) from None
    if not header:
        raise AuditError("the CSV file has no header line", path=path)
    return header


def iter_csv(path: str | Path, layout: Layout, chunk_rows: int | None) -> Iterator[tuple[int, RawArrays]]:
    """Yield ``(first_row, chunk)`` from a CSV file, ``chunk_rows`` rows at a time (None: whole file).

    Every column is parsed (pandas' ``usecols`` would silently drop the extra fields of a malformed row).
    """
    import pandas as pd

    text_columns = [c for c in (layout.sample_id, *layout.groups.values()) if c]
    na_values = {c: list(NUMERIC_NA) for c in (LABEL_COLUMN, *layout.prob_columns)}
    na_values.update({c: [""] for c in text_columns})
    try:
        reader = pd.read_csv(
            path,
            dtype={c: str for c in text_columns},
            keep_default_na=False,
            na_values=na_values,
            encoding="utf-8-sig",
            chunksize=chunk_rows,
        )
        frames = reader if chunk_rows else [reader]
        start = 0
        for frame in frames:
            yield start, frame_to_raw(frame, layout, str(path), start)
            start += len(frame)
    except AuditError:
        raise
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        raise AuditError(f"cannot read as CSV: {_reason(exc)}", path=path) from None


def parquet_columns(path: str | Path) -> list[str]:
    """The column names in a Parquet file's schema."""
    import pyarrow.parquet as pq

    with _parquet_errors(path):
        return list(pq.ParquetFile(path).schema_arrow.names)


def iter_parquet(path: str | Path, layout: Layout, chunk_rows: int | None) -> Iterator[tuple[int, RawArrays]]:
    """Yield ``(first_row, chunk)`` from a Parquet file by record batches (None: whole file)."""
    import pyarrow.parquet as pq

    with _parquet_errors(path):
        if chunk_rows is None:
            frames = [pq.read_table(path, columns=layout.columns).to_pandas()]
        else:
            # pre_buffer=False: pre-buffering keeps every row group read so far (memory grows with N)
            pf = pq.ParquetFile(path, pre_buffer=False)
            frames = (b.to_pandas() for b in pf.iter_batches(batch_size=chunk_rows, columns=layout.columns))
        start = 0
        for frame in frames:
            if len(frame) == 0 and chunk_rows is not None:
                continue
            yield start, frame_to_raw(frame, layout, str(path), start)
            start += len(frame)


def frame_to_raw(frame: "pd.DataFrame", layout: Layout, source: str, first_row: int = 0) -> RawArrays:
    """Pick the arrays out of one data frame laid out as ``layout``."""
    import pandas as pd

    for column in layout.prob_columns:
        series = frame[column]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            numbers = pd.to_numeric(series, errors="coerce")
            bad = numbers.isna() & series.notna()
            if bad.any():
                row = int(np.argmax(bad.to_numpy()))
                raise AuditError(
                    MSG_NOT_NUMERIC.format(column=column, row=first_row + row, value=series.iloc[row]),
                    path=source,
                )
            if pd.api.types.is_bool_dtype(series):
                raise AuditError(f"column {column!r} must hold numbers; it holds true/false values", path=source)
    probs = frame[list(layout.prob_columns)].to_numpy(dtype=np.float64, na_value=np.nan)
    return RawArrays(
        labels=_column_values(frame[LABEL_COLUMN]),
        probs=probs,
        class_names=layout.class_names,
        sample_ids=None if layout.sample_id is None else _column_values(frame[layout.sample_id]),
        groups={name: _column_values(frame[column]) for name, column in layout.groups.items()},
    )


def save_table(path: str | Path, pred: Predictions, *, row_group_size: int | None = None) -> Path:
    """Write ``pred`` as a CSV (``.csv``) or Parquet (``.parquet``/``.pq``) table, atomically.

    Columns: ``sample_id`` (if any), ``label`` (class index), ``prob_<class name>`` per class, then
    ``group_<name>`` per group column. ``row_group_size`` applies to Parquet only.
    """
    suffix = table_suffix(path)  # before anything is created
    with atomic_path(path) as tmp:
        write_table(tmp, pred, suffix=suffix, row_group_size=row_group_size)
    return Path(path)


def table_suffix(path: str | Path, suffix: str | None = None) -> str:
    """The lower-case suffix (``.csv``, ``.parquet`` or ``.pq``) of a table file to write: ``path``'s, or
    ``suffix`` where ``path`` is a temporary name."""
    suffix = (Path(path).suffix if suffix is None else suffix).lower()
    if suffix not in TABLE_SUFFIXES:
        raise AuditError(MSG_TABLE_SUFFIX.format(suffix=suffix), path=path)
    return suffix


def write_table(file: str | Path, pred: Predictions, *, suffix: str, row_group_size: int | None = None) -> None:
    """Write ``pred`` to ``file`` as it is named, as the table format of ``suffix`` (not atomically: see
    :func:`save_table`)."""
    import pandas as pd

    suffix = table_suffix(file, suffix)
    data: dict[str, np.ndarray] = {}
    if pred.sample_ids is not None:
        data[SAMPLE_ID_COLUMN] = np.asarray(pred.sample_ids, dtype=str)
    data[LABEL_COLUMN] = np.asarray(pred.labels, dtype=np.int64)
    for k, name in enumerate(pred.class_names):
        data[PROB_PREFIX + name] = np.asarray(pred.probs[:, k], dtype=np.float64)
    for name, values in pred.groups.items():
        data[GROUP_PREFIX + name] = np.asarray(values, dtype=str)
    frame = pd.DataFrame(data)
    if suffix == ".csv":
        frame.to_csv(file, index=False, lineterminator="\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), file, row_group_size=row_group_size)


def _column_values(series: "pd.Series") -> np.ndarray:
    """A column as numpy: numbers keep their dtype; text, categories and nullable types become objects."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_extension_array_dtype(series):
        return series.to_numpy()
    if pd.api.types.is_integer_dtype(series) and not series.isna().any():
        return series.to_numpy(dtype=np.int64)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    return series.to_numpy(dtype=object)


class _parquet_errors:
    """Turn pyarrow's errors on a damaged or foreign file into one AuditError."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        import pyarrow as pa

        if exc is not None and not isinstance(exc, AuditError) and isinstance(exc, (pa.ArrowException, OSError, ValueError)):
            raise AuditError(f"cannot read as Parquet: {_reason(exc)}", path=self.path) from None
        return False


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
