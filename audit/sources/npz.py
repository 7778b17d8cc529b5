"""The NumPy interchange formats: one ``.npz`` file, or a folder of ``.npy`` files (memory-mapped)."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from audit.atomic import atomic_path
from audit.errors import AuditError
from audit.predictions import Predictions
from audit.sources.assemble import RawArrays

REQUIRED_KEYS = ("probs", "labels")
OPTIONAL_KEYS = ("class_names", "sample_ids")
GROUP_PREFIX = "group_"
VALID_KEYS = "probs, labels, class_names, sample_ids, group_<name>"

MSG_PICKLED = (
    "array {key!r} holds Python objects (a pickled array); pickled arrays are refused because loading "
    "them can run arbitrary code"
)
HINT_PICKLED = "store strings as a fixed-width text array: np.asarray(values, dtype=str)"
MSG_MISSING_KEY = "missing key {key!r}; keys present: {present}"
MSG_UNKNOWN_KEYS = "unknown key(s) {keys}; valid keys: " + VALID_KEYS
MSG_UNKNOWN_GROUP = "unknown group column {name!r}; available group columns: {available}"
MSG_NOT_NPZ = "a ZIP archive but not a NumPy .npz: member {member!r} is not a .npy array{extra}"

#: Errors numpy and zipfile raise on damaged archives and arrays.
READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, RuntimeError)


def read_npz(path: str | Path, *, group_cols: Sequence[str] = ()) -> RawArrays:
    """Read a whole ``.npz`` file (loaded into memory: ``.npz`` cannot be memory-mapped).

    ``group_cols`` selects ``group_<name>`` arrays by name; empty selects them all.
    """
    source = str(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            for member in npz.zip.namelist():
                if not member.endswith(".npy"):
                    extra = " (it looks like a Keras model archive)" if member == "config.json" else ""
                    raise AuditError(MSG_NOT_NPZ.format(member=member, extra=extra), path=source)
            keys = list(npz.files)
            wanted = _wanted_keys(keys, group_cols, source)
            arrays = {key: _load_key(npz, key, source) for key in wanted}
    except AuditError:
        raise
    except READ_ERRORS as exc:
        raise AuditError(f"cannot read as a NumPy .npz file: {_reason(exc)}", path=source) from None
    return _raw_from(arrays, wanted, source)


def open_npy_dir(path: str | Path, *, group_cols: Sequence[str] = ()) -> RawArrays:
    """Memory-map a folder of ``.npy`` files named like the ``.npz`` keys (``probs.npy``, ...).

    Files that do not end in ``.npy`` are ignored; an unknown ``.npy`` name is an error.
    """
    folder = Path(path)
    source = str(folder)
    files = {p.name[: -len(".npy")]: p for p in sorted(folder.glob("*.npy"))}
    if not files:
        raise AuditError(
            "a folder without .npy files; a predictions folder holds probs.npy, labels.npy, ...",
            path=source,
        )
    wanted = _wanted_keys(list(files), group_cols, source)
    arrays = {}
    for key in wanted:
        try:
            arrays[key] = np.load(files[key], mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            if "object" in str(exc).lower() or "pickle" in str(exc).lower():
                raise AuditError(MSG_PICKLED.format(key=key), path=files[key], hint=HINT_PICKLED) from None
            raise AuditError(f"cannot read as a NumPy .npy file: {_reason(exc)}", path=files[key]) from None
        except READ_ERRORS as exc:
            raise AuditError(f"cannot read as a NumPy .npy file: {_reason(exc)}", path=files[key]) from None
    return _raw_from(arrays, wanted, source)


def iter_raw_slices(
    raw: RawArrays, chunk_rows: int | None, reopen: Callable[[], RawArrays] | None = None
) -> Iterator[tuple[int, RawArrays]]:
    """Yield ``(first_row, chunk)`` slices of ``raw`` of at most ``chunk_rows`` rows.

    Arrays whose lengths disagree (or N = 0) are yielded whole, so that validation reports them.
    With ``reopen`` (memory-mapped arrays), each chunk is copied out of freshly opened maps that are
    dropped at once, so the pages read do not stay in the resident set: memory stays bounded by the
    chunk size whatever N is.
    """
    n = raw.probs.shape[0] if raw.probs.ndim >= 1 else 0
    lengths = [raw.labels.shape[0] if raw.labels.ndim >= 1 else -1]
    if raw.sample_ids is not None:
        lengths.append(raw.sample_ids.shape[0] if raw.sample_ids.ndim >= 1 else -1)
    lengths += [g.shape[0] if g.ndim >= 1 else -1 for g in raw.groups.values()]
    if chunk_rows is None or n == 0 or raw.probs.ndim != 2 or any(length != n for length in lengths):
        yield 0, raw
        return
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        src = raw if reopen is None else reopen()
        take = (lambda a: a[start:stop]) if reopen is None else (lambda a: np.array(a[start:stop]))
        chunk = RawArrays(
            labels=take(src.labels),
            probs=take(src.probs),
            class_names=raw.class_names,
            sample_ids=None if src.sample_ids is None else take(src.sample_ids),
            groups={name: take(values) for name, values in src.groups.items()},
        )
        del src
        yield start, chunk


def save_npz(path: str | Path, pred: Predictions) -> Path:
    """Write ``pred`` as an ``.npz`` in the interchange format, atomically; return the path.

    Text (class names, sample ids, group values) is stored as fixed-width unicode arrays, so the
    file loads with ``allow_pickle=False``.
    """
    with atomic_path(path) as tmp:
        write_npz(tmp, pred)
    return Path(path)


def write_npz(file: str | Path, pred: Predictions) -> None:
    """Write ``pred`` as an ``.npz`` to ``file`` as it is named (not atomically: see :func:`save_npz`)."""
    arrays = {
        "probs": np.asarray(pred.probs),
        "labels": np.asarray(pred.labels),
        "class_names": np.asarray(pred.class_names, dtype=str),
    }
    if pred.sample_ids is not None:
        arrays["sample_ids"] = np.asarray(pred.sample_ids, dtype=str)
    for name, values in pred.groups.items():
        arrays[GROUP_PREFIX + name] = np.asarray(values, dtype=str)
    with open(file, "wb") as fh:
        np.savez(fh, **arrays)


def _wanted_keys(keys: list[str], group_cols: Sequence[str], source: str) -> list[str]:
    """Check the key names and return those to load, group keys last."""
    unknown = [k for k in keys if k not in REQUIRED_KEYS + OPTIONAL_KEYS and not _is_group_key(k)]
    if unknown:
        raise AuditError(MSG_UNKNOWN_KEYS.format(keys=", ".join(repr(k) for k in unknown)), path=source)
    for key in REQUIRED_KEYS:
        if key not in keys:
            present = ", ".join(repr(k) for k in keys) or "none"
            raise AuditError(MSG_MISSING_KEY.format(key=key, present=present), path=source)
    available = [k[len(GROUP_PREFIX):] for k in keys if _is_group_key(k)]
    selected = list(dict.fromkeys(group_cols)) if group_cols else available
    for name in selected:
        if name not in available:
            shown = ", ".join(available) or "none (add group_<name> arrays)"
            raise AuditError(MSG_UNKNOWN_GROUP.format(name=name, available=shown), path=source)
    plain = [k for k in REQUIRED_KEYS + OPTIONAL_KEYS if k in keys]
    return plain + [GROUP_PREFIX + name for name in selected]


def _is_group_key(key: str) -> bool:
    return key.startswith(GROUP_PREFIX) and len(key) > len(GROUP_PREFIX)


def _load_key(npz, key: str, source: str) -> np.ndarray:
    try:
        return npz[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise AuditError(MSG_PICKLED.format(key=key), path=source, hint=HINT_PICKLED) from None
        raise


def _raw_from(arrays: Mapping[str, np.ndarray], wanted: list[str], source: str) -> RawArrays:
    names = arrays.get("class_names")
    if names is not None:
        names = np.asarray(names)
        if names.ndim != 1:
            raise AuditError(f"class_names must be a 1-D array; got shape {names.shape}", path=source)
        names = tuple(str(c) for c in names)
    return RawArrays(
        labels=arrays["labels"],
        probs=arrays["probs"],
        class_names=names,
        sample_ids=arrays.get("sample_ids"),
        groups={k[len(GROUP_PREFIX):]: arrays[k] for k in wanted if _is_group_key(k)},
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
