"""Where the tool's files go by default: a run's reports (``reports/`` in a source checkout, else under the
working folder) and the per-user cache (extracted datasets, compiled report templates)."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the cache folder.
ENV_CACHE = "AUDIT_CACHE"


def default_reports_dir() -> Path:
    """``reports/``: under the repository in a source checkout, else under the working folder."""
    repo = Path(__file__).resolve().parents[1]
    return repo / "reports" if (repo / "pyproject.toml").is_file() else Path("reports")


def default_out_dir(run_name: str) -> Path:
    """``reports/<run name>/``, the name made safe for a folder (letters, digits, ``-_.``)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in run_name).strip(".-")
    return default_reports_dir() / (safe or "audit")


def cache_dir() -> Path:
    """The per-user cache: ``$AUDIT_CACHE``, else ``$XDG_CACHE_HOME/audit``, else ``~/.cache/audit``."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "audit"
    return Path.home() / ".cache" / "audit"
