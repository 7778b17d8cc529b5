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


MSG_UNKNOWN_KEYWORD = "{func}() got an unexpected keyword argument {name!r}"
MSG_NUMBER = "{name} must be {expected}; got {value!r}"


def check_keywords(func):
    """Decorate ``func`` so that a misspelt keyword raises a :class:`TypeError` naming the closest real one
    (``group_col`` -> ``did you mean 'group_cols'?``) instead of Python's bare message."""
    import difflib
    import functools
    import inspect

    params = inspect.signature(func).parameters
    names = [n for n, p in params.items()
             if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n not in ("self", "cls")]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())

    shown = func.__qualname__ if func.__name__ == "__init__" else func.__name__  # a class: its name

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not takes_any:
            for key in kwargs:
                if key not in params:
                    message = MSG_UNKNOWN_KEYWORD.format(func=shown, name=key)
                    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
                    raise TypeError(f"{message}; did you mean {close[0]!r}?" if close else
                                    f"{message}; it takes {', '.join(names)}")
        return func(*args, **kwargs)

    return wrapper


def check_int(name: str, value, *, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``; :class:`AuditError` naming the argument otherwise
    (booleans and every float, 5.0 included, are refused: an integer type is asked for; numpy integers
    are accepted)."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise AuditError(MSG_NUMBER.format(name=name, expected=f"an integer ≥ {minimum}", value=value))
    return int(value)
