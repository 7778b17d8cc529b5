"""Write one audit's files (audit.json, report.html, summary.md, junit.xml) as a set.

Every file is rendered in memory first, then written to a temporary name beside its target and renamed
into place, so a failed or interrupted run leaves the previous report intact and no half-written file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from audit.atomic import file_mode
from audit.errors import AuditError


def dump_json(result: dict) -> str:
    """The canonical JSON text of a result: sorted keys, no NaN (undefined numbers are null)."""
    try:
        return json.dumps(result, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"
    except ValueError as exc:  # a NaN slipped through: an internal error, fail closed
        raise RuntimeError(f"result holds a non-finite number: {exc}") from exc


@contextlib.contextmanager
def _sigint_deferred():
    """Hold a Ctrl-C back until the block has finished, then raise it: the renames complete as a set."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    caught = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt


def _replace_all(pairs: list[tuple[Path, Path]]) -> None:
    """Rename every temporary over its target; if one rename fails, put back the files already replaced.

    Each existing target is first hard-linked to a backup name, so a failure half-way restores the old
    set instead of leaving a new audit.json beside an old report.html.
    """
    backups: list[tuple[Path, Path | None]] = []
    try:
        for tmp, final in pairs:
            backup = None
            if final.exists():
                backup = final.with_name(f".{final.name}.{os.getpid()}.bak")
                with contextlib.suppress(FileNotFoundError):
                    backup.unlink()
                try:
                    os.link(final, backup)
                except OSError:  # a file system without hard links
                    shutil.copy2(final, backup)
            backups.append((final, backup))
            os.replace(tmp, final)
    except OSError:
        for final, backup in reversed(backups):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, final)
                else:
                    final.unlink()
        raise
    finally:
        for _, backup in backups:
            if backup is not None:
                with contextlib.suppress(FileNotFoundError):
                    backup.unlink()


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
        with _sigint_deferred():
            _replace_all(temps)
    except OSError as exc:
        raise AuditError(f"cannot write the report: {exc.strerror or exc}", path=out_dir) from exc
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return [final for _, final in temps]
