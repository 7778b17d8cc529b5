"""Tests of `audit gate` and `audit policy init` through the real CLI: exit codes 0 / 1 / 2 and the files."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers.gate_fixtures import make_result, write_result  # noqa: E402

from audit.cli import app, main  # noqa: E402
from audit.gate.policy import DEFAULT_POLICY_NAME, default_policy, load_policy, template_text  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
AUDIT_EXE = Path(sys.executable).parent / "audit"


def run(argv):
    """Run the console-script entry point in-process; return its exit code."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code


@pytest.fixture
def files(tmp_path):
    audit_json = write_result(tmp_path / "audit.json")
    policy = tmp_path / "policy.toml"
    policy.write_text(template_text(), encoding="utf-8")
    return audit_json, policy


def failing_result(tmp_path):
    result = make_result()
    result["calibration"]["ece"] = 0.25
    return write_result(tmp_path / "audit.json", result)


def test_gate_passes_with_exit_0_and_writes_junit_and_gate_json(files):
    audit_json, policy = files
    before = audit_json.read_bytes()
    result = CliRunner().invoke(app, ["gate", str(audit_json), "--policy", str(policy)])
    assert result.exit_code == 0, result.output
    assert "PASS  min_accuracy" in result.output and "gate PASSED: 12 passed, 0 failed, 2 skipped" in result.output
    assert audit_json.read_bytes() == before  # the stored result is never rewritten
    suite = ET.parse(audit_json.parent / "junit.xml").getroot().find("testsuite")
    assert suite.get("tests") == "14" and suite.get("failures") == "0"
    gate = json.loads((audit_json.parent / "gate.json").read_text(encoding="utf-8"))
    assert gate["passed"] is True and gate["informational"] is False
    assert gate["policy_source"] == str(policy) and gate["audit_json"] == str(audit_json)
    assert len(gate["rules"]) == len(suite.findall("testcase"))


def test_gate_fails_with_exit_1_and_junit_failure(tmp_path, files):
    _, policy = files
    audit_json = failing_result(tmp_path)
    out = tmp_path / "ci"
    result = CliRunner().invoke(app, ["gate", str(audit_json), "--policy", str(policy), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "FAIL  max_ece" in result.output and "gate FAILED" in result.output
    cases = ET.parse(out / "junit.xml").getroot().findall("testsuite/testcase")
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["max_ece"]
    assert "value 0.25 vs threshold 0.1" in cases[4].find("failure").get("message")
    assert not (tmp_path / "junit.xml").exists()


def test_policy_with_rule_disabled_passes(tmp_path, files):
    _, policy = files
    policy.write_text("[calibration]\nenabled = false\n", encoding="utf-8")
    assert run(["gate", str(failing_result(tmp_path)), "--policy", str(policy)]) == 0


def test_misspelt_policy_key_exits_2_naming_the_key(files, capsys):
    audit_json, policy = files
    policy.write_text("[calibraton]\nmax_ece = 0.5\n", encoding="utf-8")
    assert run(["gate", str(audit_json), "--policy", str(policy)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"audit: error: {policy}: unknown key 'calibraton.max_ece' "
                           "(did you mean 'calibration.max_ece'?)")
    assert not (audit_json.parent / "junit.xml").exists()


def test_cli_runner_sees_the_audit_error_that_main_turns_into_exit_2(files):
    audit_json, policy = files
    policy.write_text("[accuracy]\nmin = 2\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["gate", str(audit_json), "--policy", str(policy)])
    assert type(result.exception).__name__ == "AuditError" and "accuracy.min" in str(result.exception)


@pytest.mark.parametrize("damage", ["truncate", "edit", "version", "delete"])
def test_truncated_or_hand_edited_audit_json_exits_2(files, capsys, damage):
    audit_json, policy = files
    text = audit_json.read_text(encoding="utf-8")
    if damage == "truncate":
        audit_json.write_text(text[: len(text) * 2 // 3], encoding="utf-8")
    elif damage == "edit":
        audit_json.write_text(text.replace('"ece": 0.05', '"ece": "0.05"'), encoding="utf-8")
    elif damage == "version":
        audit_json.write_text(text.replace('"schema_version": "1"', '"schema_version": "0"'), encoding="utf-8")
    else:
        audit_json.unlink()
    assert run(["gate", str(audit_json), "--policy", str(policy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"audit: error: {audit_json}: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_missing_policy_option_is_a_usage_error(files):
    audit_json, _ = files
    assert run(["gate", str(audit_json)]) == 2


def test_checklist_file_replaces_the_stored_checklist(tmp_path, files):
    from audit.gate.checklist import template_text as checklist_template

    audit_json, policy = files
    answers = tmp_path / "answers.toml"
    answers.write_text(checklist_template(), encoding="utf-8")  # nothing answered: every item open
    result = CliRunner().invoke(app, ["gate", str(audit_json), "--policy", str(policy),
                                      "--checklist", str(answers)])
    assert result.exit_code == 1 and "FAIL  checklist_complete" in result.output
    gate = json.loads((audit_json.parent / "gate.json").read_text(encoding="utf-8"))
    assert gate["checklist_source"] == str(answers)
    answers.write_text("[[answer]]\nid = 'nope'\n", encoding="utf-8")
    assert run(["gate", str(audit_json), "--policy", str(policy), "--checklist", str(answers)]) == 2


def test_real_exit_codes_through_the_console_script(tmp_path, files):
    audit_json, policy = files

    def audit(*args):
        return subprocess.run([str(AUDIT_EXE), *map(str, args)], capture_output=True, text=True, timeout=120)

    ok = audit("gate", audit_json, "--policy", policy)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    failed = audit("gate", write_result(bad / "audit.json", json.loads(failing_result(tmp_path).read_text())),
                   "--policy", policy)
    assert failed.returncode == 1, failed.stderr
    audit_json.write_text(audit_json.read_text()[:100], encoding="utf-8")
    broken = audit("gate", audit_json, "--policy", policy)
    assert broken.returncode == 2 and "not valid JSON" in broken.stderr and "Traceback" not in broken.stderr


# --- audit policy init ------------------------------------------------------------------------------


def test_policy_init_writes_the_default_into_the_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run(["policy", "init"]) == 0
    path = tmp_path / DEFAULT_POLICY_NAME
    assert path.read_text(encoding="utf-8") == template_text()
    assert load_policy(path).accuracy == default_policy().accuracy
    assert [p.name for p in tmp_path.iterdir()] == [DEFAULT_POLICY_NAME]  # no temporary left behind
    assert DEFAULT_POLICY_NAME in capsys.readouterr().out


def test_policy_init_refuses_to_overwrite_without_force(tmp_path, capsys):
    path = tmp_path / "p.toml"
    path.write_text("keep me", encoding="utf-8")
    assert run(["policy", "init", "--out", str(path)]) == 2
    assert "--force" in capsys.readouterr().err and path.read_text(encoding="utf-8") == "keep me"
    assert run(["policy", "init", "--out", str(path), "--force"]) == 0
    assert path.read_text(encoding="utf-8") == template_text()


# --- the example CI workflow ------------------------------------------------------------------------


def test_example_workflow_is_valid_yaml_and_gates_on_the_exit_code():
    # The example gates through the composite action (action.yml), which runs `audit run` and publishes the
    # report and the summary even when the gate fails (tests/ci/test_action.py lints both).
    yaml = pytest.importorskip("yaml")
    path = REPO / "docs" / "examples" / "audit-workflow.yml"
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps = workflow["jobs"]["audit"]["steps"]
    uses = next(s for s in steps if s.get("uses", "").split("@")[0].endswith("/classifier-audit"))
    assert uses["with"]["policy"] == "audit-policy.toml" and uses["with"]["checklist"] == "audit-checklist.toml"
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))["runs"]["steps"]
    assert "audit \"${args[@]}\"" in next(s for s in action if s.get("id") == "audit")["run"]
    upload = next(s for s in action if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()" and upload["with"]["path"] == "${{ inputs.out }}"
    summary = next(s for s in action if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert summary["if"] == "always()" and "summary.md" in summary["run"]
    assert action[-1]["run"] == 'exit "${CODE:-2}"'  # the job fails on exit code 1 and 2
    assert not (REPO / ".github" / "workflows" / "audit.yml").exists()  # never runs in this repo by accident
