"""What of a result is stored: numbers only (no images, no sample-level predictions), and the key metrics."""

from __future__ import annotations

import hashlib
import json

import pytest

from audit.history import record
from helpers.history_fixtures import PNG, result


def test_key_metrics_worked_by_hand():
    # gate fixture: accuracy 0.7, balanced 0.7, per-class error rates 0.4/0.3/0.2, ECE 0.05 -> 0.03,
    # disparity differences 0.04 (region) and 0.375 (brightness), review load 0.4 at the 90% target
    assert record.key_metrics(result()) == pytest.approx({
        "accuracy": 0.7, "balanced_accuracy": 0.7, "worst_class_error": 0.4, "ece_before": 0.05,
        "ece_after": 0.03, "largest_disparity": 0.375, "review_load": 0.4})


def test_robustness_mean_only_when_present():
    assert "robustness_mean" not in record.key_metrics(result())
    assert record.key_metrics(result(robustness=0.55))["robustness_mean"] == 0.55


def test_undefined_metrics_are_left_out():
    r = result()
    r["calibration"] = None
    r["disparity"] = []
    for row in r["per_class"]:
        row["error_rate"] = None
    r["overall"]["accuracy"] = float("nan")
    r["selective"]["review_load"] = None
    assert set(record.key_metrics(r)) == {"balanced_accuracy"}


def test_stored_result_has_no_images_and_no_sample_level_predictions():
    r = result()
    r["calibration"]["bins"] = [{"lo": 0, "hi": 1, "count": 3, "thumbnail": PNG}]
    r["extra"] = {"nested": [{"image": "x", "preview": PNG, "keep": 1}]}
    stored = record.stored_result(r)
    text = json.dumps(stored)
    assert "mistakes" not in stored and "data:image" not in text and "thumbnail" not in text
    assert stored["extra"] == {"nested": [{"preview": None, "keep": 1}]}
    assert stored["overall"] == r["overall"] and stored["per_class"] == r["per_class"]
    assert r["mistakes"][0]["thumbnail"] == PNG  # the caller's result is untouched


def test_stored_result_keeps_the_explanations_figures_but_not_the_maps():
    r = result()
    r["explanations"] = {"method": "grad-cam", "items": [{"index": 0, "sample_id": "a.png", "class": "cat",
                                                          "map": [[1.0]], "overlay": PNG, "heatmap": PNG}],
                         "sanity": {"deletion_win_rate": 0.75}}
    stored = record.stored_result(r)
    assert stored["explanations"] == {"method": "grad-cam", "items": [], "sanity": {"deletion_win_rate": 0.75}}
    assert len(r["explanations"]["items"]) == 1  # the caller's result is untouched


def test_hashes():
    r = result()
    expected = hashlib.sha256(json.dumps({"p.npz": "ab" * 32}, sort_keys=True).encode()).hexdigest()
    assert record.hashes(r) == (None, expected)
    r["provenance"]["model_sha256"] = "cd" * 32
    assert record.hashes(r)[0] == "cd" * 32
