"""``provenance.settings``, built in one place: what a run was asked to do that changes its numbers or what
its report shows (declared as :class:`audit.result.schema.Settings`)."""

from __future__ import annotations

from typing import Sequence

from audit.metrics.selective import DEFAULT_TARGET_ACCURACY
from audit.result.schema import ModelInput, Settings

#: Calibration bins and the size of the gallery of confident mistakes (the engine's defaults).
N_BINS = 15
MAX_MISTAKES = 24


def make_settings(*, seed: int = 0, n_bootstrap: int = 200, images: bool = False, group_cols: Sequence[str] = (),
                  n_bins: int = N_BINS, max_mistakes: int = MAX_MISTAKES,
                  target_accuracy: float = DEFAULT_TARGET_ACCURACY, streaming: bool = False,
                  chunk_rows: int | None = None, model_input: ModelInput | None = None) -> Settings:
    """The ``settings`` of ``provenance``.

    Parameters
    ----------
    images : bool
        Whether the report carries thumbnails of the images: True only when they were not turned off
        (``--no-images``) *and* the source had images to show (a streamed audit or a predictions file has
        none).
    streaming, chunk_rows
        Streamed and Dask audits only: ``streaming: true`` and the rows read at once.
    model_input : dict, optional
        How a model on image files was fed (input size, scaling, outputs, conversions).
    """
    settings: Settings = {"seed": int(seed), "n_bootstrap": int(n_bootstrap), "images": bool(images),
                          "group_cols": [str(g) for g in group_cols], "n_bins": int(n_bins),
                          "max_mistakes": int(max_mistakes), "target_accuracy": float(target_accuracy)}
    if streaming:
        settings["streaming"] = True
    if chunk_rows is not None:
        settings["chunk_rows"] = int(chunk_rows)
    if model_input is not None:
        settings["model_input"] = model_input
    return settings
