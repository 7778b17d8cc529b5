"""Atomic file output: a reader never sees a half-written file, and a failed run never destroys an old one.

One file (:func:`atomic_path`, :func:`write_text`) or several as a set (:func:`atomic_paths`,
:func:`replace_all`): all are written under temporary names first, then renamed into place together.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Iterator, Sequence

from audit.errors import AuditError


def file_mode() -> int:
    """0666 less the umask: what ``open()`` would give, where mkstemp gives 0600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _temp_beside(path: Path) -> Path:
    """A new empty temporary file beside ``path`` (its folder made), with the mode a new file gets."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise AuditError(f"cannot write here: {exc.strerror or exc}", path=path.parent) from exc
    os.close(fd)
    os.chmod(tmp, file_mode())
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    tmp_path = _temp_beside(path)
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


@contextlib.contextmanager
def atomic_paths(*paths: str | Path) -> Iterator[list[Path]]:
    """Yield a temporary path beside each of ``paths``; if the block succeeds, rename them all over their
    targets as a set (:func:`replace_all`, a Ctrl-C held back until the renames are done).

    A failed block, or a failed rename, leaves every target as it was; an ``OSError`` (a full disk) becomes
    an :class:`~audit.errors.AuditError` naming the first path, as in :func:`atomic_path`.
    """
    finals = [Path(p) for p in paths]
    temps: list[Path] = []
    try:
        for final in finals:
            temps.append(_temp_beside(final))
        try:
            yield list(temps)
            with sigint_deferred():
                replace_all(list(zip(temps, finals)))
        except OSError as exc:
            raise AuditError(f"cannot write: {exc.strerror or exc}", path=finals[0]) from exc
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


@contextlib.contextmanager
def sigint_deferred():
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


def replace_all(pairs: Sequence[tuple[Path, Path]]) -> None:
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
