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


def _load(name: str) -> None:
    try:
        importlib.import_module(name)
    except BaseException:  # noqa: BLE001 - the caller's own import raises it again, where it can be handled
        pass


def prefetch(name: str) -> None:
    """Start importing module ``name`` in a daemon thread (once; nothing if it is imported already)."""
    with _lock:
        if name in sys.modules or name in _started:
            return
        thread = threading.Thread(target=_load, args=(name,), name=f"prefetch {name}", daemon=True)
        _started[name] = thread
        thread.start()


def wait(name: str) -> None:
    """Wait for a prefetch of ``name`` to finish (nothing if none was started)."""
    thread = _started.get(name)
    if thread is not None:
        thread.join()
