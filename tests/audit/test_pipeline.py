"""The library: audit.run_audit / make_predictions / AuditResult give what the CLI gives, without TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from bs4 import BeautifulSoup
from helpers.hardening_helpers import GOOD_CHECKLIST, run_main

import audit
from audit.errors import AuditError, OptionConflict
from audit.gate.policy import template_text
from audit.history import history_url
from audit.sources import save_npz

FILES = {"audit.json", "report.html", "summary.md", "junit.xml"}


def arrays(n=150, k=3, seed=0):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n)
    labels = np.where(rng.random(n) < 0.7, probs.argmax(axis=1), rng.integers(0, k, n))
    return probs, labels


@pytest.fixture
def pred():
    probs, labels = arrays()
    region = np.asarray(["north", "south"])[np.arange(150) % 2]
    return audit.make_predictions(probs=probs, labels=labels, class_names=["cat", "dog", "bird"],
                                  groups={"region": region}, sample_ids=[f"s{i:04d}" for i in range(150)])


def test_arrays_in_gives_the_cli_files_byte_for_byte(tmp_path, pred):
    save_npz(tmp_path / "p.npz", pred)
    (tmp_path / "policy.toml").write_text(template_text(), encoding="utf-8")
    (tmp_path / "checklist.toml").write_text(GOOD_CHECKLIST, encoding="utf-8")
    # the library first: it records nothing, so both see the same (empty) history in the report's trend
    result = audit.run_audit(tmp_path / "p.npz", policy=tmp_path / "policy.toml",
                             checklist=tmp_path / "checklist.toml", seed=4, n_bootstrap=30, reproducible=True,
                             history=history_url())
    written = result.save(tmp_path / "lib")
    code = run_main("run", "--predictions", tmp_path / "p.npz", "--policy", tmp_path / "policy.toml",
                    "--checklist", tmp_path / "checklist.toml", "--seed", "4", "--bootstrap", "30",
                    "--reproducible", "--name", "p", "--out", tmp_path / "cli")
    assert set(written) == FILES
    for name in FILES:
        assert (tmp_path / "lib" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    assert code == (0 if result.passed else 1)


def test_in_memory_predictions_give_the_same_numbers_as_the_file(tmp_path, pred):
    save_npz(tmp_path / "p.npz", pred)
    from_file = audit.run_audit(tmp_path / "p.npz", n_bootstrap=0, reproducible=True).to_dict()
    in_memory = audit.run_audit(pred, n_bootstrap=0, reproducible=True).to_dict()
    for key in ("overall", "per_class", "confusion_matrix", "calibration", "disparity", "gate"):
        assert in_memory[key] == from_file[key], key
    assert in_memory["run"]["source"] == "predictions" and in_memory["provenance"]["predictions_sha256"] is None


def test_the_result_object(pred):
    result = audit.run_audit(pred, n_bootstrap=0)
    assert result.gate is result.data["gate"] and result.gate["informational"] is True
    assert result.passed is bool(result.gate["passed"])
    copy = result.to_dict()
    copy["overall"]["accuracy"] = -1
    assert result.data["overall"]["accuracy"] != -1
    assert json.loads(result.to_json()) == result.data
    assert "generated_at" in result.data  # reproducible=False stamps the run, as the CLI does
    summary = result.summary()
    assert summary.startswith("audit of predictions: N = 150, 3 classes") and "gate " in summary.splitlines()[-1]
    assert "AuditResult 'predictions'" in repr(result)


def test_repr_html_isolates_the_report_in_a_sandboxed_frame(pred):
    html = audit.run_audit(pred, n_bootstrap=0)._repr_html_()
    frame = BeautifulSoup(html, "html.parser").find_all("iframe")
    assert len(frame) == 1
    assert frame[0].get("sandbox") in ("", [])  # an empty sandbox: no scripts, no same-origin access: styles cannot cross either way
    inner = BeautifulSoup(frame[0]["srcdoc"], "html.parser")
    assert inner.find("style") is not None and inner.find("h1") is not None
    assert "<style" not in html.replace(frame[0]["srcdoc"], "")  # nothing outside the frame styles the page


def test_a_policy_object_or_path_is_not_informational(pred, tmp_path):
    (tmp_path / "policy.toml").write_text(template_text(), encoding="utf-8")
    by_path = audit.run_audit(pred, policy=tmp_path / "policy.toml", n_bootstrap=0)
    by_object = audit.run_audit(pred, policy=audit.load_policy(tmp_path / "policy.toml"), n_bootstrap=0)
    assert by_path.gate["informational"] is False and by_object.gate == by_path.gate


def test_group_cols_select_among_the_groups(pred):
    assert [d["name"] for d in audit.run_audit(pred, group_cols=["region"], n_bootstrap=0).data["disparity"]] == ["region"]
    with pytest.raises(AuditError, match=r"group column\(s\) \['site'\] not among"):
        audit.run_audit(pred, group_cols=["site"])


def test_a_bare_string_for_group_cols_is_one_column(pred):
    one = audit.run_audit(pred, group_cols="region", n_bootstrap=0)
    assert [d["name"] for d in one.data["disparity"]] == ["region"]
    assert one.data["provenance"]["settings"]["group_cols"] == ["region"]
    with pytest.raises(AuditError, match=r"group column\(s\) \['site'\] not among"):  # not ['s', 'i', 't', 'e']
        audit.run_audit(pred, group_cols="site")
    with pytest.raises(TypeError, match="^group_cols must be a column name or a list of column names; got int$"):
        audit.run_audit(pred, group_cols=3)
    with pytest.raises(TypeError, match="^group_cols must be column names \\(strings\\); got 3$"):
        audit.run_audit(pred, group_cols=["region", 3])


def test_streaming_options_on_in_memory_predictions_conflict(pred):
    with pytest.raises(OptionConflict):
        audit.run_audit(pred, stream=True)


def test_calibration_predictions_in_memory(pred):
    probs, labels = arrays(seed=5)
    cal = audit.make_predictions(probs=probs, labels=labels, class_names=["cat", "dog", "bird"])
    fit = audit.run_audit(pred, calibration=cal, n_bootstrap=0).data["calibration"]["temperature_fit"]
    assert fit["source"] == "calibration set (in memory)" and fit["n"] == 150
    wrong = audit.make_predictions(probs=probs, labels=labels, class_names=["a", "b", "c"])
    with pytest.raises(AuditError, match="calibration set classes"):
        audit.run_audit(pred, calibration=wrong)


def test_regate_rewrites_only_the_verdict_files(pred, tmp_path):
    audit.run_audit(pred, n_bootstrap=0).save(tmp_path)
    before = (tmp_path / "audit.json").read_bytes()
    (tmp_path / "policy.toml").write_text(template_text(), encoding="utf-8")
    outcome = audit.regate(tmp_path / "audit.json", policy=tmp_path / "policy.toml", out_dir=tmp_path / "g")
    assert set(outcome.written) == {"gate.json", "junit.xml"} and outcome.gate["informational"] is False
    assert (tmp_path / "audit.json").read_bytes() == before
    assert json.loads((tmp_path / "g" / "gate.json").read_text())["passed"] == outcome.passed


def test_load_round_trips_a_saved_result(pred, tmp_path):
    result = audit.run_audit(pred, n_bootstrap=0)
    result.save(tmp_path)
    assert audit.AuditResult.load(tmp_path / "audit.json").data == result.data


def test_import_audit_is_cheap_and_the_pipeline_needs_no_tensorflow():
    code = ("import sys, audit; heavy = {'numpy', 'pandas', 'sklearn', 'fairlearn', 'tensorflow', 'jinja2'}; "
            "assert not heavy & set(sys.modules), heavy & set(sys.modules); "
            "audit.run_audit; audit.make_predictions; audit.AuditResult; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_name_resolves():
    for name in audit.__all__:
        assert getattr(audit, name) is not None, name
    with pytest.raises(AttributeError):
        audit.no_such_name  # noqa: B018


def test_a_run_id_as_record_returns_it_is_a_baseline(pred, tmp_path):
    import numpy as np

    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    run_id = audit.run_audit(pred, n_bootstrap=0).record(db)
    assert isinstance(run_id, int)
    for given in (run_id, np.int64(run_id), str(run_id)):
        again = audit.run_audit(pred, n_bootstrap=0, baseline=given, history=db)
        assert again.data["baseline"]["source"].startswith(f"history run #{run_id} ")
    with pytest.raises(TypeError, match="baseline"):
        audit.run_audit(pred, n_bootstrap=0, baseline=True)
