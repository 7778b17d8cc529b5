"""Predictions files: loaders and writers of every interchange format (``docs/predictions-format.md``)."""

from audit.sources.load import (
    detect_format,
    expand_sources,
    iter_prediction_chunks,
    load_predictions,
    load_shards,
)
from audit.sources.npz import save_npz
from audit.sources.table import save_table

__all__ = [
    "detect_format",
    "expand_sources",
    "iter_prediction_chunks",
    "load_predictions",
    "load_shards",
    "save_npz",
    "save_table",
]
