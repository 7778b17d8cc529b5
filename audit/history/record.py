"""What of an audit result goes into the database: numbers only, the key metrics, the hashes, the verdict.

The report's privacy rule holds for the database too: images (thumbnails, any ``data:`` URI) and
sample-level predictions (``mistakes``: sample ids, labels and confidences of single images) are left
out of the stored result.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

#: Runs that `audit history` lists and the report's trend shows (this run included), by default.
DEFAULT_LIMIT = 20
#: Top-level sections holding sample-level data, never stored.
SAMPLE_LEVEL = ("mistakes",)
#: Keys whose values are images, removed wherever they occur.
IMAGE_KEYS = frozenset({"thumbnail", "thumbnails", "image", "images"})
#: The key metrics of the narrow table, in display order, with how each is read from the result.
METRICS = (
    "accuracy", "balanced_accuracy", "worst_class_error", "ece_before", "ece_after", "largest_disparity",
    "review_load", "robustness_mean",
)


def stored_result(result: dict) -> dict:
    """A copy of ``result`` without images or sample-level predictions.

    ``mistakes`` is dropped, and ``explanations.items`` emptied; every ``thumbnail``/``image(s)`` key is removed and any string holding a
    ``data:`` URI is replaced by null, wherever it is nested.
    """
    out = {k: copy.deepcopy(v) for k, v in result.items() if k not in SAMPLE_LEVEL}
    if isinstance(out.get("explanations"), dict):  # the maps are per image: only the method and sanity figures stay
        out["explanations"]["items"] = []
    return _scrub(out)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in IMAGE_KEYS}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, str) and value[:5].lower() == "data:":
        return None
    return value


def key_metrics(result: dict) -> dict[str, float]:
    """The key metrics of ``result`` (undefined or unmeasured ones left out): the headline numbers
    (:meth:`audit.result.headline.Headline.key_metrics`), the same the terminal, summary.md and the report show.

    accuracy, balanced_accuracy: ``overall``; worst_class_error: the largest per-class error rate;
    ece_before / ece_after: ``calibration.ece`` and ``calibration.after_scaling.ece``;
    largest_disparity: the largest between-group accuracy difference over ``disparity[]``;
    review_load: ``selective.review_load`` (share of images people review at the target accuracy);
    robustness_mean: ``robustness.mean_accuracy`` (mean accuracy over corruption cells) when present.
    """
    from audit.result.headline import headline

    return headline(result).key_metrics()


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
