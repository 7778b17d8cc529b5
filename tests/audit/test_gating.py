"""audit.gating: how ``policy=``, ``checklist=`` and ``baseline=`` arguments become what the gate reads; a mapping
is validated as its file is, and an argument of the wrong kind is refused by name (issue 21, review findings 1, 8)."""

from __future__ import annotations

import numpy as np
import pytest

import audit
from audit.gating import CHECKLIST_TYPES, MSG_ARGUMENT_TYPE, POLICY_TYPES, checklist_answers

NAMES = ["cat", "dog", "bird"]
ANSWER = {"id": "consent-1", "status": "yes", "evidence": "signed forms", "answered_by": "A. Reviewer",
          "answered_on": "2024-05-31"}


@pytest.fixture(scope="module")
def pred():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=60)
    return audit.make_predictions(probs.argmax(axis=1), probs, NAMES)


def test_only_what_load_checklist_returned_counts_as_loaded():
    loaded = audit.load_checklist({"answer": [ANSWER]})
    assert checklist_answers(loaded) is loaded and audit.load_checklist(loaded) is loaded  # loading it again
    # the same content as a plain dict is validated again, as a file: "source" is not a key of the file
    with pytest.raises(audit.AuditError, match=r"^checklist \(in memory\): unknown top-level key 'source'"):
        checklist_answers(dict(loaded))
    with pytest.raises(audit.AuditError, match=r"unknown top-level key 'answers'.*\(did you mean 'answer'\?\)$"):
        checklist_answers({"answers": [ANSWER]})


@pytest.mark.parametrize("answers", [
    {"answers": [ANSWER]},                                                      # was: AttributeError
    {"answers": {"consent-1": {"status": "maybe"}}},                            # was: KeyError 'evidence'
    {"answers": {"consent-1": {**ANSWER, "status": "maybe"}}, "model_card": {}, "source": "x"},  # was: accepted
])
def test_a_checklist_mapping_with_answers_is_refused_by_name(pred, answers):
    with pytest.raises(audit.AuditError) as err:
        audit.run_audit(pred, n_bootstrap=0, checklist=answers)
    assert str(err.value).startswith("checklist (in memory): unknown top-level key")
    assert "'answers'" in str(err.value) and "\n" not in str(err.value)


def test_a_bad_status_in_a_mapping_gets_the_files_message(pred, tmp_path):
    bad = {**ANSWER, "status": "maybe"}
    with pytest.raises(audit.AuditError) as in_memory:
        audit.run_audit(pred, n_bootstrap=0, checklist={"answer": [bad]})
    file = tmp_path / "answers.toml"
    file.write_text("[[answer]]\n" + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in bad.items()),
                    encoding="utf-8")
    with pytest.raises(audit.AuditError) as from_file:
        audit.run_audit(pred, n_bootstrap=0, checklist=file)
    assert in_memory.value.message == "item 'consent-1': invalid status 'maybe'; expected one of 'yes' | 'no' | " \
                                      "'not applicable'"
    assert from_file.value.message.endswith(in_memory.value.message)  # the file's adds the line


@pytest.mark.parametrize("value, kind", [(["x"], "list"), (0.9, "float"), (3, "int")])
def test_a_policy_of_the_wrong_type_is_refused_by_name(pred, value, kind):
    with pytest.raises(TypeError) as err:
        audit.run_audit(pred, n_bootstrap=0, policy=value)
    assert str(err.value) == MSG_ARGUMENT_TYPE.format(name="policy", accepted=POLICY_TYPES, kind=kind)
    with pytest.raises(TypeError, match=f"^policy must be a path or a mapping .*; got {kind}$"):
        audit.load_policy(value)


@pytest.mark.parametrize("value, kind", [(5, "int"), (["x"], "list"), (1.5, "float")])
def test_a_checklist_of_the_wrong_type_is_refused_by_name(pred, value, kind):
    with pytest.raises(TypeError) as err:
        audit.run_audit(pred, n_bootstrap=0, checklist=value)
    assert str(err.value) == MSG_ARGUMENT_TYPE.format(name="checklist", accepted=CHECKLIST_TYPES, kind=kind)
    with pytest.raises(TypeError, match=f"^checklist must be a path or a mapping .*; got {kind}$"):
        audit.load_checklist(value)


@pytest.mark.parametrize("value, kind", [(3.5, "float"), (["a.json"], "list"), (True, "bool"), (3, "int")])
def test_a_baseline_of_the_wrong_type_is_refused_by_name_before_any_metric(pred, value, kind):
    if kind != "int":  # an integer is a run id (what AuditResult.record returns): tests/audit/test_pipeline.py
        with pytest.raises(TypeError, match=f"^baseline must be a path .*; got {kind}$"):
            audit.run_audit(pred, n_bootstrap=0, baseline=value)
    with pytest.raises(TypeError, match=f"^policy must be .*; got {kind}$"):
        audit.regate(audit.run_audit(pred, n_bootstrap=0), policy=value)
