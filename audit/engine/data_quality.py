"""The sections that look for what the declared view misses: suspected label errors (``label_quality``) and
discovered weak slices (``slices``), added to a result built in memory; a streamed result states why they
are absent."""

from __future__ import annotations

import numpy as np

from audit.metrics.label_quality import label_quality, not_computed as label_quality_not_computed, plain_value
from audit.metrics.weak_slices import not_computed as slices_not_computed, quartile_codes, weak_slices

#: The libraries the two sections import (started early by audit.pipeline, see audit.prefetch).
MODULES = ("cleanlab.filter", "cleanlab.rank", "sliceline.slicefinder")
#: Flagged samples shown with their image in the report, most suspicious first (the report shows as many).
GALLERY = 24
#: Image properties binned into quartiles as slice features (dominant_colour is already categorical).
QUARTILE_PROPERTIES = ("brightness", "contrast", "saturation", "edge_density")
MSG_STREAMED = ("not computed in a streamed or Dask audit: {what} needs every sample at once (memory would grow "
                "as N × {size}); audit in memory (--no-stream) to compute it")


def slice_features(pred, properties: dict | None) -> dict[str, np.ndarray]:
    """The slice features: the declared group columns, the true class, and the image properties binned."""
    features = {str(name): np.asarray(values).astype(str) for name, values in pred.groups.items()}
    features["class"] = np.asarray(pred.class_names, dtype=str)[pred.labels]
    for name in QUARTILE_PROPERTIES:
        if properties and name in properties:
            features[name] = quartile_codes(properties[name])
    if properties and "dominant_colour" in properties:
        features["dominant_colour"] = np.asarray(properties["dominant_colour"]).astype(str)
    return features


def add_data_quality(body: dict, pred, predicted: np.ndarray, *, properties: dict | None, seed: int,
                     images: bool) -> None:
    """Add ``label_quality`` and ``slices`` to ``body`` (in place), with thumbnails when ``pred`` holds images."""
    from audit.prefetch import wait

    for module in MODULES:
        wait(module)
    body["label_quality"] = label_quality(pred.labels, pred.probs, pred.class_names, sample_ids=pred.sample_ids,
                                          groups=pred.groups, predicted=predicted)
    body["slices"] = weak_slices(pred.labels, predicted, slice_features(pred, properties),
                                 n_classes=pred.n_classes, seed=seed)
    ids = pred.sample_ids
    for entry in body["slices"]["found"]:
        entry["examples"] = [{"index": i, "sample_id": None if ids is None else plain_value(ids[i])}
                             for i in entry["examples"]]
    if images and pred.images is not None:
        from audit.thumbnails import png_data_uri

        for flag in body["label_quality"]["flagged"][:GALLERY]:
            flag["thumbnail"] = png_data_uri(pred.images[flag["index"]], scale=2)
        for entry in body["slices"]["found"]:
            for example in entry["examples"]:
                example["thumbnail"] = png_data_uri(pred.images[example["index"]], scale=2)


def add_not_computed(body: dict, group_names=()) -> None:
    """The two sections of a streamed result, each saying why it was not computed."""
    body["label_quality"] = label_quality_not_computed(
        MSG_STREAMED.format(what="confident learning (per-class thresholds from all probabilities)", size="K floats"))
    body["slices"] = slices_not_computed(
        MSG_STREAMED.format(what="the slice search (a seeded split of all samples)", size="the features"),
        [*map(str, group_names), "class"])
