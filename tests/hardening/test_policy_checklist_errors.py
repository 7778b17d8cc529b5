"""Bad policy and checklist files through the CLI, both where they are used: ``audit run --predictions
p.npz --policy/--checklist`` and ``audit gate audit.json --policy/--checklist``. Each: exit 2, one line
naming the file, the problem (and the line, for syntax), no traceback, and no report or gate file written.

The loaders themselves are tested in tests/audit/gate/test_policy.py and tests/audit/gate/test_checklist.py.
"""

from __future__ import annotations

import pytest
from helpers.hardening_helpers import GOOD_CHECKLIST, assert_clear_error, run_main, snapshot, write_predictions

from audit.gate.policy import template_text

#: (id, file content, fragments the error line must hold)
BAD_POLICIES = [
    ("syntax", "[accuracy]\nenabled = true\nmin = \n", ("TOML syntax error", "line 3")),
    ("unknown-key", "[accuracy]\nminimum = 0.9\n", ("unknown key 'accuracy.minimum'", "did you mean 'accuracy.min'?")),
    ("unknown-section", "[acuracy]\nmin = 0.9\n", ("unknown key 'acuracy.min'", "did you mean 'accuracy.min'?")),
    ("wrong-type-string", '[accuracy]\nmin = "0.9"\n', ("key 'accuracy.min' must be a number; got '0.9'",)),
    ("wrong-type-bool", "[calibration]\nenabled = 1\n", ("key 'calibration.enabled' must be true or false; got 1",)),
    ("section-not-a-table", "accuracy = 0.9\n", ("key 'accuracy' must be a table [accuracy]; got 0.9",)),
    ("threshold-above-1", "[calibration]\nmax_ece = 1.5\n", ("key 'calibration.max_ece' must be in [0, 1]; got 1.5",)),
    ("threshold-negative", "[class_error]\nmax = -0.1\n", ("key 'class_error.max' must be in [0, 1]; got -0.1",)),
    ("threshold-nan", "[accuracy]\nmin = nan\n", ("must be in [0, 1]; got nan",)),
    ("alpha-at-bound", "[baseline]\nalpha = 0\n", ("key 'baseline.alpha' must be in (0, 1); got 0.0",)),
    ("override-out-of-range", "[class_error.overrides]\ncat = 2\n",
     ("key 'class_error.overrides.cat' must be in [0, 1]; got 2.0",)),
    ("invalid-choice", '[accuracy]\nuse = "mean"\n', ("key 'accuracy.use' must be one of 'ci_lower', 'point'; got 'mean'",)),
    ("invalid-list-item", '[disparity]\nchecks = ["diff"]\n', ("key 'disparity.checks[]' must be one of", "'diff'")),
    ("not-utf8", b"# caf\xe9\n[accuracy]\nmin = 0.5\n", ("cannot read policy file",)),
    ("missing", None, ("policy file not found", "audit policy init")),
    ("label-quality-share-above-1", "[label_quality]\nmax_flagged_share = 1.5\n",
     ("key 'label_quality.max_flagged_share' must be in [0, 1]; got 1.5",)),
    ("label-quality-trusted-not-bool", "[label_quality]\nrequire_trusted = \"yes\"\n",
     ("key 'label_quality.require_trusted' must be true or false; got 'yes'",)),
    ("slices-max-confirmed-negative", "[slices]\nmax_confirmed = -1\n",
     ("key 'slices.max_confirmed' must be in [0, ∞); got -1",)),
    ("slices-max-confirmed-fraction", "[slices]\nmax_confirmed = 0.5\n",
     ("key 'slices.max_confirmed' must be a whole number; got 0.5",)),
    ("slices-max-excess-above-1", "[slices]\nmax_excess = 2\n", ("key 'slices.max_excess' must be in [0, 1]; got 2.0",)),
]

_L = GOOD_CHECKLIST


def _sub(old: str, new: str) -> str:
    assert old in _L
    return _L.replace(old, new, 1)


BAD_CHECKLISTS = [
    ("syntax", _sub('status = "yes"', 'status = "yes'), ("TOML syntax error at line 3",)),
    ("unknown-top-level-key", "version = 2\n" + _L, ("line 1: unknown top-level key 'version'",)),
    ("not-array-of-tables", 'answer = "yes"\n', ("'answer' must be an array of tables",)),
    ("missing-id", _sub('id = "bias-1"\n', ""), ("line 8: [[answer]] number 2 has no 'id'",)),
    ("id-not-a-string", _sub('id = "bias-1"', "id = 3"), ("line 9: 'id' must be a string; got 3",)),
    ("unknown-item-id", _sub('id = "bias-1"', 'id = "bias-99"'), ("line 9: item 'bias-99': unknown item id", "known ids:")),
    ("unknown-field", _sub('evidence = "gaps', 'evidance = "gaps'), ("line 11: item 'bias-1': unknown field 'evidance'",)),
    ("missing-field", _sub('answered_by = "A. Reviewer"\n', ""), ("item 'consent-1': missing field 'answered_by'",)),
    ("invalid-status", _sub('status = "no"', 'status = "maybe"'), ("line 10: item 'bias-1': invalid status 'maybe'",)),
    ("status-wrong-type", _sub('status = "no"', "status = false"), ("item 'bias-1': invalid status False",)),
    ("no-without-evidence", _sub('evidence = "gaps not yet reviewed"', 'evidence = " "'),
     ("item 'bias-1': status 'no' needs 'evidence'",)),
    ("duplicate-answer", _sub('id = "bias-1"', 'id = "consent-1"'), ("item 'consent-1': answered twice (first answer at line 2)",)),
    ("bad-date", _sub('answered_on = "2026-01-16"', 'answered_on = "2026-02-30"'),
     ("item 'oversight-1': 'answered_on' must be a date like 2024-05-31; got '2026-02-30'",)),
    ("empty-answered-by", _sub('answered_by = "A. Reviewer"', 'answered_by = ""'),
     ("item 'consent-1': 'answered_by' must be a non-empty string",)),
    ("not-utf8", b"# caf\xe9\n", ("checklist file is not UTF-8 text",)),
    ("missing", None, ("checklist file not found", "audit checklist init")),
]


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A predictions file and the audit.json of a clean run on it, with a valid policy and checklist."""
    root = tmp_path_factory.mktemp("audited")
    preds = write_predictions(root / "p.npz")
    policy = root / "policy.toml"
    policy.write_text(template_text(), encoding="utf-8")
    checklist = root / "checklist.toml"
    checklist.write_text(GOOD_CHECKLIST, encoding="utf-8")
    assert run_main("run", "--predictions", preds, "--out", root / "report", "--bootstrap", "0",
                    "--checklist", checklist, "--reproducible") == 0
    return {"predictions": preds, "policy": policy, "checklist": checklist, "audit_json": root / "report" / "audit.json"}


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    return path


def _ids(cases):
    return [c[0] for c in cases]


def test_the_good_files_pass_through_both_commands(audited, tmp_path, capsys):
    code = run_main("gate", audited["audit_json"], "--policy", audited["policy"], "--checklist",
                    audited["checklist"], "--out", tmp_path / "gate")
    assert code in (0, 1), capsys.readouterr().err  # a verdict, not an error
    assert {p.name for p in (tmp_path / "gate").iterdir()} == {"gate.json", "junit.xml"}


@pytest.mark.parametrize("command", ["run", "gate"])
@pytest.mark.parametrize("case, content, fragments", BAD_POLICIES, ids=_ids(BAD_POLICIES))
def test_bad_policy_exits_2_and_writes_nothing(command, case, content, fragments, audited, tmp_path, capsys):
    path = _write(tmp_path, "audit-policy.toml", content)
    out = tmp_path / "out"
    before = snapshot(audited["audit_json"].parent)
    if command == "run":
        code = run_main("run", "--predictions", audited["predictions"], "--policy", path, "--out", out,
                        "--bootstrap", "0")
    else:
        code = run_main("gate", audited["audit_json"], "--policy", path, "--out", out)
    err = capsys.readouterr().err
    assert code == 2, err
    assert_clear_error(err, path, *fragments)
    assert not out.exists()
    assert snapshot(audited["audit_json"].parent) == before


@pytest.mark.parametrize("command", ["run", "gate"])
@pytest.mark.parametrize("case, content, fragments", BAD_CHECKLISTS, ids=_ids(BAD_CHECKLISTS))
def test_bad_checklist_exits_2_and_writes_nothing(command, case, content, fragments, audited, tmp_path, capsys):
    path = _write(tmp_path, "audit-checklist.toml", content)
    out = tmp_path / "out"
    before = snapshot(audited["audit_json"].parent)
    if command == "run":
        code = run_main("run", "--predictions", audited["predictions"], "--checklist", path, "--out", out,
                        "--bootstrap", "0")
    else:
        code = run_main("gate", audited["audit_json"], "--policy", audited["policy"], "--checklist", path,
                        "--out", out)
    err = capsys.readouterr().err
    assert code == 2, err
    assert_clear_error(err, path, *fragments)
    assert not out.exists()
    assert snapshot(audited["audit_json"].parent) == before
