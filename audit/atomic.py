"""Atomic file output: a reader never sees a half-written file, and a failed run never destroys an old one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from audit.errors import AuditError


def file_mode() -> int:
    """0666 less the umask: what ``open()`` would give, where mkstemp gives 0600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise AuditError(f"cannot write here: {exc.strerror or exc}", path=path.parent) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, file_mode())
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as exc:
        raise AuditError(f"cannot write: {exc.strerror or exc}", path=path) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)
