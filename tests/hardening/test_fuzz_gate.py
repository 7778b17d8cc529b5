"""Fuzzing ``audit gate`` on mutated audit.json files (bounded for CI: 50 examples a test, more with
AUDIT_FUZZ_EXAMPLES): every outcome is a verdict (exit 0 or 1, gate.json written) or exit 2 with one
``audit: error:`` line naming the file -- never an internal error, never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from helpers.hardening_helpers import GOOD_CHECKLIST, run_main, write_predictions

from audit.gate.policy import template_text

EXAMPLES = int(os.environ.get("AUDIT_FUZZ_EXAMPLES", "50"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 400), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([-0.5, 1.5, 1e308, "", "x", "nan", [], {}, [0.1], [0.9, 0.1], [0.1, 0.2, 0.3], {"a": 1}]),
    st.text(max_size=6),
)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """(audit.json text of a real run with groups and a checklist, the policy file)."""
    root = tmp_path_factory.mktemp("gate-fuzz")
    preds = write_predictions(root / "p.npz")
    (root / "checklist.toml").write_text(GOOD_CHECKLIST, encoding="utf-8")
    policy = root / "policy.toml"
    policy.write_text(template_text(), encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert run_main("run", "--predictions", preds, "--group-col", "region", "--checklist",
                        root / "checklist.toml", "--bootstrap", "0", "--reproducible", "--out", root / "r") == 0
    return (root / "r" / "audit.json").read_text(encoding="utf-8"), policy


def _paths(node, prefix=()):
    """Every (key path) in a JSON tree, containers included."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _set(doc, path, value, delete):
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    elif delete and isinstance(parent, list):
        parent.pop(path[-1])
    else:
        parent[path[-1]] = value


def gate_outcome(data: bytes, policy: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.json"
        path.write_bytes(data)
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = run_main("gate", path, "--policy", policy, "--out", Path(tmp) / "g")
        err = err.getvalue()
        assert "Traceback" not in err and "internal error" not in err, err
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"audit: error: {path}: "), err
            assert not (Path(tmp) / "g").exists()
        else:
            assert code in (0, 1), (code, err)
            gate = json.loads((Path(tmp) / "g" / "gate.json").read_text())
            assert gate["passed"] is (code == 0)


@FUZZ
@given(st.data())
def test_mutated_values(stored, data):
    text, policy = stored
    doc = json.loads(text)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = data.draw(st.sampled_from(paths))
        _set(doc, path, data.draw(JSON_VALUES), delete=data.draw(st.booleans()))
    gate_outcome(json.dumps(doc).encode(), policy)


@FUZZ
@given(st.data())
def test_damaged_bytes(stored, data):
    text, policy = stored
    raw = bytearray(text.encode())
    kind = data.draw(st.sampled_from(["truncate", "flip", "insert"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if kind == "truncate":
        raw = raw[:at]
    elif kind == "flip":
        raw[at] = data.draw(st.integers(0, 255))
    else:
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    gate_outcome(bytes(raw), policy)


def test_the_unmutated_file_gives_a_verdict(stored):
    text, policy = stored
    gate_outcome(text.encode(), policy)
