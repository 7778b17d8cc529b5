"""The history store on SQLite and on a real PostgreSQL server: record, list, show, release, baseline."""

from __future__ import annotations

import json

import pytest

from audit.errors import AuditError
from audit.history import HistoryStore, record
from audit.result.write import dump_json
from helpers.history_fixtures import result


def _record(store, r):
    return store.record_run(r, audit_json_text=dump_json(r))


def test_history_numbers_equal_the_audit_json(history_url):
    store = HistoryStore(history_url, create=True)
    r = result(robustness=0.61)
    run_id = _record(store, r)
    listed = store.list_runs()[0]
    assert listed.id == run_id and listed.model_name == "fixture" and listed.verdict == "pass"
    on_disk = json.loads(dump_json(r))  # the numbers as audit.json holds them
    assert listed.metrics == {
        "accuracy": on_disk["overall"]["accuracy"],
        "balanced_accuracy": on_disk["overall"]["balanced_accuracy"],
        "worst_class_error": max(c["error_rate"] for c in on_disk["per_class"]),
        "ece_before": on_disk["calibration"]["ece"],
        "ece_after": on_disk["calibration"]["after_scaling"]["ece"],
        "largest_disparity": max(d["difference"] for d in on_disk["disparity"]),
        "review_load": on_disk["selective"]["review_load"],
        "robustness_mean": on_disk["robustness"]["mean_accuracy"],
    }
    rec, stored, gates = store.get(run_id)
    assert stored == record.stored_result(on_disk) and gates == []
    assert "mistakes" not in stored
    assert rec.data_sha256 == record.hashes(r)[1]


def test_list_is_newest_first_with_model_filter_and_limit(history_url):
    store = HistoryStore(history_url, create=True)
    ids = [_record(store, result(m, accuracy=0.6 + i / 100)) for i, m in enumerate(["a", "b", "a", "a"])]
    assert [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.id for r in store.list_runs(model="a", limit=2)] == [ids[3], ids[2]]
    assert [r.metrics["accuracy"] for r in store.trend("a")] == pytest.approx([0.60, 0.62, 0.63])
    assert store.list_runs(model="nobody") == []


def test_release_refused_while_the_gate_failed_unless_forced_with_a_reason(history_url):
    store = HistoryStore(history_url, create=True)
    good, bad = _record(store, result()), _record(store, result(passed=False))
    rec, changed, _ = store.release(good)
    assert changed and rec.released and not rec.release_forced and rec.released_at
    assert store.release(good)[1] is False  # already released: nothing changes
    with pytest.raises(AuditError, match=rf"run #{bad} failed its release gate \(min_accuracy\).*--force REASON"):
        store.release(bad)
    with pytest.raises(AuditError, match="--force needs a reason"):
        store.release(bad, force_reason="  ")
    rec, _, overridden = store.release(bad, force_reason="waived by the review board")
    assert overridden == ["its failed gate"]
    assert rec.released and rec.release_forced and rec.release_reason == "waived by the review board"
    with pytest.raises(AuditError, match="no run #99"):
        store.release(99)


def test_baseline_released_is_the_last_released_run_of_that_model(history_url):
    store = HistoryStore(history_url, create=True)
    first = _record(store, result(accuracy=0.61))
    with pytest.raises(AuditError, match="no released run of model 'fixture'"):
        store.baseline("released", model="fixture")
    second = _record(store, result(accuracy=0.62))
    _record(store, result("other", accuracy=0.9))
    store.release(second)
    store.release(first)  # released later: the last released run
    base = store.baseline("released", model="fixture")
    assert base["run_id"] == first and base["result"]["overall"]["accuracy"] == 0.61
    assert store.baseline(str(second), model="ignored")["result"]["overall"]["accuracy"] == 0.62


def test_gate_verdict_recorded_against_the_run_it_re_evaluated(history_url):
    store = HistoryStore(history_url, create=True)
    r = result()
    run_id = _record(store, r)
    _record(store, result(accuracy=0.5))
    verdict = {"passed": False, "rules": [{"name": "max_ece", "passed": False, "skipped": False}]}
    assert store.record_gate(dump_json(r), verdict, policy_source="strict.toml", checklist_source=None) == run_id
    assert store.record_gate("{}", verdict, policy_source="p", checklist_source=None) is None
    rec, _, gates = store.get(run_id)
    assert rec.verdict == "fail" and rec.gate_rechecked and gates[0]["policy_source"] == "strict.toml"
    with pytest.raises(AuditError, match=r"failed its gate re-evaluation \(max_ece\)"):
        store.release(run_id)


def test_reading_commands_never_create_a_database(tmp_path):
    missing = tmp_path / "none.sqlite"
    with pytest.raises(AuditError, match="no history database here"):
        HistoryStore(f"sqlite:///{missing}").list_runs()
    assert not missing.exists()
