"""Errors the user can fix: each one becomes one clear line on stderr and exit code 2."""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class AuditError(Exception):
    """Bad input or an audit that could not be completed.

    Parameters
    ----------
    message : str
        What is wrong, including the value received where there is one.
    path : str or Path, optional
        The file the problem is in; printed first so the user knows where to look.
    hint : str, optional
        How to fix it, where that is useful.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class OptionConflict(AuditError):
    """Options that cannot be used together; the CLI reports it as a usage error."""
