"""Schema revisions: the first schema migrates to the current one; older and newer databases are refused
with the command to run; the shipped migrations create exactly the tables the models declare."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, text

from audit.errors import AuditError
from audit.history import HistoryStore, schema
from audit.history.engine import make_engine
from audit.history.migrate import upgrade_database
from audit.result.write import dump_json
from helpers.history_fixtures import result


def _at_revision(history_url: str, revision: str) -> None:
    engine = make_engine(history_url)
    with engine.begin() as conn:
        schema.upgrade(conn, revision)
    engine.dispose()


def test_migration_from_the_first_schema_to_the_current_one(history_url):
    _at_revision(history_url, "0001")
    engine = create_engine(history_url)
    with engine.begin() as conn:  # a run written by the first version of the tool
        conn.execute(text(
            "INSERT INTO runs (recorded_at, name, model_name, source, gate_passed, gate_informational, released, "
            "result) VALUES (:t, 'old', 'm', 'predictions', :p, :i, :r, :res)"),
            {"t": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "p": True, "i": False, "r": True,
             "res": dump_json(result("m"))})
        conn.execute(text("INSERT INTO run_metrics (run_id, name, value) VALUES (1, 'accuracy', 0.7)"))
    engine.dispose()
    with pytest.raises(AuditError, match=r"schema revision 0001, this version of the tool needs 0003; "
                                         r"migrate it with `audit db upgrade --db"):
        HistoryStore(history_url).list_runs()
    assert upgrade_database(history_url) == ("0001", "0003")
    assert upgrade_database(history_url) == ("0003", "0003")
    store = HistoryStore(history_url, create=True)
    old = store.list_runs()[0]
    assert (old.id, old.name, old.released, old.release_forced, old.metrics) == (1, "old", True, False,
                                                                                   {"accuracy": 0.7})
    new = store.record_run(result("m"), audit_json_text="x")
    assert store.release(new, force_reason=None)[0].released
    assert store.baseline("released", model="m")["run_id"] == new


def test_a_newer_database_is_refused_asking_to_upgrade_the_tool(history_url):
    HistoryStore(history_url, create=True).record_run(result(), audit_json_text="x")
    engine = create_engine(history_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    for call in (lambda: HistoryStore(history_url).list_runs(),
                 lambda: HistoryStore(history_url, create=True).record_run(result()),
                 lambda: upgrade_database(history_url)):
        with pytest.raises(AuditError, match="revision 0999, newer than this version of the tool knows .*"
                                             "pip install --upgrade classifier-audit"):
            call()


def test_a_database_of_something_else_is_refused(history_url):
    engine = create_engine(history_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(AuditError, match=r"holds tables \(invoices\) but no audit history schema revision"):
        HistoryStore(history_url, create=True).record_run(result())
    with pytest.raises(AuditError, match="not an audit history database"):
        upgrade_database(history_url)


def test_the_migrations_create_exactly_what_the_models_declare(history_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from audit.history.models import Base

    upgrade_database(history_url)
    engine = create_engine(history_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_a_sqlite_file_that_is_not_a_database(tmp_path):
    bad = tmp_path / "h.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(AuditError, match="h.sqlite.*file is not a database"):
        HistoryStore(f"sqlite:///{bad}").list_runs()


def test_head_constant_is_the_head_of_the_shipped_migrations():
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(schema.alembic_config())
    assert schema.HEAD == scripts.get_current_head()
    assert schema.known_revisions() == {"0001", "0002", "0003"}


def test_the_migrations_ship_inside_the_package():
    # `pip install` users migrate with `audit db upgrade`: the scripts must be in the distribution
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]
    assert {"audit.history", "audit.history.migrations", "audit.history.migrations.versions"} <= set(packages)
    assert (schema.MIGRATIONS / "env.py").is_file()
    assert sorted(p.name for p in (schema.MIGRATIONS / "versions").glob("0*.py")) == [
        "0001_runs_and_metrics.py", "0002_release_reason_and_gate_verdicts.py", "0003_report_hash_and_signoffs.py"]


def test_migration_from_the_previous_schema_keeps_runs_and_allows_signing(history_url):
    # a database at 0002 (before sign-offs): its runs survive `audit db upgrade`, have no report hash (so
    # cannot be signed), and new runs can be signed
    _at_revision(history_url, "0002")
    engine = create_engine(history_url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO runs (recorded_at, name, model_name, source, gate_passed, gate_informational, released, "
            "release_forced, result) VALUES (:t, 'old', 'm', 'predictions', :p, :i, :r, :f, :res)"),
            {"t": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "p": True, "i": False, "r": False, "f": False,
             "res": dump_json(result("m"))})
    engine.dispose()
    with pytest.raises(AuditError, match=r"schema revision 0002, this version of the tool needs 0003"):
        HistoryStore(history_url).list_runs()
    assert upgrade_database(history_url) == ("0002", "0003")
    store = HistoryStore(history_url, create=True)
    assert store.list_runs()[0].report_sha256 is None
    with pytest.raises(AuditError, match="recorded without its report's sha256"):
        store.sign(1, by="A", role="owner", report_sha256="0" * 64)
    new = store.record_run(result("m"), audit_json_text="x", report_sha256="a" * 64)
    assert store.sign(new, by="A", role="owner", report_sha256="a" * 64)["by"] == "A"
    assert [s["by"] for s in store.signoffs(new)] == ["A"]
