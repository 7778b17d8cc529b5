"""The `audit` entry point: help on every command, version, exit codes of main()."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from audit import __version__, cli
from audit.errors import AuditError

SUBCOMMANDS = [["train"], ["run"], ["gate"], ["checklist"], ["checklist", "init"], ["policy"], ["policy", "init"],
               ["history"], ["history", "show"], ["release"], ["db"], ["db", "upgrade"]]


@pytest.mark.parametrize("args", [[]] + SUBCOMMANDS, ids=lambda a: " ".join(a) or "audit")
def test_help_on_every_command(args):
    result = CliRunner().invoke(cli.app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_version():
    result = CliRunner().invoke(cli.app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"audit {__version__}"


def run_main(monkeypatch, capsys, argv, command=None):
    if command is not None:
        monkeypatch.setitem(cli.COMMANDS, "boom", ("tests_cli_fake", "boom", "fake"))
        fake = type(sys)("tests_cli_fake")
        fake.boom = command
        monkeypatch.setitem(sys.modules, "tests_cli_fake", fake)
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    return info.value.code, capsys.readouterr().err


def _command(exc):
    import click

    @click.command("boom")
    def boom():
        raise exc

    return boom


def test_audit_error_is_one_line_and_exit_2(monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, ["boom"], _command(AuditError("bad thing", path="x.npz")))
    assert code == 2 and err == "audit: error: x.npz: bad thing\n"


def test_internal_error_fails_closed_with_exit_2(monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, ["boom"], _command(ZeroDivisionError("oops")))
    assert code == 2
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError: oops" in err and "--debug" in err


def test_debug_shows_the_traceback(monkeypatch, capsys):
    with pytest.raises(ZeroDivisionError):
        run_main(monkeypatch, capsys, ["--debug", "boom"], _command(ZeroDivisionError("oops")))


def test_keyboard_interrupt_exits_130(monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, ["boom"], _command(KeyboardInterrupt()))
    assert code == 130 and "interrupted" in err


def test_unknown_command_and_option_are_usage_errors(monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, ["nope"])
    assert code == 2 and "No such command" in err
    code, err = run_main(monkeypatch, capsys, ["run", "--nope"])
    assert code == 2 and "No such option" in err


def _run_predictions_in_a_fresh_process(tmp_path, extra: str, check: str) -> None:
    """``audit run --predictions`` on a tiny file in a new interpreter, then ``check`` (a Python assertion on
    ``sys.modules``) there."""
    code = (
        "import sys, numpy as np\n"
        "from audit.cli import main\n"
        "from audit.predictions import make_predictions\n"
        "from audit.sources import save_npz\n"
        f"p = '{tmp_path}/p.npz'\n"
        "save_npz(p, make_predictions([0, 1, 1], [[.8, .2], [.3, .7], [.6, .4]]))\n"
        "try:\n"
        f"    main(['run', '--predictions', p, '--out', '{tmp_path}/out', '--bootstrap', '0'{extra}])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        f"{check}\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "report.html").exists()


def test_predictions_path_never_imports_tensorflow(tmp_path):
    _run_predictions_in_a_fresh_process(
        tmp_path, "", "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")


def test_predictions_run_imports_no_database_driver_when_the_history_does_not_exist(tmp_path):
    """--no-record with no history database yet (a CI job's fresh clone): nothing to read the trend from, so
    SQLAlchemy is never imported; nor fairlearn without group columns."""
    _run_predictions_in_a_fresh_process(
        tmp_path, f", '--no-record', '--db', '{tmp_path}/absent.sqlite'",
        "assert 'sqlalchemy' not in sys.modules and 'fairlearn' not in sys.modules, sorted(sys.modules)")
    assert not (tmp_path / "absent.sqlite").exists()
