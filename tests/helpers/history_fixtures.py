"""Audit results for the history tests: the gate fixture with a verdict, a thumbnail and a robustness section."""

from __future__ import annotations

from helpers.gate_fixtures import make_result

PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def result(model: str = "fixture", *, passed: bool = True, informational: bool = False, accuracy: float = 0.7,
           robustness: float | None = None) -> dict:
    """The gate fixture (3 classes, 300 samples) with a gate verdict, one mistake with a thumbnail, and
    optionally a robustness section; ``accuracy`` replaces the overall accuracy."""
    r = make_result()
    r["run"] = {"name": model, "model_name": model, "source": "predictions", "seed": 0}
    r["overall"]["accuracy"] = accuracy
    r["provenance"] = {"model_sha256": None, "data_sha256": None,
                       "predictions_sha256": {"p.npz": "ab" * 32}}
    r["mistakes"] = [{"index": 7, "sample_id": "s7", "true": "cat", "predicted": "dog", "confidence": 0.99,
                      "thumbnail": PNG}]
    r["gate"] = {"policy_source": None if informational else "policy.toml", "informational": informational,
                 "passed": passed,
                 "rules": [{"name": "min_accuracy", "value": accuracy, "threshold": 0.6, "passed": passed,
                            "skipped": False, "reason": None}]}
    if robustness is not None:
        r["robustness"] = {"mean_accuracy": robustness, "cells": []}
    return r
