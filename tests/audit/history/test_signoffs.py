"""`audit sign`, the sign-offs in `audit history show`, `[release] min_signoffs` in `audit release`, and the
released baseline's sign-offs in a later report (docs/history.md)."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest

from audit.errors import AuditError
from audit.history import HistoryStore
from audit.history.hooks import sign_report
from helpers.hardening_helpers import assert_clear_error, run_main, write_predictions
from helpers.history_fixtures import result


@pytest.fixture
def audited(tmp_path, capsys):
    """One recorded `audit run` (run #1) and its files."""
    preds = write_predictions(tmp_path / "m.npz", n=60)
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    assert run_main("run", "--predictions", preds, "--out", tmp_path / "out", "--bootstrap", "0", "--db", db) == 0
    capsys.readouterr()
    return tmp_path / "out", db, preds


def test_every_run_records_its_report_and_audit_json_hashes(audited):
    out, db, _ = audited
    record = HistoryStore(db).list_runs()[0]
    assert record.report_sha256 == hashlib.sha256((out / "report.html").read_bytes()).hexdigest()
    assert record.audit_json_sha256 == hashlib.sha256((out / "audit.json").read_bytes()).hexdigest()


def test_signing_the_report_and_an_edited_copy(audited, tmp_path, capsys):
    out, db, _ = audited
    report = out / "report.html"
    before = report.read_bytes()
    assert run_main("sign", "1", "--by", "Ada Reviewer", "--role", "release owner", "--report", report,
                    "--statement", "checked bias-1", "--db", db) == 0
    assert "signed run #1: Ada Reviewer (release owner)" in capsys.readouterr().out
    assert report.read_bytes() == before  # signing never edits the report
    edited = tmp_path / "edited.html"
    edited.write_bytes(before.replace(b"</main>", b"<p>x</p></main>"))
    assert run_main("sign", "1", "--by", "Mallory", "--role", "x", "--report", edited, "--db", db) == 2
    assert_clear_error(capsys.readouterr().err, "edited.html", "the file differs from the report of run #1")
    assert run_main("history", "show", "1", "--json", "--db", db) == 0
    shown = json.loads(capsys.readouterr().out)
    (signoff,) = shown["signoffs"]
    assert set(signoff) == {"by", "role", "at", "statement", "report_sha256"}
    assert (signoff["by"], signoff["role"], signoff["statement"]) == ("Ada Reviewer", "release owner", "checked bias-1")
    assert signoff["at"].endswith("+00:00") and signoff["report_sha256"] == hashlib.sha256(before).hexdigest()
    # the stored result keeps the crosswalk of its run ("team": not yet signed); the one shown now has the sign-off
    row = {r["item"]: r for r in shown["crosswalk"]["rows"]}["Annex IV 2(g)"]
    stored = {r["item"]: r for r in shown["result"]["crosswalk"]["rows"]}["Annex IV 2(g)"]
    assert (stored["status"], row["status"]) == ("team", "evidence") and "Ada Reviewer" in row["reason"]
    assert run_main("history", "show", "1", "--db", db) == 0
    assert "Ada Reviewer (release owner): checked bias-1" in capsys.readouterr().out


@pytest.mark.parametrize("signers, need, released", [(0, 0, True), (0, 1, False), (1, 1, True), (1, 2, False),
                                                     (2, 2, True)])
def test_min_signoffs_with_0_1_and_2_signers(tmp_path, capsys, signers, need, released):
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    store = HistoryStore(db, create=True)
    run = store.record_run(result("m"), audit_json_text="x", report_sha256="a" * 64)  # a passed gate
    for i in range(signers):
        store.sign(run, by=f"R{i}", role="reviewer", report_sha256="a" * 64)
    policy = tmp_path / "p.toml"
    policy.write_text(f"[release]\nmin_signoffs = {need}\n")
    code = run_main("release", str(run), "--policy", policy, "--db", db)
    if released:
        assert code == 0 and f"released run #{run}" in capsys.readouterr().out
    else:
        assert code == 2
        assert_clear_error(capsys.readouterr().err, "", f"has {signers} of the {need} sign-offs",
                           f"({need - signers} missing)", "--force REASON")
        assert run_main("release", str(run), "--policy", policy, "--force", "board waived it", "--db", db) == 0
        missing = need - signers
        assert (f"despite {missing} missing sign-off{'s' if missing > 1 else ''} ({signers} of {need}); "
                "reason stored: board waived it") in capsys.readouterr().out
    assert store.list_runs()[0].release_forced is (not released)


def test_a_forced_release_names_everything_it_overrode(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    store = HistoryStore(db, create=True)
    r = result("m")
    r["gate"]["passed"] = False
    run = store.record_run(r, audit_json_text="x", report_sha256="a" * 64)
    policy = tmp_path / "p.toml"
    policy.write_text("[release]\nmin_signoffs = 2\n")
    assert run_main("release", str(run), "--policy", policy, "--force", "ticket 9", "--db", db) == 0
    assert ("despite its failed gate and 2 missing sign-offs (0 of 2); reason stored: ticket 9"
            in capsys.readouterr().out)


def test_the_run_policy_min_signoffs_is_what_release_asks_by_default(tmp_path, capsys):
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}", create=True)
    r = result("m")
    r["gate"]["release_policy"] = {"min_signoffs": 1}
    run = store.record_run(r, audit_json_text="x", report_sha256="a" * 64)
    with pytest.raises(AuditError, match=r"has 0 of the 1 sign-offs .*\(1 missing\)"):
        store.release(run)
    store.sign(run, by="A", role="owner", report_sha256="a" * 64)
    assert store.release(run)[0].released


def test_a_later_report_shows_who_signed_the_released_baseline(audited, tmp_path, capsys):
    out, db, preds = audited
    run_main("sign", "1", "--by", "Ada Reviewer", "--role", "release owner", "--report", out / "report.html",
             "--db", db)
    assert run_main("release", "1", "--force", "random predictions, a test", "--db", db) == 0
    assert run_main("run", "--predictions", preds, "--out", tmp_path / "out2", "--bootstrap", "0", "--db", db) == 0
    data = json.loads((tmp_path / "out2" / "audit.json").read_text())
    assert data["released_baseline"]["run_id"] == 1
    assert [s["by"] for s in data["released_baseline"]["signoffs"]] == ["Ada Reviewer"]
    html = (tmp_path / "out2" / "report.html").read_text()
    assert "Sign-offs of the released baseline, run #1" in html and "Ada Reviewer" in html
    row = next(r for r in data["crosswalk"]["rows"] if r["item"] == "Annex IV 2(g)")
    assert row["status"] == "team" and "released baseline run #1 was signed by Ada Reviewer" in row["reason"]


def test_concurrent_signers_lose_nothing(history_url):
    store = HistoryStore(history_url, create=True)
    run = store.record_run(result("m"), audit_json_text="x", report_sha256="b" * 64)
    errors, barrier = [], threading.Barrier(8)

    def signer(i):
        try:
            barrier.wait()
            for j in range(5):
                HistoryStore(history_url).sign(run, by=f"S{i}-{j}", role="reviewer", report_sha256="b" * 64)
        except Exception as exc:  # noqa: BLE001 -- collected and asserted empty
            errors.append(exc)

    threads = [threading.Thread(target=signer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(s["by"] for s in store.signoffs(run)) == sorted(f"S{i}-{j}" for i in range(8) for j in range(5))


def test_one_reviewer_signing_concurrently_is_recorded_once(history_url):
    """8 processes' worth of the same reviewer at once (threads, each its own store): one sign-off, 7 refusals."""
    store = HistoryStore(history_url, create=True)
    run = store.record_run(result("m"), audit_json_text="x", report_sha256="c" * 64)
    errors, barrier = [], threading.Barrier(8)

    def signer():
        try:
            barrier.wait()
            HistoryStore(history_url).sign(run, by="Alice", role="reviewer", report_sha256="c" * 64)
        except AuditError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=signer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s["by"] for s in store.signoffs(run)] == ["Alice"]
    assert len(errors) == 7 and all("already signed" in e for e in errors), errors


def test_a_policy_given_at_release_cannot_lower_the_sign_offs_the_run_was_judged_with(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    store = HistoryStore(db, create=True)
    r = result("m")
    r["gate"]["release_policy"] = {"min_signoffs": 2}
    run = store.record_run(r, audit_json_text="x", report_sha256="a" * 64)
    store.sign(run, by="A", role="owner", report_sha256="a" * 64)
    lower = tmp_path / "p.toml"
    lower.write_text("[release]\nmin_signoffs = 0\n")
    assert run_main("release", str(run), "--policy", lower, "--db", db) == 2
    assert_clear_error(capsys.readouterr().err, "", "has 1 of the 2 sign-offs", "(1 missing)")
    higher = tmp_path / "q.toml"
    higher.write_text("[release]\nmin_signoffs = 3\n")
    assert run_main("release", str(run), "--policy", higher, "--db", db) == 2
    assert "has 1 of the 3 sign-offs" in capsys.readouterr().err
    assert not store.list_runs()[0].released


# -- bad input (docs/bad-input.md, H16-H19) ---------------------------------------------------------------------


def test_sign_unknown_run_id(audited, capsys):
    out, db, _ = audited
    assert run_main("sign", "9", "--by", "A", "--role", "r", "--report", out / "report.html", "--db", db) == 2
    assert_clear_error(capsys.readouterr().err, "h.sqlite", "no run #9 in the history database")


def test_sign_empty_name(audited, capsys):
    out, db, _ = audited
    for option, value in (("--by", "  "), ("--role", "")):
        args = {"--by": "A", "--role": "r", option: value}
        assert run_main("sign", "1", "--by", args["--by"], "--role", args["--role"], "--report",
                        out / "report.html", "--db", db) == 2
        assert_clear_error(capsys.readouterr().err, "", f"{option} needs", "got an empty value")
    assert HistoryStore(db).signoffs(1) == []


def test_sign_missing_report_file(audited, tmp_path, capsys):
    _, db, _ = audited
    assert run_main("sign", "1", "--by", "A", "--role", "r", "--report", tmp_path / "nope.html", "--db", db) == 2
    assert_clear_error(capsys.readouterr().err, "nope.html", "report file not found")


def test_sign_a_report_that_differs(audited, tmp_path, capsys):
    _, db, _ = audited
    other = tmp_path / "other.html"
    other.write_text("<html></html>")
    with pytest.raises(AuditError, match=r"other.html: the file differs from the report of run #1"):
        sign_report(db, 1, other, by="A", role="r")


def test_one_reviewer_signs_once_and_counts_once(tmp_path, capsys):
    """A two-person rule needs two people: the same name again (any case, any blanks) is refused, so it can
    never count twice toward [release] min_signoffs."""
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    store = HistoryStore(db, create=True)
    run = store.record_run(result("m"), audit_json_text="x", report_sha256="a" * 64)
    store.sign(run, by="Alice Reviewer", role="reviewer", report_sha256="a" * 64)
    with pytest.raises(AuditError, match=r"'alice  reviewer' has already signed the report of run #1 \(at .*\): "
                                         r"each reviewer signs once"):
        store.sign(run, by="alice  reviewer ", role="reviewer", report_sha256="a" * 64)
    policy = tmp_path / "p.toml"
    policy.write_text("[release]\nmin_signoffs = 2\n")
    assert run_main("release", str(run), "--policy", policy, "--db", db) == 2
    assert "has 1 of the 2 sign-offs" in capsys.readouterr().err


@pytest.mark.parametrize("body, fragments", [
    ("min_signoffs = -1", ("key 'release.min_signoffs' must be in [0, ∞); got -1",)),
    ('min_signoffs = "two"', ("key 'release.min_signoffs' must be a whole number; got 'two'",)),
    ("min_signof = 1", ("unknown key 'release.min_signof'", "did you mean 'release.min_signoffs'?")),
])
def test_bad_release_policy_key(tmp_path, capsys, body, fragments):
    policy = tmp_path / "p.toml"
    policy.write_text(f"[release]\n{body}\n")
    assert run_main("release", "1", "--policy", policy, "--db", f"sqlite:///{tmp_path / 'h.sqlite'}") == 2
    assert_clear_error(capsys.readouterr().err, "p.toml", *fragments)
