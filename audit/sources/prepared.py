"""A source of predictions already made by a model in the loop, as :func:`audit.run_audit` takes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from audit.predictions import Predictions


@dataclass
class PreparedSource:
    """Predictions already made (by a model in the loop), with what the audit needs to know of them.

    Parameters
    ----------
    pred : Predictions
        The audited predictions.
    name : str
        Default run name (the model's).
    kind : {"model", "predictions"}
        ``run.source`` in audit.json.
    calibration : Predictions, optional
        Held-out predictions to fit the temperature on.
    calibration_source : str, optional
        Where ``calibration`` came from (``calibration.temperature_fit.source``).
    provenance : dict
        Merged into the ``provenance`` section (hashes, model folder, training record, versions).
    model_input : dict, optional
        How a model on image files was fed (``provenance.settings.model_input``).
    model_inputs : dict, optional
        The model in the loop for the robustness audit (keywords of
        :func:`audit.robustness.step.add_robustness`): ``{"model", "dataset", "batch_size"}`` for a model
        and test images in memory, or ``{"predictor", "subset_loader"}`` for a model on image files.
    image_properties : dict, optional
        Brightness and contrast per sample where ``pred`` holds no images (images streamed from files),
        for the image-property slices.
    fill_thumbnails : callable, optional
        Fills the gallery's thumbnails in the result (images read back from their files).
    explainer : audit.model.explain.section.ExplainModel, optional
        The model in the loop as the saliency maps of the gallery need it (``explanations``).
    """

    pred: Predictions
    name: str
    kind: str = "model"
    calibration: Predictions | None = None
    calibration_source: str | None = None
    provenance: dict = field(default_factory=dict)
    model_input: dict | None = None
    model_inputs: dict | None = None
    image_properties: dict | None = None
    fill_thumbnails: Callable[[dict], None] | None = None
    explainer: Any = None

    @property
    def has_images(self) -> bool:
        """Whether the report can show thumbnails of these images."""
        return self.pred.images is not None or self.fill_thumbnails is not None
