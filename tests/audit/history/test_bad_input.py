"""Bad input to the history (docs/bad-input.md, section H): one clear line, exit 2, nothing half-written."""

from __future__ import annotations

import contextlib


import pytest
from sqlalchemy import create_engine, text

from audit.history import HistoryStore, schema
from audit.history.engine import make_engine
from helpers.hardening_helpers import assert_clear_error, run_main, write_predictions
from helpers.history_fixtures import result


@pytest.fixture
def preds(tmp_path):
    return write_predictions(tmp_path / "m.npz", n=60)


def _down_url(tmp_path) -> str:
    sock = tmp_path / "no-server"
    sock.mkdir()
    return f"postgresql+psycopg://audit@/history?host={sock}"


def test_server_down_fails_the_run_after_writing_the_report(tmp_path, preds, capsys):
    url = _down_url(tmp_path)
    code = run_main("run", "--predictions", preds, "--out", tmp_path / "out", "--bootstrap", "0", "--db", url)
    err = capsys.readouterr().err
    assert code == 2
    line = assert_clear_error(err, "no-server", "could not record the run", "Is the server running",
                              "NOT recorded", "the report files were written to", "--no-record")
    assert str(tmp_path / "out") in line
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"audit.json", "report.html", "summary.md", "junit.xml"}


def test_server_down_for_the_reading_commands(tmp_path, capsys):
    url = _down_url(tmp_path)
    for args in (["history", "--db", url], ["history", "show", "1", "--db", url], ["release", "1", "--db", url],
                 ["db", "upgrade", "--db", url]):
        assert run_main(*args) == 2
        assert_clear_error(capsys.readouterr().err, "no-server", "Is the server running")


def test_older_database_names_the_upgrade_command(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        schema.upgrade(conn, "0001")
    engine.dispose()
    assert run_main("history", "--db", db) == 2
    line = assert_clear_error(capsys.readouterr().err, "h.sqlite", "schema revision 0001", "needs 0003")
    assert f"`audit db upgrade --db sqlite:///{db}`" in line
    assert run_main("db", "upgrade", "--db", db) == 0
    assert "migrated from schema revision 0001 to 0003" in capsys.readouterr().out
    assert run_main("history", "--db", db) == 0


def dump(db) -> list[str]:
    """The database's content as SQL (its bytes may change when SQLite checkpoints its write-ahead log on a
    read, which is not a rewrite)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(db)) as conn:
        return list(conn.iterdump())


def test_newer_database_names_the_tool_upgrade(tmp_path, preds, capsys):
    db = tmp_path / "h.sqlite"
    HistoryStore(f"sqlite:///{db}", create=True).record_run(result())
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0042'"))
    engine.dispose()
    before = dump(db)
    assert run_main("run", "--predictions", preds, "--out", tmp_path / "out", "--bootstrap", "0", "--db", db) == 2
    assert_clear_error(capsys.readouterr().err, "h.sqlite", "revision 0042, newer than this version",
                       "pip install --upgrade classifier-audit", "NOT recorded")
    assert run_main("db", "upgrade", "--db", db) == 2
    assert_clear_error(capsys.readouterr().err, "h.sqlite", "pip install --upgrade classifier-audit")
    assert dump(db) == before  # never rewritten


@pytest.mark.parametrize("args", [["history", "show", "99"], ["release", "99"]], ids=["show", "release"])
def test_unknown_run_id(tmp_path, args, capsys):
    db = tmp_path / "h.sqlite"
    HistoryStore(f"sqlite:///{db}", create=True).record_run(result())
    assert run_main(*args, "--db", db) == 2
    assert_clear_error(capsys.readouterr().err, "h.sqlite", "no run #99", "audit history")


def test_unknown_baseline_id_and_no_released_run(tmp_path, preds, capsys):
    db = tmp_path / "h.sqlite"
    HistoryStore(f"sqlite:///{db}", create=True).record_run(result())
    common = ["run", "--predictions", preds, "--bootstrap", "0", "--db", db, "--no-record"]
    assert run_main(*common, "--out", tmp_path / "a", "--baseline", "99") == 2
    assert_clear_error(capsys.readouterr().err, "h.sqlite", "no run #99")
    assert run_main(*common, "--out", tmp_path / "b", "--baseline", "released") == 2
    assert_clear_error(capsys.readouterr().err, "h.sqlite", "no released run of model 'm'", "audit release ID")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_release_refused_and_empty_force_reason(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    HistoryStore(f"sqlite:///{db}", create=True).record_run(result(passed=False))
    assert run_main("release", "1", "--db", db) == 2
    err = capsys.readouterr().err
    assert "run #1 failed its release gate (min_accuracy): release refused" in err and "--force REASON" in err
    assert run_main("release", "1", "--db", db, "--force", " ") == 2
    assert "--force needs a reason" in capsys.readouterr().err
    assert HistoryStore(f"sqlite:///{db}").list_runs()[0].released is False


def test_missing_database_for_reading_commands(tmp_path, capsys):
    db = tmp_path / "nothing.sqlite"
    assert run_main("history", "--db", db) == 2
    assert_clear_error(capsys.readouterr().err, "nothing.sqlite", "no history database here")
    assert not db.exists()


def test_not_a_database_file(tmp_path, preds, capsys):
    db = tmp_path / "notes.sqlite"
    db.write_text("my notes\n" * 200)
    assert run_main("history", "--db", db) == 2
    assert_clear_error(capsys.readouterr().err, "notes.sqlite", "file is not a database")


def test_foreign_database(tmp_path, capsys):
    db = tmp_path / "other.sqlite"
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER)"))
    engine.dispose()
    assert run_main("history", "--db", db) == 2
    assert_clear_error(capsys.readouterr().err, "other.sqlite", "not an audit history database")


@pytest.mark.parametrize("url, fragment", [("mysql://u@h/db", "unsupported database backend 'mysql'"),
                                           ("postgresql+nodriver://u@h/db", "no driver for this database URL"),
                                           ("sqlite://:bad:url", "not a database URL")],
                         ids=["mysql", "driver", "garbled"])
def test_bad_database_url(url, fragment, capsys):
    assert run_main("history", "--db", url) == 2
    err = capsys.readouterr().err
    assert err.startswith("audit: error: ") and "Traceback" not in err and fragment in err


def test_database_folder_cannot_be_created(tmp_path, preds, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = run_main("run", "--predictions", preds, "--out", tmp_path / "out", "--bootstrap", "0",
                    "--db", blocker / "h.sqlite")
    assert code == 2
    assert_clear_error(capsys.readouterr().err, "file", "cannot create the history database's folder",
                       "NOT recorded")
    assert (tmp_path / "out" / "audit.json").exists()


def test_server_down_fails_the_gate_after_writing_its_files(tmp_path, preds, capsys):
    out = tmp_path / "out"
    assert run_main("run", "--predictions", preds, "--out", out, "--bootstrap", "0", "--no-record") == 0
    policy = tmp_path / "p.toml"
    policy.write_text("[checklist]\nenabled = false\n")
    capsys.readouterr()
    assert run_main("gate", out / "audit.json", "--policy", policy, "--db", _down_url(tmp_path)) == 2
    assert_clear_error(capsys.readouterr().err, "no-server", "could not record the gate verdict",
                       "NOT recorded", "junit.xml and gate.json were written")
    assert (out / "gate.json").exists() and (out / "junit.xml").exists()
