"""A missing optional dependency is one line naming the extra to install, exit 2 — tested by hiding the
module (``sys.modules[name] = None`` makes both ``find_spec`` and ``import`` fail as if uninstalled)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from audit.extras import DISTRIBUTION, is_installed

HIDE_AND_RUN = textwrap.dedent("""
    import sys
    for name in {hidden!r}:
        sys.modules[name] = None  # as if `pip install .` without the extra
    from audit.cli import main
    main({argv!r})
""")


def run_hidden(hidden, argv, cwd):
    return subprocess.run([sys.executable, "-c", HIDE_AND_RUN.format(hidden=hidden, argv=argv)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def test_hidden_module_counts_as_not_installed(monkeypatch):
    assert is_installed("numpy")
    monkeypatch.setitem(sys.modules, "numpy_not_here", None)
    assert not is_installed("numpy_not_here")


def test_train_without_tensorflow_names_the_train_extra(tmp_path):
    """The plain install (no extras) then `audit train`: one line, exit 2, no traceback."""
    done = run_hidden(["tensorflow", "keras"], ["train", "--out", str(tmp_path / "m")], tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [f"audit: error: `audit train` needs tensorflow, which is not installed "
                     f"(install the 'train' extra: pip install '{DISTRIBUTION}[train]')"]
    assert "Traceback" not in done.stderr and not (tmp_path / "m").exists()


def test_model_audit_without_tensorflow_names_the_train_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    from audit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--model", str(tmp_path / "m"), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "audit: error: auditing a saved model (`audit run` without --predictions) needs tensorflow, which "
        f"is not installed (install the 'train' extra: pip install '{DISTRIBUTION}[train]')")
    assert not (tmp_path / "o").exists()


def test_dask_without_dask_names_the_distributed_extra(monkeypatch, tmp_path):
    path = tmp_path / "p.npz"
    rng = np.random.default_rng(0)
    np.savez(path, labels=rng.integers(0, 3, 20), probs=rng.dirichlet(np.ones(3), 20))
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    from audit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--predictions", str(path), "--dask", "local:1", "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert not (tmp_path / "o").exists()


def test_dask_message_is_one_line(tmp_path):
    path = tmp_path / "p.npz"
    rng = np.random.default_rng(0)
    np.savez(path, labels=rng.integers(0, 3, 20), probs=rng.dirichlet(np.ones(3), 20))
    done = run_hidden(["dask", "distributed"], ["run", "--predictions", str(path), "--dask", "local:1",
                                                "--out", str(tmp_path / "o")], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"audit: error: --dask needs dask, which is not installed (install the 'distributed' extra: "
        f"pip install '{DISTRIBUTION}[distributed]')"]
