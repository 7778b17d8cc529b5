"""A small, hand-checkable audit result for the gate tests: 3 classes, 300 samples, every default rule passing."""

from __future__ import annotations

import copy
import json
from pathlib import Path

_RESULT = {
    "schema_version": "1",
    "tool": {"name": "audit", "version": "0.1.0"},
    "run": {"name": "fixture", "model_name": "fixture", "source": "predictions", "seed": 0},
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
    "calibration": {"n_bins": 15, "ece": 0.05, "ece_ci": [0.03, 0.07], "mce": 0.1,
                    "after_scaling": {"ece": 0.03, "ece_ci": [0.02, 0.05]}},
    "disparity": [
        {"name": "region", "kind": "group column", "proxy": False, "note": None, "metric": "accuracy",
         "groups": [{"group": "north", "n": 150, "accuracy": 0.68, "accuracy_ci": [0.6, 0.75]},
                    {"group": "south", "n": 150, "accuracy": 0.72, "accuracy_ci": [0.64, 0.79]}],
         "overall": 0.7, "difference": 0.04, "ratio": 0.68 / 0.72, "worst_group": "north", "best_group": "south"},
        {"name": "brightness", "kind": "image property", "proxy": True, "note": "proxy", "metric": "accuracy",
         "groups": [{"group": "dark", "n": 100, "accuracy": 0.45, "accuracy_ci": [0.36, 0.55]},
                    {"group": "bright", "n": 200, "accuracy": 0.825, "accuracy_ci": [0.77, 0.87]}],
         "overall": 0.7, "difference": 0.375, "ratio": 0.45 / 0.825, "worst_group": "dark",
         "best_group": "bright"},
    ],
    "checklist": {
        "items": [
            {"id": "consent-1", "category": "Informed consent", "question": "Consent?", "status": "yes",
             "evidence": "forms on file", "answered_by": "A", "answered_on": "2026-01-01", "links_to": None},
            {"id": "bias-1", "category": "Bias and discrimination", "question": "Gaps reviewed?",
             "status": "no", "evidence": "no people in the images", "answered_by": "A",
             "answered_on": "2026-01-01", "links_to": "disparity"},
            {"id": "oversight-1", "category": "Lack of regulation and oversight", "question": "Law?",
             "status": "not applicable", "evidence": "internal research use only", "answered_by": "A",
             "answered_on": "2026-01-01", "links_to": None},
        ],
        "source": "answers.toml",
        "n_open": 0,
    },
    "model_card": {"fields": {f: f"{f} as written by the team" for f in (
        "developers", "version", "licence", "contact", "intended_use", "out_of_scope_uses", "factors",
        "evaluation_data", "training_data", "ethical_considerations", "caveats")},
        "source": "answers.toml", "empty": []},
    "baseline": None,
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
