"""Tests of the baseline comparison: hand-worked deltas, exact McNemar against math.comb, matching errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers.gate_fixtures import make_result, write_result
from numpy.testing import assert_allclose

from audit.gate.baseline import compare_predictions, mcnemar_exact
from audit.pipeline import compare_baseline as compare
from audit.errors import AuditError
from audit.gate.policy import default_policy
from audit.predictions import make_predictions
from audit.gate.verdict import evaluate


def exact_mcnemar_by_hand(b: int, c: int) -> float:
    """Two-sided exact McNemar p: min(1, 2 * P(X <= min(b, c))), X ~ Binomial(b + c, 1/2); 1 when b + c = 0."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def preds(labels, predicted, ids, names=("a", "b")):
    probs = np.full((len(labels), len(names)), 0.1 / (len(names) - 1))
    probs[np.arange(len(labels)), predicted] = 0.9
    return make_predictions(labels, probs, names, sample_ids=ids)


# Hand-worked: 8 samples, classes a (s0-s3) and b (s4-s7).
#   baseline right:  T T F T | T T F T   -> 6/8; per class 3/4, 3/4
#   current right:   T F F T | T F T F   -> 4/8; per class 2/4, 2/4
#   b (baseline right, current wrong) = s1, s5, s7 = 3; c (the reverse) = s6 = 1
LABELS = [0, 0, 0, 0, 1, 1, 1, 1]
BASE_PRED = [0, 0, 1, 0, 1, 1, 0, 1]
CUR_PRED = [0, 1, 1, 0, 1, 0, 1, 0]
IDS = [f"s{i}" for i in range(8)]


def hand_pair(shuffle: bool = True):
    base = preds(LABELS, BASE_PRED, IDS)
    order = [5, 2, 7, 0, 3, 6, 1, 4] if shuffle else list(range(8))
    cur = preds([LABELS[i] for i in order], [CUR_PRED[i] for i in order], [IDS[i] for i in order])
    return cur, base


@pytest.mark.parametrize(("b", "c"), [(0, 0), (1, 0), (5, 0), (3, 1), (3, 7), (10, 10), (1, 12), (40, 25),
                                      (0, 30), (200, 170)])
def test_mcnemar_matches_exact_binomial_by_hand(b, c):
    before = np.array([True] * b + [False] * c + [True] * 3 + [False] * 2)
    after = np.array([False] * b + [True] * c + [True] * 3 + [False] * 2)
    got = mcnemar_exact(before, after)
    assert (got["b"], got["c"]) == (b, c)
    assert_allclose(got["p_value"], exact_mcnemar_by_hand(b, c), rtol=1e-12)
    assert 0.0 <= got["p_value"] <= 1.0


def test_mcnemar_hand_values():
    assert exact_mcnemar_by_hand(3, 1) == 10 / 16
    assert exact_mcnemar_by_hand(0, 5) == 2 / 32
    assert mcnemar_exact([True] * 5, [True] * 5) == {"b": 0, "c": 0, "p_value": 1.0}


def test_compare_predictions_hand_worked_and_matched_by_id():
    cur, base = hand_pair()
    out = compare_predictions(cur, base, source="old.npz")
    assert out["kind"] == "predictions" and out["source"] == "old.npz"
    overall = out["overall"]
    assert (overall["n"], overall["accuracy_before"], overall["accuracy_after"]) == (8, 0.75, 0.5)
    assert_allclose(overall["delta"], -0.25)
    assert overall["mcnemar"] == {"b": 3, "c": 1, "p_value": pytest.approx(10 / 16)}
    a, b = out["per_class"]
    assert (a["class"], a["recall_before"], a["recall_after"]) == ("a", 0.75, 0.5)
    assert a["mcnemar"] == {"b": 1, "c": 0, "p_value": 1.0}
    assert (b["class"], b["recall_before"], b["recall_after"]) == ("b", 0.75, 0.5)
    assert b["mcnemar"] == {"b": 2, "c": 1, "p_value": 1.0}
    # same answer whatever the row order of the current file
    assert compare_predictions(*hand_pair(shuffle=False), source="old.npz") == out


def test_class_absent_from_the_test_set_is_null():
    cur = preds([0, 0], [0, 1], ["x", "y"], names=("a", "b", "c"))
    base = preds([0, 0], [0, 0], ["x", "y"], names=("a", "b", "c"))
    out = compare_predictions(cur, base, source="old.npz")
    assert out["per_class"][1] == {"class": "b", "recall_before": None, "recall_after": None, "delta": None,
                                   "mcnemar": None}


def test_sample_id_mismatch_reports_counts():
    cur, _ = hand_pair()
    base = preds(LABELS[:6] + [1, 1], BASE_PRED, IDS[:6] + ["t1", "t2"])
    with pytest.raises(AuditError) as info:
        compare_predictions(cur, base, source="old.npz")
    assert "6 shared, 2 only in the current predictions, 2 only in the baseline" in str(info.value)
    assert str(info.value).startswith("old.npz: ")


def test_label_disagreement_is_an_error():
    cur, _ = hand_pair()
    base = preds([1] + LABELS[1:], BASE_PRED, IDS)
    with pytest.raises(AuditError, match="disagree on the true label of 1 of 8 matched samples"):
        compare_predictions(cur, base, source="old.npz")


def test_missing_sample_ids_and_other_classes_are_errors():
    cur, base = hand_pair()
    no_ids = make_predictions(LABELS, base.probs, ("a", "b"))
    with pytest.raises(AuditError, match="needs sample ids in both files; the baseline has none"):
        compare_predictions(cur, no_ids, source="old.npz")
    other = preds(LABELS, BASE_PRED, IDS, names=("a", "c"))
    with pytest.raises(AuditError, match="baseline classes"):
        compare_predictions(cur, other, source="old.npz")


def test_compare_reads_a_predictions_file(tmp_path):
    from audit.sources import save_npz

    cur, base = hand_pair()
    path = save_npz(tmp_path / "old.npz", base)
    out = compare(make_result(), path, current_pred=cur)
    assert out == compare_predictions(cur, base, source=str(path))
    with pytest.raises(AuditError, match="needs the current predictions"):
        compare(make_result(), path, current_pred=None)


def test_compare_reads_an_audit_json_baseline(tmp_path):
    old = make_result()
    old["overall"]["accuracy"] = 0.72
    old["per_class"][0]["recall"] = 0.65
    path = write_result(tmp_path / "old-audit.json", old)
    out = compare(make_result(), path, current_pred=None)
    assert out["kind"] == "audit.json" and out["source"] == str(path)
    assert_allclose(out["overall"]["delta"], -0.02)
    assert out["overall"]["mcnemar"] is None
    assert_allclose([e["delta"] for e in out["per_class"]], [-0.05, 0.0, 0.0], atol=1e-15)
    assert all(e["mcnemar"] is None for e in out["per_class"])
    # and the gate reads it: cat lost 5 points with no p-value -> fails closed; overall at the threshold passes
    result = make_result()
    result["baseline"] = out
    rules = {r["name"]: r for r in evaluate(result, default_policy(), informational=False)["rules"]}
    assert rules["baseline_no_regression[cat]"]["passed"] is False
    assert rules["baseline_no_regression"]["passed"] is True


@pytest.mark.parametrize(("edit", "message"), [
    (lambda r: r.update(class_names=["cat", "dog", "plane"]) or r["per_class"][2].update({"class": "plane"}),
     "baseline classes"),
    (lambda r: r["overall"].update(n=301), "baseline was measured on 301 samples, this audit on 300"),
    (lambda r: r["per_class"][1].update(support=99), "class 'dog'"),
])
def test_audit_json_baseline_on_another_test_set_is_an_error(tmp_path, edit, message):
    old = make_result()
    edit(old)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    with pytest.raises(AuditError, match=message):
        compare(make_result(), path, current_pred=None)


def test_truncated_audit_json_baseline_is_an_error(tmp_path):
    path = write_result(tmp_path / "old.json")
    path.write_text(path.read_text(encoding="utf-8")[:200], encoding="utf-8")
    with pytest.raises(AuditError, match="not valid JSON"):
        compare(make_result(), path, current_pred=None)
