"""Helpers for the hardening tests: run the CLI (subprocess or in-process), check that an error is one
clear line, snapshot folders, and write small valid inputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
PREFIX = "audit: error: "
CLASS_NAMES = ("cat", "dog", "bird")


def run_cli(*args, env: dict | None = None, cwd: Path | None = None, timeout: int = 120):
    """Run ``python -m audit ARGS`` as a user would; return the CompletedProcess (text mode)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("AUDIT_DATA", "TF_CPP_MIN_LOG_LEVEL")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "audit", *map(str, args)], cwd=cwd or REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def run_main(*args) -> int:
    """Run the console-script entry point in-process; return its exit code."""
    from audit.cli import main

    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    return info.value.code


def assert_clear_error(stderr: str, path: str | Path, *fragments: str) -> str:
    """stderr holds one ``audit: error:`` line (two at most), naming ``path`` and every fragment; no traceback.

    ``path`` is matched by its name (the CLI prints the path as given, relative or absolute).
    Returns the error line.
    """
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(PREFIX)]
    assert len(errors) == 1 and 1 <= len(lines) <= 2, stderr
    line = errors[0]
    assert "internal error" not in line, line
    assert Path(path).name in line, f"{Path(path).name!r} not named in: {line}"
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in: {line}"
    return line


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes); folders are listed with value None."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def temporaries(folder: Path) -> list[str]:
    """Names of leftover temporary files (``*.tmp``) under ``folder``."""
    return sorted(str(p) for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp" in p.suffixes)


def write_predictions(path: Path, n: int = 90, seed: int = 0, n_classes: int = 3) -> Path:
    """A valid ``.npz`` predictions file: seeded probabilities, labels, sample ids and a ``region`` group."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(n_classes), size=n)
    labels = np.where(rng.random(n) < 0.6, probs.argmax(axis=1), rng.integers(0, n_classes, n))
    names = CLASS_NAMES if n_classes == 3 else tuple(f"c{i}" for i in range(n_classes))
    np.savez(path, probs=probs, labels=labels, class_names=np.asarray(names),
             sample_ids=np.asarray([f"s{i:06d}" for i in range(n)]),
             group_region=np.asarray(["north", "south"])[rng.integers(0, 2, n)])
    return path


#: A valid checklist answers file (three answers).
GOOD_CHECKLIST = """\
[[answer]]
id = "consent-1"
status = "yes"
evidence = "consent forms on file"
answered_by = "A. Reviewer"
answered_on = 2026-01-15

[[answer]]
id = "bias-1"
status = "no"
evidence = "gaps not yet reviewed"
answered_by = "A. Reviewer"
answered_on = 2026-01-15

[[answer]]
id = "oversight-1"
status = "not applicable"
evidence = "internal research use only"
answered_by = "A. Reviewer"
answered_on = "2026-01-16"
"""
