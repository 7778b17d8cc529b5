"""Output that cannot be written: exit 2, one line naming the folder and the reason, the previous report
intact and no temporary file left; ``--debug`` alone shows tracebacks; an internal error fails closed."""

from __future__ import annotations

import errno
import os
import signal

import pytest
from helpers.hardening_helpers import REPO, assert_clear_error, run_cli, run_main, snapshot, temporaries, write_predictions

from audit.result import write as outputs

REPORT_FILES = {"audit.json", "report.html", "summary.md", "junit.xml"}


@pytest.fixture
def old_report(tmp_path, capsys):
    """A predictions file and a finished report in ``tmp_path/out``: (predictions, out folder, its files)."""
    preds = write_predictions(tmp_path / "p.npz")
    out = tmp_path / "out"
    assert run_main("run", "--predictions", preds, "--out", out, "--bootstrap", "0") == 0
    capsys.readouterr()
    assert {p.name for p in out.iterdir()} == REPORT_FILES
    return preds, out, snapshot(out)


def test_out_is_an_existing_file(tmp_path):
    preds = write_predictions(tmp_path / "p.npz")
    blocker = tmp_path / "report"
    blocker.write_text("not a folder")
    result = run_cli("run", "--predictions", preds, "--out", blocker, "--bootstrap", "0")
    assert result.returncode == 2
    assert_clear_error(result.stderr, blocker, "is a file")
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("command", ["run", "gate"])
def test_out_folder_under_a_regular_file(command, tmp_path, old_report):
    # a read-only folder is no test when running as root; a path under a regular FILE fails for everyone
    preds, out, before = old_report
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = blocker / "reports"
    if command == "run":
        result = run_cli("run", "--predictions", preds, "--out", target, "--bootstrap", "0")
        fragment = "cannot create the output folder: Not a directory"
    else:
        result = run_cli("gate", out / "audit.json", "--policy", REPO / "templates" / "policy.toml", "--out", target)
        fragment = "Not a directory"
    assert result.returncode == 2
    assert_clear_error(result.stderr, target, fragment)
    assert snapshot(out) == before and blocker.read_text() == "x"


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_on_flush_keeps_the_old_report(old_report, monkeypatch, capsys):
    # a full disk shows at write() or at fsync(); fsync is where delayed allocation reports it
    preds, out, before = old_report
    monkeypatch.setattr(outputs.os, "fsync", _enospc)
    code = run_main("run", "--predictions", preds, "--out", out, "--bootstrap", "0", "--seed", "1")
    assert code == 2
    assert_clear_error(capsys.readouterr().err, out, "cannot write the report: No space left on device")
    assert snapshot(out) == before and temporaries(out) == []


def test_full_disk_on_the_second_file_keeps_the_whole_old_set(old_report, monkeypatch, capsys):
    preds, out, before = old_report
    real_fdopen = os.fdopen
    opened = []

    class Full:
        """A file object whose writes fail with ENOSPC."""

        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, text):
            _enospc()

        def __getattr__(self, name):
            return getattr(self.fh, name)

    def fdopen(fd, *args, **kwargs):
        fh = real_fdopen(fd, *args, **kwargs)
        opened.append(fh)
        return Full(fh) if len(opened) == 2 else fh

    monkeypatch.setattr(outputs.os, "fdopen", fdopen)
    code = run_main("run", "--predictions", preds, "--out", out, "--bootstrap", "0", "--seed", "1")
    assert code == 2 and len(opened) == 2
    assert_clear_error(capsys.readouterr().err, out, "No space left on device")
    assert snapshot(out) == before and temporaries(out) == []


def test_failed_rename_keeps_the_old_report(old_report, monkeypatch, capsys):
    preds, out, before = old_report

    def replace(src, dst):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(outputs.os, "replace", replace)
    assert run_main("run", "--predictions", preds, "--out", out, "--bootstrap", "0", "--seed", "1") == 2
    assert_clear_error(capsys.readouterr().err, out, "Input/output error")
    assert snapshot(out) == before and temporaries(out) == []


@pytest.fixture
def real_sigint():
    """Python's own SIGINT handler (KeyboardInterrupt), restored afterwards."""
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, saved)


def on_second_rename(monkeypatch, action) -> None:
    """Run ``action`` when the run's files are renamed into place, before the second rename."""
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            action()
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)


def test_ctrl_c_between_the_renames_never_mixes_two_reports(old_report, monkeypatch, capsys, real_sigint):
    # a real SIGINT to this process while the new files are being renamed over the old ones
    preds, out, before = old_report
    on_second_rename(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGINT))
    code = run_main("run", "--predictions", preds, "--out", out, "--bootstrap", "0", "--seed", "1")
    err = capsys.readouterr().err
    assert code == 130 and "audit: interrupted" in err and "Traceback" not in err
    after = snapshot(out)
    assert temporaries(out) == [] and set(after) == REPORT_FILES
    changed = {name for name in REPORT_FILES if after[name] != before[name]}
    # every file of the set is old, or every file that depends on the seed is new: never a mix
    assert changed in (set(), {"audit.json", "report.html", "summary.md"}, REPORT_FILES), changed


def test_failed_second_rename_never_mixes_two_reports(old_report, monkeypatch, capsys):
    preds, out, before = old_report

    def fail():
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    on_second_rename(monkeypatch, fail)
    assert run_main("run", "--predictions", preds, "--out", out, "--bootstrap", "0", "--seed", "1") == 2
    capsys.readouterr()
    assert snapshot(out) == before


def test_debug_shows_the_traceback_and_only_then(tmp_path):
    missing = tmp_path / "missing.npz"
    plain = run_cli("run", "--predictions", missing, "--out", tmp_path / "out")
    assert plain.returncode == 2
    assert_clear_error(plain.stderr, missing, "no such file")
    debug = run_cli("--debug", "run", "--predictions", missing, "--out", tmp_path / "out")
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr and "AuditError" in debug.stderr
    assert str(missing) in debug.stderr
    assert not (tmp_path / "out").exists()


def test_internal_error_fails_closed_with_one_line(old_report, monkeypatch, capsys):
    preds, out, before = old_report

    def broken(result, **options):
        raise ZeroDivisionError("renderer bug")

    monkeypatch.setattr("audit.render.html.render_html", broken)
    assert run_main("run", "--predictions", preds, "--out", out, "--bootstrap", "0", "--seed", "1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError: renderer bug" in err and "--debug" in err
    assert snapshot(out) == before and temporaries(out) == []


def test_usage_errors_are_one_line(tmp_path):
    result = run_cli("run", "--predictions", tmp_path / "p.npz", "--seed", "-1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2 and "--seed" in result.stderr, result.stderr
