"""Predictions files: loaders and writers of every interchange format (``docs/predictions-format.md``)."""

from audit.sources.load import (
    detect_format,
    expand_sources,
    has_group_columns,
    iter_prediction_chunks,
    load_predictions,
    load_shards,
)
from audit.sources.npz import save_npz
from audit.sources.provenance import read_provenance, save_with_provenance, sidecar_path
from audit.sources.table import save_table

__all__ = [
    "detect_format",
    "expand_sources",
    "has_group_columns",
    "iter_prediction_chunks",
    "load_predictions",
    "load_shards",
    "read_provenance",
    "save_npz",
    "save_table",
    "save_with_provenance",
    "sidecar_path",
]
