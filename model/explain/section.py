"""The ``explanations`` section of audit.json: a saliency map of each confident mistake for its predicted class
(Grad-CAM where the model is a Keras model with a 4-D layer, occlusion otherwise), and the sanity checks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from audit.errors import AuditError
from audit.model.explain import maps as M
from audit.model.explain import sanity as S
from audit.model.explain.occlusion import GREY, geometry, occlusion_maps

MSG_LAYER_NOT_KERAS = ("--explain-layer names a layer of a Keras model; this model is {framework} (its maps are "
                       "made by occlusion, which has no layer)")
REASON_NOT_KERAS = {
    "onnxruntime": "Grad-CAM needs a Keras model's layers and gradients; this model is an ONNX graph run with "
                   "onnxruntime, so occlusion (which needs only predictions) is used",
    "python callable": "Grad-CAM needs a Keras model's layers and gradients; this model is a Python callable, so "
                       "occlusion (which needs only predictions) is used",
}
REASON_NO_SPATIAL = ("Grad-CAM needs a layer with a 4-D (N, height, width, channels) output and this Keras model "
                     "has none (no convolutional layer), so occlusion (which needs only predictions) is used")
REASON_ASKED = "occlusion was asked for (method='occlusion')"
MSG_NO_GRAPH = "--explain-layer: Grad-CAM cannot read this Keras model's layers as one graph ({why})"
REASON_NO_GRAPH = ("Grad-CAM cannot read this Keras model's layers as one graph ({why}), so occlusion (which needs "
                   "only predictions) is used")
NOTE_NO_WEIGHTS = ("not run: the weights of {what} cannot be re-initialised here, so there is no randomised copy "
                   "to compare with")
TARGET = "the predicted class"
CONVENTIONS = {
    "map": (f"per image, for {TARGET}: non-negative, divided by its maximum, averaged over boxes down to at most "
            f"{M.MAX_SIDE} x {M.MAX_SIDE} (smaller maps kept as they are), rounded to {M.DECIMALS} decimals; "
            "all zeros when nothing raises the class"),
    "grad-cam": ("Selvaraju et al. 2017: ReLU of the chosen layer's activations weighted by the gradient of the "
                 "class score (the logit) averaged over height and width; at the layer's resolution"),
    "occlusion": ("drop of the predicted class's probability when a mid-grey patch (uint8 128, every channel) covers "
                  "a region: patch a quarter of each side, stride half a patch, about 7 x 7 positions; a pixel "
                  "takes the mean drop of the patches covering it, negative drops as 0"),
    "randomization_rank_correlation": (
        "mean over images of the Spearman rank correlation between the map of the model and the map of a copy "
        "whose top half (rounded up) of weighted top-level layers are re-initialised (kernels Glorot-uniform, "
        "biases 0, gamma 1, numpy default_rng(seed)), maps compared as audit.json holds them; a method that "
        f"depends on what the model learned gives a value near 0; {S.RANK_CORRELATION_LIMIT} or more is flagged"),
    "deletion_win_rate": (
        f"share of images where greying out (uint8 {GREY}) the {S.DELETE_FRACTION:.0%} of pixels with the highest "
        f"map value (map resized bilinearly to the input, ties in a seeded random order) lowers the predicted class's probability more than "
        f"greying out a random {S.DELETE_FRACTION:.0%} (numpy default_rng(seed)); a flat map counts as a loss; "
        f"{S.WIN_RATE_LIMIT:.0%} (chance) or less is flagged; a contiguous region tends to cost more than scattered "
        "pixels wherever it lies, so a value a little above chance is weak evidence"),
}


@dataclass
class ExplainModel:
    """The model in the loop, as the explanations need it.

    Parameters
    ----------
    predict : callable
        uint8 images (n, H, W, C) at the model's input size -> probabilities (n, n_classes).
    load : callable
        Indices of audited samples -> their uint8 images at the model's input size, in that order.
    framework : str
        ``"keras"``, ``"onnxruntime"`` or ``"python callable"``.
    keras_model : keras.Model, optional
        The Keras model (Grad-CAM, the randomisation check).
    preprocess : callable, optional
        uint8 images -> the Keras model's float input.
    path : str, optional
        The model file, named in error messages.
    """

    predict: Callable[[np.ndarray], np.ndarray]
    load: Callable[[np.ndarray], np.ndarray]
    framework: str = "keras"
    keras_model: Any = None
    preprocess: Callable[[np.ndarray], np.ndarray] | None = None
    path: Any = None


def absent_section(reason: str, *, seed: int = 0) -> dict:
    """The section when no map is made, saying why."""
    return {"method": None, "layer": None, "score": None, "patch": None, "stride": None, "reason": reason,
            "target": TARGET, "seed": int(seed), "items": [], "sanity": None, "conventions": {}}


def _probabilities(out) -> np.ndarray:
    out = np.asarray(out, dtype=np.float64)
    if out.size and out.min() >= 0 and out.max() <= 1 and np.allclose(out.sum(axis=1), 1, atol=1e-3):
        return out
    z = out - out.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _keras_predict(model, preprocess, batch_size: int = 256):
    def run(x: np.ndarray) -> np.ndarray:
        chunks = [np.asarray(model(preprocess(x[i:i + batch_size]), training=False))
                  for i in range(0, len(x), batch_size)]
        return _probabilities(np.concatenate(chunks))
    return run


def check_layer(model: ExplainModel, layer: str | None) -> None:
    """Refuse ``--explain-layer`` for a model it cannot apply to, or naming a missing or non-spatial layer."""
    if layer is None:
        return
    if model.keras_model is None:
        raise AuditError(MSG_LAYER_NOT_KERAS.format(framework=model.framework), path=model.path)
    graph, why = _graph(model.keras_model)
    if graph is None:
        raise AuditError(MSG_NO_GRAPH.format(why=why), path=model.path)
    graph.check_layer(layer, path=model.path)


def _graph(keras_model):
    """(the model's Grad-CAM graph, None), or (None, why) where its layers cannot be read as one graph (a layer
    called twice, an unusual subclass)."""
    from audit.model.explain.gradcam import GradCamGraph

    try:
        return GradCamGraph(keras_model), None
    except (ValueError, AttributeError, TypeError, IndexError) as exc:
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]


def explain_mistakes(result: dict, model: ExplainModel, *, seed: int = 0, layer: str | None = None,
                     method: str | None = None, notify: Callable[[str], None] | None = None) -> dict:
    """The ``explanations`` section for the gallery of ``result`` (its ``mistakes``).

    ``method="occlusion"`` makes occlusion maps of a Keras model too (to compare the methods on one model, as
    bench/explain_bench.py does); by default Grad-CAM is used wherever it applies.
    """
    if method not in (None, "grad-cam", "occlusion"):
        raise ValueError(f"method must be None, 'grad-cam' or 'occlusion'; got {method!r}")
    start = time.perf_counter()
    check_layer(model, layer)
    section = absent_section("", seed=seed)
    section["conventions"] = dict(CONVENTIONS)
    graph = None
    if method == "occlusion":
        section["reason"] = REASON_ASKED
    elif model.keras_model is not None:
        graph, why = _graph(model.keras_model)
        if graph is None:
            section["reason"] = REASON_NO_GRAPH.format(why=why)
        elif graph.spatial:
            section.update(method="grad-cam", layer=graph.check_layer(layer), score=graph.score, reason=None)
        else:
            section["reason"] = REASON_NO_SPATIAL
    else:
        section["reason"] = REASON_NOT_KERAS.get(model.framework, REASON_NOT_KERAS["python callable"])
    mistakes = [m for m in result.get("mistakes") or [] if m.get("index") is not None]
    names = list(result.get("class_names") or [])
    if section["method"] is None:
        section["method"] = "occlusion"
    if not mistakes:
        section["reason"] = "no confident mistakes to explain" + (f"; {section['reason']}" if section["reason"] else "")
        return section
    index = np.asarray([m["index"] for m in mistakes], dtype=np.int64)
    classes = np.asarray([names.index(m["predicted"]) for m in mistakes], dtype=np.int64)
    images = np.asarray(model.load(index), dtype=np.uint8)
    height, width = images.shape[1:3]

    def make_maps(g, predict) -> np.ndarray:
        if section["method"] == "grad-cam":
            return g.maps(model.preprocess(images), classes, section["layer"])
        return occlusion_maps(predict, images, classes, patch=patch, stride=stride)

    patch = stride = None
    if section["method"] == "occlusion":
        patch, stride = geometry(height, width)
        section.update(patch=list(patch), stride=list(stride))
    raw = make_maps(graph, model.predict)
    shown = [M.pooled(m) for m in raw]
    section["items"] = [
        {"index": int(m["index"]), "sample_id": m.get("sample_id"), "class": m["predicted"], "map": M.as_list(p),
         "overlay": M.overlay_uri(img, M.scaled(r)), "heatmap": M.heatmap_uri(p)}
        for m, p, r, img in zip(mistakes, shown, raw, images)]

    sanity = {"randomization_rank_correlation": None, "randomized_layers": [], "n_correlated": 0,
              "randomization_note": None, "deletion_win_rate": None, "deletion_fraction": S.DELETE_FRACTION,
              "verdicts": []}
    if model.keras_model is not None:
        from audit.model.explain.gradcam import GradCamGraph, randomized_copy

        try:
            copy, layers = randomized_copy(model.keras_model, seed)
            copy_graph = GradCamGraph(copy) if section["method"] == "grad-cam" else None
        except (ValueError, AttributeError, TypeError, IndexError) as exc:
            sanity["randomization_note"] = f"not run: the model could not be copied ({type(exc).__name__})"
        else:
            random_maps = make_maps(copy_graph, _keras_predict(copy, model.preprocess))
            rho, n_rho = S.mean_rank_correlation(shown, [M.pooled(m) for m in random_maps])
            sanity.update(randomization_rank_correlation=None if rho is None else round(rho, 4), n_correlated=n_rho,
                          randomized_layers=layers)
            if rho is None:
                sanity["randomization_note"] = "undefined: every map of the model or of its randomised copy is flat"
    else:
        what = "an ONNX graph" if model.framework == "onnxruntime" else "a Python callable"
        sanity["randomization_note"] = NOTE_NO_WEIGHTS.format(what=what)
    win, _ = S.deletion_win_rate(model.predict, images, classes, raw, seed)
    sanity["deletion_win_rate"] = None if win is None else round(win, 4)
    sanity["verdicts"] = S.verdicts(sanity["randomization_rank_correlation"], sanity["deletion_win_rate"])
    section["sanity"] = sanity
    if notify is not None:
        notify(f"audit: explanations: {section['method']} maps of {len(mistakes)} images and their sanity checks "
               f"in {time.perf_counter() - start:.1f} s")
    return section
