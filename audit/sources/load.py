"""Load a predictions file of any interchange format, whole or in bounded chunks, one file or many shards."""

from __future__ import annotations

import glob
import zipfile
from pathlib import Path
from typing import Iterator, Sequence

from audit.errors import AuditError
from audit.predictions import MSG_EMPTY, Predictions
from audit.sources import npz, table
from audit.sources.assemble import RawArrays, assemble, concat_raw
from audit.sources.provenance import is_sidecar
from audit.sources.sniff import MSG_EMPTY_FILE, sniff

#: Extension -> format.
EXTENSIONS = {".npz": "npz", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: Format -> the content kind (see :func:`audit.sources.sniff.sniff`) a file of that format has.
EXPECTED_CONTENT = {"npz": "zip", "csv": "text", "parquet": "parquet", "npy-dir": "directory"}
SUPPORTED = ".npz, .csv, .parquet (.pq) or a folder of .npy files"
DEFAULT_CHUNK_ROWS = 1_000_000

MSG_NO_MATCH = "no file matches the pattern"
MSG_WRONG_CONTENT = "named {suffix} but the content is {description}"
MSG_UNSUPPORTED = "unsupported predictions file extension {suffix!r} (the content is {description}); use " + SUPPORTED
MSG_SHARD_GROUPS = "group columns {found} differ from those of the first shard {expected}"


def expand_sources(pattern: str | Path) -> list[Path]:
    """The files a path or glob pattern names, sorted.

    A pattern with ``*``, ``?`` or ``[`` (``**`` recurses) must match at least one path; a plain
    path is returned as it is and checked when it is read. A pattern leaves out the provenance sidecars
    ``audit predict`` writes beside its files (``preds.npz.provenance.json``): ``preds*`` names the
    predictions only.
    """
    text = str(pattern)
    if not glob.has_magic(text):
        return [Path(text)]
    matches = sorted(m for m in glob.glob(text, recursive=True) if not is_sidecar(m))
    if not matches:
        raise AuditError(MSG_NO_MATCH, path=text, hint="quote the pattern so the shell does not expand it")
    return [Path(m) for m in matches]


def has_group_columns(sources: Sequence[str | Path], group_cols: Sequence[str] = ()) -> bool:
    """Whether an audit of ``sources`` will have group columns, told without reading them: columns are named,
    or the first ``.npz`` archive (or ``.npy`` folder) holds ``group_*`` arrays. A cheap guess for
    :func:`audit.prefetch.prefetch`; an unreadable file says False and is reported when it is read."""
    if group_cols:
        return True
    if not sources:
        return False
    first = Path(sources[0])
    try:
        if first.is_dir():
            return any(first.glob(f"{npz.GROUP_PREFIX}*.npy"))
        if first.suffix.lower() == ".npz":
            with zipfile.ZipFile(first) as archive:
                return any(name.startswith(npz.GROUP_PREFIX) for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return False


def detect_format(path: str | Path) -> str:
    """Format of ``path`` — ``"npz"``, ``"csv"``, ``"parquet"`` or ``"npy-dir"`` — checked against its content."""
    path = Path(path)
    content = sniff(path)
    if content.kind == "directory":
        return "npy-dir"
    if content.kind == "empty":
        raise AuditError(MSG_EMPTY_FILE, path=path)
    suffix = path.suffix.lower()
    fmt = EXTENSIONS.get(suffix)
    if fmt is None:
        hint = "put probs.npy, labels.npy, ... in one folder and pass the folder" if content.kind == "npy" else None
        raise AuditError(
            MSG_UNSUPPORTED.format(suffix=suffix or "(none)", description=content.description), path=path, hint=hint
        )
    if content.kind != EXPECTED_CONTENT[fmt]:
        raise AuditError(MSG_WRONG_CONTENT.format(suffix=suffix, description=content.description), path=path)
    return fmt


def load_predictions(
    path: str | Path, *, group_cols: Sequence[str] = (), class_names: Sequence[str] | None = None
) -> Predictions:
    """Load and validate a whole predictions file (or every shard a glob pattern names).

    Parameters
    ----------
    path : str or Path
        An ``.npz``, ``.csv`` or ``.parquet`` file, a folder of ``.npy`` files, or a glob pattern.
    group_cols : sequence of str, default ()
        Group columns to use by name; empty uses every ``group_<name>`` array or column.
    class_names : sequence of str, optional
        Expected class names: used when the file has none, and must equal the file's if it has some.

    Returns
    -------
    Predictions

    Raises
    ------
    AuditError
        For any problem, naming the file and the problem; see ``docs/bad-input.md``.
    """
    sources = expand_sources(path)
    if len(sources) > 1:
        return load_shards(sources, group_cols=group_cols, class_names=class_names)
    source = sources[0]
    ((_, raw),) = _iter_raw(source, detect_format(source), None, group_cols)
    return assemble(raw, source=str(source), class_names=class_names)


def load_shards(
    sources: Sequence[str | Path], *, group_cols: Sequence[str] = (), class_names: Sequence[str] | None = None
) -> Predictions:
    """Load several files with the same classes and group columns as one :class:`Predictions`.

    Sample ids must be unique across all shards.
    """
    if not sources:
        raise AuditError("no predictions files given")
    parts = list(_iter_sources(sources, None, group_cols, class_names))
    if len(parts) == 1:
        return parts[0]
    label = f"{sources[0]} and {len(sources) - 1} other shard(s)"
    return assemble(concat_raw(parts), source=label, class_names=parts[0].class_names)


def iter_prediction_chunks(
    path: str | Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    group_cols: Sequence[str] = (),
    class_names: Sequence[str] | None = None,
) -> Iterator[Predictions]:
    """Yield validated chunks of at most ``chunk_rows`` rows from a file, folder or glob pattern.

    Parquet is read by record batches, CSV with pandas' ``chunksize``, a folder of ``.npy`` files is
    memory-mapped; ``.npz`` is loaded whole and then sliced. Every chunk has the same class names and
    group columns (checked across shards). Sample ids are unique within a chunk; uniqueness across
    chunks is not checked here (it would need memory that grows with N).
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise AuditError(f"chunk_rows must be an integer >= 1; got {chunk_rows!r}")
    yield from _iter_sources(expand_sources(path), chunk_rows, group_cols, class_names)


def _iter_sources(sources, chunk_rows, group_cols, class_names) -> Iterator[Predictions]:
    expected_names = class_names
    expected_groups = None
    for source in sources:
        source = Path(source)
        n_chunks = 0
        for first_row, raw in _iter_raw(source, detect_format(source), chunk_rows, group_cols):
            n_chunks += 1
            pred = assemble(raw, source=str(source), class_names=expected_names, first_row=first_row)
            expected_names = pred.class_names
            if expected_groups is None:
                expected_groups = sorted(pred.groups)
            elif sorted(pred.groups) != expected_groups:
                raise AuditError(
                    MSG_SHARD_GROUPS.format(found=sorted(pred.groups), expected=expected_groups), path=source
                )
            yield pred
        if n_chunks == 0:
            raise AuditError(MSG_EMPTY, path=source)


def _iter_raw(path: Path, fmt: str, chunk_rows: int | None, group_cols) -> Iterator[tuple[int, RawArrays]]:
    """One format's reader: ``(first_row, raw chunk)`` pairs; a single pair when ``chunk_rows`` is None."""
    if fmt == "npz":
        return npz.iter_raw_slices(npz.read_npz(path, group_cols=group_cols), chunk_rows)
    if fmt == "npy-dir":
        def reopen():
            return npz.open_npy_dir(path, group_cols=group_cols)

        return npz.iter_raw_slices(reopen(), chunk_rows, reopen)
    if fmt == "csv":
        layout = table.layout_of(table.read_csv_header(path), group_cols, str(path))
        return table.iter_csv(path, layout, chunk_rows)
    layout = table.layout_of(table.parquet_columns(path), group_cols, str(path))
    return table.iter_parquet(path, layout, chunk_rows)
