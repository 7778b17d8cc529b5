"""Where a run's files go by default: ``reports/`` in a source checkout, else under the working folder."""

from __future__ import annotations

from pathlib import Path


def default_reports_dir() -> Path:
    """``reports/``: under the repository in a source checkout, else under the working folder."""
    repo = Path(__file__).resolve().parents[1]
    return repo / "reports" if (repo / "pyproject.toml").is_file() else Path("reports")


def default_out_dir(run_name: str) -> Path:
    """``reports/<run name>/``, the name made safe for a folder (letters, digits, ``-_.``)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in run_name).strip(".-")
    return default_reports_dir() / (safe or "audit")
