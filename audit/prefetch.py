"""Heavy imports started early in a background thread, so that their cost overlaps work that does not need
them: fairlearn's import (scikit-learn and SciPy's statistics, about 0.9 s on 2 cores) runs while an audit
computes the metrics that come before the disparity section. The module is imported for real, in the thread,
exactly as a plain ``import`` would; :func:`wait` before using it, and a failed import is raised again by the
plain ``import`` that follows it, in the caller's thread.
"""

from __future__ import annotations

import importlib
import sys
import threading

_started: dict[str, threading.Thread] = {}
_lock = threading.Lock()


def _load(names: tuple[str, ...]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - the caller's own import raises it again, where it can be handled
            pass


def prefetch(*names: str) -> None:
    """Start importing the modules ``names``, in order, in one daemon thread (each once; nothing for those
    imported or started already). One thread for several modules: they share most of what they import."""
    with _lock:
        todo = tuple(n for n in names if n not in sys.modules and n not in _started)
        if not todo:
            return
        thread = threading.Thread(target=_load, args=(todo,), name=f"prefetch {', '.join(todo)}", daemon=True)
        for name in todo:
            _started[name] = thread
        thread.start()


def wait(name: str) -> None:
    """Wait for a prefetch of ``name`` to finish (nothing if none was started)."""
    thread = _started.get(name)
    if thread is not None:
        thread.join()
