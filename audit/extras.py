"""Optional dependencies: which extra of the ``classifier-audit`` distribution brings each, and one
clear error (exit 2) naming that extra when a command needs a package that is not installed."""

from __future__ import annotations

import importlib.util

from audit.errors import AuditError

DISTRIBUTION = "classifier-audit"
#: importable top-level module -> the extra that installs it (pyproject.toml [project.optional-dependencies])
EXTRAS = {"tensorflow": "train", "keras": "train", "imagecodecs": "train",
          "dask": "distributed", "distributed": "distributed",
          "onnxruntime": "onnx"}
MSG_MISSING = "{what} needs {module}, which is not installed"
HINT = "install the '{extra}' extra: pip install '{dist}[{extra}]'"


def is_installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it (None in sys.modules: hidden)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(*modules: str, what: str) -> None:
    """Raise :class:`AuditError` naming the extra to install when one of ``modules`` is missing.

    Parameters
    ----------
    *modules : str
        Top-level module names, keys of ``EXTRAS``.
    what : str
        What needs them, for the message (e.g. "`audit train`").
    """
    for module in modules:
        if not is_installed(module):
            extra = EXTRAS[module]
            raise AuditError(MSG_MISSING.format(what=what, module=module),
                             hint=HINT.format(extra=extra, dist=DISTRIBUTION))
