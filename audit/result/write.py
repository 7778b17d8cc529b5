"""Write one audit's files (audit.json, report.html, summary.md, junit.xml) as a set.

Every file is rendered in memory first, then written to a temporary name beside its target and renamed
into place, so a failed or interrupted run leaves the previous report intact and no half-written file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from audit.atomic import file_mode, replace_all, sigint_deferred
from audit.errors import AuditError


def dump_json(result: dict) -> str:
    """The canonical JSON text of a result: sorted keys, no NaN (undefined numbers are null)."""
    try:
        return json.dumps(result, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"
    except ValueError as exc:  # a NaN slipped through: an internal error, fail closed
        raise RuntimeError(f"result holds a non-finite number: {exc}") from exc


def write_outputs(out_dir: str | Path, files: dict[str, str]) -> list[Path]:
    """Write ``{file name: text}`` into ``out_dir``; all temporaries first, then the renames."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AuditError(f"cannot create the output folder: {exc.strerror or exc}", path=out_dir) from exc
    temps: list[tuple[Path, Path]] = []
    try:
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            temps.append((Path(tmp), out_dir / name))
            os.chmod(tmp, file_mode())
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        with sigint_deferred():
            replace_all(temps)
    except OSError as exc:
        raise AuditError(f"cannot write the report: {exc.strerror or exc}", path=out_dir) from exc
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return [final for _, final in temps]
