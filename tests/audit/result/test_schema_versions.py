"""audit.json schema 2 (confusion_cells; dense matrices only up to 100 classes) beside schema 1: `audit
gate` and `--baseline` read both."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from helpers.any_input import arrays

from audit.cli import app
from audit.metrics.classification import DENSE_CONFUSION_MAX, dense_confusion


def audit(tmp_path, k, name, *extra):
    labels, probs, _ = arrays(k, 400, seed=k)
    path = tmp_path / f"{name}.npz"
    np.savez(path, labels=labels, probs=probs)
    out = tmp_path / name
    done = CliRunner().invoke(app, ["run", "--predictions", str(path), "--out", str(out), "--bootstrap", "0",
                                    "--reproducible", *extra])
    assert done.exit_code == 0, done.output
    return path, out / "audit.json"


def as_schema_1(audit_json, tmp_path):
    """What an earlier version wrote: schema 1, dense matrices, no confusion_cells, no model card."""
    result = json.loads(audit_json.read_text(encoding="utf-8"))
    result["schema_version"] = "1"
    del result["confusion_cells"], result["model_card"]
    old = tmp_path / "old-audit.json"
    old.write_text(json.dumps(result), encoding="utf-8")
    return old


def as_schema_2(audit_json, tmp_path):
    """The same result as schema version 2 wrote it: an image run's input description in ``settings.images``,
    no ``selective_policy`` in the gate."""
    result = json.loads(audit_json.read_text(encoding="utf-8"))
    result["schema_version"] = "2"
    result["provenance"]["settings"]["images"] = {"input": "32x32x3", "scaling": "x / 255"}
    result["gate"].pop("selective_policy", None)
    old = tmp_path / "v2-audit.json"
    old.write_text(json.dumps(result), encoding="utf-8")
    return old


@pytest.mark.parametrize("k", [10, DENSE_CONFUSION_MAX + 20])
def test_gate_and_baseline_read_both_versions(tmp_path, k):
    path, new = audit(tmp_path, k, "current")
    result = json.loads(new.read_text(encoding="utf-8"))
    assert result["schema_version"] == "3"
    counts = dense_confusion(result["confusion_cells"], k)
    assert counts.sum() == 400
    if k <= DENSE_CONFUSION_MAX:
        assert counts.tolist() == result["confusion_matrix"]
    else:
        assert result["confusion_matrix"] is None and result["confusion_matrix_normalized"] is None
    policy = tmp_path / "policy.toml"
    policy.write_text("[checklist]\nenabled = false\n[model_card]\nenabled = false\n", encoding="utf-8")
    files = [new, as_schema_2(new, tmp_path)] + ([as_schema_1(new, tmp_path)] if k <= DENSE_CONFUSION_MAX else [])
    for stored in files:
        gated = CliRunner().invoke(app, ["gate", str(stored), "--policy", str(policy), "--out", str(tmp_path / "g")])
        assert gated.exit_code in (0, 1) and "RULE" in gated.output, gated.output
        out = tmp_path / f"again-{stored.stem}"
        again = CliRunner().invoke(app, ["run", "--predictions", str(path), "--baseline", str(stored),
                                         "--out", str(out), "--bootstrap", "0"])
        assert again.exit_code == 0, again.output
        baseline = json.loads((out / "audit.json").read_text(encoding="utf-8"))["baseline"]
        assert baseline["overall"]["delta"] == 0.0
