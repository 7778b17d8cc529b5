"""A small, hand-checkable audit result for the gate tests: 3 classes, 300 samples, every default rule passing.

It is a complete audit.json (tests/audit/result/test_schema.py holds it to audit.result.schema): the confusion
matrix agrees with the per-class counts, and the sections the gate does not read carry plain values."""

from __future__ import annotations

import copy
import json
from pathlib import Path

def _selective_cell(group: str, n: int, coverage: float) -> dict:
    """One group's selective cell: coverage as given, review load = 1 − coverage, the rest placeholders."""
    return {"group": group, "n": n, "accuracy": 0.7, "accuracy_ci": [0.6, 0.8], "coverage": coverage,
            "coverage_ci": [coverage - 0.05, coverage + 0.05], "review_load": round(1 - coverage, 10),
            "review_load_ci": [0.95 - coverage, 1.05 - coverage], "selective_accuracy": 0.9,
            "selective_accuracy_ci": [0.85, 0.95]}


_RESULT = {
    "schema_version": "1",
    "tool": {"name": "audit", "version": "0.1.0"},
    "run": {"name": "fixture", "model_name": "fixture", "source": "predictions", "seed": 0},
    "provenance": {"model_sha256": None, "data_sha256": None, "predictions_sha256": {"preds.npz": "0" * 64},
                   "versions": {"python": "3.11.7", "audit": "0.1.0"},
                   "settings": {"seed": 0, "n_bootstrap": 200, "images": False, "group_cols": ["region"], "n_bins": 15,
                                "max_mistakes": 24, "target_accuracy": 0.9}},
    "conventions": {"accuracy_ci": "95% Wilson score interval"},
    "class_names": ["cat", "dog", "ship"],
    # 210 of 300 right; accuracy_ci is the 95% Wilson interval of 210/300.
    "overall": {"n": 300, "n_correct": 210, "accuracy": 0.7, "accuracy_ci": [0.6459, 0.7491],
                "balanced_accuracy": 0.7, "macro_f1": 0.7, "mean_confidence": 0.75},
    "per_class": [
        {"class": "cat", "index": 0, "support": 100, "n_predicted": 100, "error_rate": 0.4,
         "error_rate_ci": [0.3094, 0.4980], "precision": 0.6, "recall": 0.6, "f1": 0.6, "mean_confidence": 0.7},
        {"class": "dog", "index": 1, "support": 100, "n_predicted": 100, "error_rate": 0.3,
         "error_rate_ci": [0.2189, 0.3958], "precision": 0.7, "recall": 0.7, "f1": 0.7, "mean_confidence": 0.75},
        {"class": "ship", "index": 2, "support": 100, "n_predicted": 100, "error_rate": 0.2,
         "error_rate_ci": [0.1334, 0.2888], "precision": 0.8, "recall": 0.8, "f1": 0.8, "mean_confidence": 0.8},
    ],
    # rows = true class, columns = predicted class: diagonal 60/70/80, every row and column sums to 100
    "confusion_matrix": [[60, 20, 20], [30, 70, 0], [10, 10, 80]],
    "confusion_matrix_normalized": [[0.6, 0.2, 0.2], [0.3, 0.7, 0.0], [0.1, 0.1, 0.8]],
    "top_confusions": [{"true": "dog", "predicted": "cat", "count": 30, "rate": 0.3},
                       {"true": "cat", "predicted": "dog", "count": 20, "rate": 0.2},
                       {"true": "cat", "predicted": "ship", "count": 20, "rate": 0.2},
                       {"true": "ship", "predicted": "cat", "count": 10, "rate": 0.1},
                       {"true": "ship", "predicted": "dog", "count": 10, "rate": 0.1}],
    "calibration": {"n_bins": 15, "binning": "equal-width (lo, hi]", "ece": 0.05, "ece_ci": [0.03, 0.07],
                    "mce": 0.1, "classwise_ece": 0.04, "adaptive_ece": 0.05,
                    "adaptive_binning": "equal-count, 15 bins over sorted top-label confidence",
                    "brier": 0.4, "nll": 0.8, "nll_clip": 1e-15, "bins": [], "temperature": 1.2,
                    "temperature_fit": {"method": "given", "source": "given", "n": None},
                    "after_scaling": {"ece": 0.03, "ece_ci": [0.02, 0.05], "mce": 0.08, "classwise_ece": 0.03,
                                      "adaptive_ece": 0.03, "brier": 0.39, "nll": 0.75, "bins": []}},
    "disparity": [
        {"name": "region", "kind": "group column", "proxy": False, "note": "region as given", "metric": "accuracy",
         "groups": [{"group": "north", "n": 150, "accuracy": 0.68, "accuracy_ci": [0.6, 0.75]},
                    {"group": "south", "n": 150, "accuracy": 0.72, "accuracy_ci": [0.64, 0.79]}],
         "overall": 0.7, "difference": 0.04, "ratio": 0.68 / 0.72, "difference_to_overall": 0.02,
         "ratio_to_overall": 0.68 / 0.7, "worst_group": "north", "best_group": "south", "per_class_gaps": []},
        {"name": "brightness", "kind": "image property", "proxy": True, "note": "proxy", "metric": "accuracy",
         "groups": [{"group": "dark", "n": 100, "accuracy": 0.45, "accuracy_ci": [0.36, 0.55]},
                    {"group": "bright", "n": 200, "accuracy": 0.825, "accuracy_ci": [0.77, 0.87]}],
         "overall": 0.7, "difference": 0.375, "ratio": 0.45 / 0.825, "difference_to_overall": 0.25,
         "ratio_to_overall": 0.45 / 0.7, "worst_group": "dark", "best_group": "bright", "per_class_gaps": []},
    ],
    "checklist": {
        "items": [
            {"id": "consent-1", "category": "Informed consent", "question": "Consent?", "status": "yes",
             "evidence": "forms on file", "answered_by": "A", "answered_on": "2026-01-01", "links_to": None, "reference": None},
            {"id": "bias-1", "category": "Bias and discrimination", "question": "Gaps reviewed?",
             "status": "no", "evidence": "no people in the images", "answered_by": "A",
             "answered_on": "2026-01-01", "links_to": "disparity", "reference": None},
            {"id": "oversight-1", "category": "Lack of regulation and oversight", "question": "Law?",
             "status": "not applicable", "evidence": "internal research use only", "answered_by": "A",
             "answered_on": "2026-01-01", "links_to": None, "reference": None},
        ],
        "source": "answers.toml",
        "n_open": 0,
    },
    "mistakes": [],
    "gate": {"policy_source": None, "informational": True, "passed": True, "rules": []},
    "model_card": {"fields": {f: f"{f} as written by the team" for f in (
        "developers", "version", "licence", "contact", "intended_use", "out_of_scope_uses", "factors",
        "evaluation_data", "training_data", "ethical_considerations", "caveats")},
        "source": "answers.toml", "empty": []},
    "baseline": None,
    # coverage 0.6 at 90% accuracy; review load 0.40 / 0.44 by region (gap 0.04), 0.2 / 0.7 by the
    # brightness proxy (not gated by default).
    # selective classification at 90% target accuracy: the cells the gate reads are hand-set (review load
    # = 1 − coverage), the rest are plain placeholders
    "selective": {
        "n": 300, "target_accuracy": 0.9, "aurc": 0.12, "aurc_optimal": 0.05, "eaurc": 0.07, "aurc_bound": 0.0,
        "accuracy_full": 0.7, "threshold": 0.8, "coverage": 0.6, "coverage_ci": [0.54, 0.65],
        "review_load": 0.4, "review_load_ci": [0.35, 0.46], "selective_accuracy": 0.9,
        "selective_accuracy_ci": [0.85, 0.93], "coverage_upper": 0.6,
        "curve": {"coverage": [0.5, 1.0], "accuracy": [0.92, 0.7]},
        "by_class": [],
        "by_group": [
            {"name": "region", "kind": "group column", "proxy": False,
             "groups": [_selective_cell("north", 150, 0.6), _selective_cell("south", 150, 0.56)],
             "accuracy_gap_full": 0.04, "worst_group_full": "north", "accuracy_gap_at_target": 0.02,
             "worst_group_at_target": "north", "review_load_gap": 0.04, "most_reviewed_group": "south"},
            {"name": "brightness", "kind": "image property", "proxy": True,
             "groups": [_selective_cell("dark", 100, 0.3), _selective_cell("bright", 200, 0.8)],
             "accuracy_gap_full": 0.375, "worst_group_full": "dark", "accuracy_gap_at_target": 0.1,
             "worst_group_at_target": "dark", "review_load_gap": 0.5, "most_reviewed_group": "dark"},
        ],
    },
}


def make_result() -> dict:
    """A fresh deep copy of the fixture result (tests edit it freely)."""
    return copy.deepcopy(_RESULT)


def with_baseline(result: dict, *, overall_delta: float = 0.0, class_deltas=None, p_value=None) -> dict:
    """``result`` with a baseline section: deltas (after - before) and, if ``p_value``, McNemar tests."""
    class_deltas = class_deltas or {}
    mcnemar = None if p_value is None else {"b": 10, "c": 2, "p_value": p_value}
    acc = result["overall"]["accuracy"]
    result["baseline"] = {
        "source": "old/audit.json" if p_value is None else "old/preds.npz",
        "kind": "audit.json" if p_value is None else "predictions",
        "overall": {"n": 300, "accuracy_before": acc - overall_delta, "accuracy_after": acc,
                    "delta": overall_delta, "mcnemar": mcnemar},
        "per_class": [
            {"class": e["class"], "recall_before": e["recall"] - class_deltas.get(e["class"], 0.0),
             "recall_after": e["recall"], "delta": class_deltas.get(e["class"], 0.0), "mcnemar": mcnemar}
            for e in result["per_class"]
        ],
    }
    return result


def write_result(path: Path, result: dict | None = None) -> Path:
    """Write ``result`` (default: the fixture) as an audit.json file and return its path."""
    path.write_text(json.dumps(make_result() if result is None else result, indent=2), encoding="utf-8")
    return path
