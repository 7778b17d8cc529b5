"""What of an audit result goes into the database: numbers only, the key metrics, the hashes, the verdict.

The report's privacy rule holds for the database too: images (thumbnails, any ``data:`` URI) and
sample-level predictions (``mistakes``: sample ids, labels and confidences of single images) are left
out of the stored result.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from typing import Any

#: Top-level sections holding sample-level data, never stored.
SAMPLE_LEVEL = ("mistakes",)
#: Keys whose values are images, removed wherever they occur.
IMAGE_KEYS = frozenset({"thumbnail", "thumbnails", "image", "images"})
#: The key metrics of the narrow table, in display order, with how each is read from the result.
METRICS = (
    "accuracy", "balanced_accuracy", "worst_class_error", "ece_before", "ece_after", "largest_disparity",
    "robustness_mean",
)


def stored_result(result: dict) -> dict:
    """A copy of ``result`` without images or sample-level predictions.

    ``mistakes`` is dropped; every ``thumbnail``/``image(s)`` key is removed and any string holding a
    ``data:`` URI is replaced by null, wherever it is nested.
    """
    out = {k: copy.deepcopy(v) for k, v in result.items() if k not in SAMPLE_LEVEL}
    return _scrub(out)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in IMAGE_KEYS}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, str) and value[:5].lower() == "data:":
        return None
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def key_metrics(result: dict) -> dict[str, float]:
    """The key metrics of ``result`` (undefined or unmeasured ones left out).

    accuracy, balanced_accuracy: ``overall``; worst_class_error: the largest per-class error rate;
    ece_before / ece_after: ``calibration.ece`` and ``calibration.after_scaling.ece``;
    largest_disparity: the largest between-group accuracy difference over ``disparity[]``;
    robustness_mean: ``robustness.mean_accuracy`` (mean accuracy over corruption cells) when present.
    """
    overall = result.get("overall") or {}
    cal = result.get("calibration") or {}
    errors = [_number(r.get("error_rate")) for r in result.get("per_class") or []]
    gaps = [_number(d.get("difference")) for d in result.get("disparity") or []]
    values = {
        "accuracy": _number(overall.get("accuracy")),
        "balanced_accuracy": _number(overall.get("balanced_accuracy")),
        "worst_class_error": max((e for e in errors if e is not None), default=None),
        "ece_before": _number(cal.get("ece")),
        "ece_after": _number((cal.get("after_scaling") or {}).get("ece")),
        "largest_disparity": max((g for g in gaps if g is not None), default=None),
        "robustness_mean": _number((result.get("robustness") or {}).get("mean_accuracy")),
    }
    return {k: v for k, v in values.items() if v is not None}


def digest(value: Any) -> str | None:
    """sha256 of a provenance digest (a hex string is kept; a {file: sha256} map is hashed as sorted JSON)."""
    if value is None or value == {}:
        return None
    if isinstance(value, str) and len(value) == 64:
        return value
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def hashes(result: dict) -> tuple[str | None, str | None]:
    """(model hash, data hash) of a result: the model artifacts, and the data or predictions files."""
    prov = result.get("provenance") or {}
    data = prov.get("data_sha256") or prov.get("predictions_sha256")
    return digest(prov.get("model_sha256")), digest(data)


def text_sha256(text: str) -> str:
    """sha256 of an audit.json text as written (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
