"""The robustness audit: a model's accuracy and calibration on corrupted copies of its test images,
per (corruption, severity) cell, per class and per group — the ``robustness`` section of audit.json.

Framework-free: the model comes in as ``predict(images_uint8) -> probabilities``; :func:`keras_predictor`
builds one from a Keras model and a preprocessing callable.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from audit.metrics.calibration import expected_calibration_error, negative_log_likelihood
from audit.metrics.intervals import wilson_interval
from audit.metrics.temperature import apply_temperature
from audit.robustness.corruptions import corrupt
from audit.robustness.params import CORRUPTIONS, DESCRIPTIONS, SEVERITIES

#: A class or group "breaks" at the first severity where its accuracy, averaged over the corruptions,
#: has lost at least this fraction of its clean accuracy.
BREAK_RELATIVE_DROP = 0.20
#: Severities whose cells make the "mild" relative drop per corruption (the gate's drop rule).
MILD_SEVERITIES = (1, 2, 3)
DEFAULT_SAMPLES = 1000

Predictor = Callable[[np.ndarray], np.ndarray]
#: (subset indices, [(corruption, severity), ...], example row or None, seed) -> (probs per cell, example
#: image per cell, clean example image)
CellRunner = Callable[[np.ndarray, list, "int | None", int], tuple[list, list, "np.ndarray | None"]]


def keras_predictor(model, preprocess: Callable[[np.ndarray], np.ndarray] | None = None,
                    batch_size: int = 512) -> Predictor:
    """``predict(images_uint8) -> probabilities`` from a Keras model.

    Parameters
    ----------
    model : keras.Model
    preprocess : callable, optional
        uint8 batch (n, H, W, 3) -> model input; default scales to float32 [0, 1] (the seed network).
    batch_size : int, default 512
    """
    def default(x):
        return x.astype(np.float32) / np.float32(255)

    prep = preprocess or default

    def predict(images: np.ndarray) -> np.ndarray:
        out = [np.asarray(model.predict_on_batch(prep(images[i:i + batch_size])), dtype=np.float64)
               for i in range(0, len(images), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, int(model.output_shape[-1])))

    return predict


def stratified_subset(labels: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subset of ``n`` samples, stratified by label.

    Each class gets its share of ``n`` in proportion to its frequency (largest remainders, ties to the
    lower class index), drawn without replacement. ``n`` None or ≥ len(labels): every index.
    """
    labels = np.asarray(labels)
    total = len(labels)
    if n is None or n >= total:
        return np.arange(total)
    rng = np.random.default_rng([seed, 14])
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * n / total
    quota = np.floor(exact).astype(int)
    order = np.lexsort((classes, -(exact - quota)))
    quota[order[: n - quota.sum()]] += 1
    picked = [rng.choice(np.flatnonzero(labels == k), size=q, replace=False) for k, q in zip(classes, quota)]
    return np.sort(np.concatenate(picked))


def _cell(labels, probs, temperature, n_bins) -> tuple[dict, np.ndarray]:
    predicted = probs.argmax(axis=1)
    correct = predicted == labels
    n = int(len(labels))
    k = int(correct.sum())
    lo, hi = wilson_interval(k, n) if n else (None, None)
    scaled = apply_temperature(probs, temperature) if temperature is not None else None
    entry = {
        "n": n,
        "accuracy": k / n if n else None,
        "accuracy_ci": [lo, hi] if n else None,
        "ece": expected_calibration_error(labels, probs, n_bins) if n else None,
        "ece_after_scaling": (expected_calibration_error(labels, scaled, n_bins)
                              if n and scaled is not None else None),
        "nll": negative_log_likelihood(labels, probs) if n else None,
    }
    return entry, correct


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _breaks_at(by_severity: Sequence[float | None]) -> int | None:
    clean = by_severity[0]
    if not clean:
        return None
    for s, acc in enumerate(by_severity[1:], start=1):
        if acc is not None and (clean - acc) / clean >= BREAK_RELATIVE_DROP - 1e-12:
            return s
    return None


def evaluate_robustness(
    predict: Predictor,
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    corruptions: Sequence[str] = CORRUPTIONS,
    severities: Sequence[int] = SEVERITIES,
    n_samples: int | None = DEFAULT_SAMPLES,
    seed: int = 0,
    temperature: float | None = None,
    clean_probs: np.ndarray | None = None,
    groups: Mapping[str, tuple[np.ndarray, bool]] | None = None,
    released=None,
    sample_ids: np.ndarray | None = None,
    thumbnails: bool = True,
    n_bins: int = 15,
    progress: Callable[[str], None] | None = None,
    run_cells: "CellRunner | None" = None,
) -> dict:
    """The ``robustness`` section: every (corruption, severity) cell of a seeded stratified subset.

    Parameters
    ----------
    predict : callable
        uint8 images (n, H, W, 3) -> probabilities (n, K).
    images : ndarray of shape (n_test, H, W, 3), uint8
        The clean test images.
    labels : ndarray of shape (n_test,), int
    class_names : sequence of K str
    corruptions, severities : which cells (default: the 15 × 5 of CIFAR-10-C).
    n_samples : int or None, default 1000
        Size of the stratified subset (the same images in every cell, so cells are paired with each
        other and with clean); None for the whole test set.
    seed : int
        Seeds the subset and the corruptions (``corrupt(..., seed=seed)``).
    temperature : float, optional
        The temperature fitted on clean data; applied unchanged to every cell for ``ece_after_scaling``.
    clean_probs : ndarray (n_test, K), optional
        Clean probabilities already computed (saves one inference pass).
    groups : mapping of name -> (labels per test sample, proxy flag), optional
    released : ReleasedCorruptions, optional
        Read the cells from the released CIFAR-10-C files instead of generating them.
    sample_ids : ndarray of str, optional
    thumbnails : bool, default True
        Add one test image across the severities of each corruption (PNG data URIs).
    run_cells : callable, optional
        ``run_cells(idx, cells, example, seed) -> (probs per cell, example image per cell or None, clean example
        image or None)``: the cells computed elsewhere (one Dask task per cell,
        :mod:`audit.model.dask_inference`) on the subset ``idx`` of the test set, each equal to
        ``predict(corrupt(images[idx], name, severity, seed))``; ``images`` may then be None (with
        ``clean_probs`` given).

    Returns
    -------
    dict, JSON-ready (see docs/audit-json.md, ``robustness``)
    """
    labels = np.asarray(labels, dtype=np.int64)
    k = len(class_names)
    idx = stratified_subset(labels, n_samples, seed)
    y = labels[idx]
    x = None if run_cells is not None else np.ascontiguousarray(images[idx])
    clean_p = np.asarray(clean_probs)[idx] if clean_probs is not None else predict(x)
    clean, clean_correct = _cell(y, clean_p, temperature, n_bins)
    groups = dict(groups or {})
    example = _example_row(clean_correct) if thumbnails else None
    cells: list[dict] = []
    class_hits: dict[tuple[str, int], np.ndarray] = {}
    strips: dict[str, list] = {}
    pairs = [(name, int(s)) for name in corruptions for s in severities]
    if run_cells is not None:
        if released is not None:
            raise ValueError("run_cells generates the corruptions; it cannot read released ones")
        cell_probs, cell_examples, clean_example = run_cells(idx, pairs, example, seed)
    for i, (name, s) in enumerate(pairs):
        if run_cells is not None:
            probs, shown = cell_probs[i], cell_examples[i]
        else:
            if progress:
                progress(f"{name} severity {s}")
            xc = released.block(name, s, idx) if released is not None else corrupt(x, name, s, seed=seed)
            probs, shown = predict(xc), (xc[example] if example is not None else None)
        entry, correct = _cell(y, probs, temperature, n_bins)
        cells.append({"corruption": name, "severity": int(s), **entry})
        class_hits[(name, s)] = correct
        if example is not None:
            strips.setdefault(name, []).append(shown)

    by_severity = [{"severity": 0, "accuracy": clean["accuracy"], "ece": clean["ece"],
                    "ece_after_scaling": clean["ece_after_scaling"], "nll": clean["nll"]}]
    for s in severities:
        row = [c for c in cells if c["severity"] == s]
        by_severity.append({"severity": int(s), "accuracy": _mean(c["accuracy"] for c in row),
                            "ece": _mean(c["ece"] for c in row),
                            "ece_after_scaling": _mean(c["ece_after_scaling"] for c in row),
                            "nll": _mean(c["nll"] for c in row)})
    by_corruption = []
    for name in corruptions:
        row = [c for c in cells if c["corruption"] == name]
        mild = [c["accuracy"] for c in row if c["severity"] in MILD_SEVERITIES]
        mild_acc = _mean(mild)
        drop = ((clean["accuracy"] - mild_acc) / clean["accuracy"]
                if mild_acc is not None and clean["accuracy"] else None)
        by_corruption.append({"corruption": name, "accuracy": _mean(c["accuracy"] for c in row),
                              "ece": _mean(c["ece"] for c in row), "mild_accuracy": mild_acc,
                              "mild_relative_drop": drop})

    per_class = []
    for c in range(k):
        mask = y == c
        clean_c = float(clean_correct[mask].mean()) if mask.any() else None
        series = [clean_c] + [_mean(float(class_hits[(n, s)][mask].mean()) for n in corruptions) if mask.any()
                              else None for s in severities]
        corrupted = _mean(float(h[mask].mean()) for h in class_hits.values()) if mask.any() else None
        per_class.append({"class": str(class_names[c]), "n": int(mask.sum()), "clean_accuracy": clean_c,
                          "accuracy": corrupted,
                          "drop": None if clean_c is None or corrupted is None else clean_c - corrupted,
                          "accuracy_by_severity": series, "breaks_at": _breaks_at(series)})

    group_rows = []
    for gname, (values, proxy) in groups.items():
        values = np.asarray(values)[idx].astype(str)
        entries = []
        present = set(values.tolist())
        order = [t for t in ("low", "mid", "high") if t in present] if present <= {"low", "mid", "high"} \
            else sorted(present)
        for g in order:
            mask = values == g
            series = [float(clean_correct[mask].mean())] + [
                _mean(float(class_hits[(n, s)][mask].mean()) for n in corruptions) for s in severities]
            corrupted = _mean(float(h[mask].mean()) for h in class_hits.values())
            entries.append({"group": g, "n": int(mask.sum()), "clean_accuracy": series[0], "accuracy": corrupted,
                            "drop": None if corrupted is None else series[0] - corrupted,
                            "accuracy_by_severity": series, "breaks_at": _breaks_at(series)})
        falling = [e for e in entries if e["drop"] is not None]
        group_rows.append({
            "name": str(gname), "proxy": bool(proxy), "groups": entries,
            "worst_clean_group": min(entries, key=lambda e: e["accuracy_by_severity"][0])["group"] if entries else None,
            "fastest_falling_group": max(falling, key=lambda e: e["drop"])["group"] if falling else None,
        })

    out = {
        "source": "released" if released is not None else "generated",
        "data_dir": str(released.folder) if released is not None else None,
        "corruptions": list(corruptions),
        "severities": [int(s) for s in severities],
        "seed": int(seed),
        "n_per_cell": int(len(idx)),
        "sample": {"method": ("seeded stratified subset of the test set (class shares kept, largest "
                              "remainders), the same images in every cell" if len(idx) < len(labels)
                              else "the whole test set"), "n": int(len(idx)), "of": int(len(labels))},
        "temperature": temperature,
        "clean": clean,
        "cells": cells,
        "mean_accuracy": _mean(c["accuracy"] for c in cells),
        "mean_ece": _mean(c["ece"] for c in cells),
        "mean_ece_after_scaling": _mean(c["ece_after_scaling"] for c in cells),
        "by_severity": by_severity,
        "by_corruption": by_corruption,
        "per_class": per_class,
        "groups": group_rows,
        "conventions": {
            "cells": "one cell per (corruption, severity): accuracy with a 95% Wilson interval, top-label "
                     f"ECE ({n_bins} equal-width bins), NLL; ece_after_scaling applies the clean temperature",
            "mean_accuracy": "unweighted mean of the cells' accuracies (as CIFAR-10-C's mean corruption accuracy)",
            "drop": "per class and group: clean accuracy − mean accuracy over the cells (percentage points)",
            "mild_relative_drop": ("(clean − mean accuracy over severities "
                                   f"{', '.join(map(str, MILD_SEVERITIES))}) / clean, per corruption"),
            "breaks_at": (f"first severity where accuracy, averaged over the corruptions, has lost ≥ "
                          f"{BREAK_RELATIVE_DROP:.0%} of the clean accuracy (null: never)"),
            "corruptions": {name: DESCRIPTIONS[name] for name in corruptions},
            "generation": ("audit.robustness.corrupt: make_cifar_c.py's parameters, numpy/scipy/Pillow, "
                           "frost from a generated texture" if released is None else
                           "the released CIFAR-10-C files, rows of the sampled test images"),
        },
        "examples": None,
    }
    if example is not None:
        from audit.thumbnails import png_data_uri

        out["examples"] = {
            "index": int(idx[example]),
            "sample_id": None if sample_ids is None else str(np.asarray(sample_ids)[idx[example]]),
            "class": str(class_names[y[example]]),
            "clean": png_data_uri(x[example] if run_cells is None else clean_example, scale=2),
            "rows": [{"corruption": name, "images": [png_data_uri(im, scale=2) for im in strips[name]]}
                     for name in corruptions],
        }
    return out


def _example_row(clean_correct: np.ndarray) -> int:
    """The first subset sample the model gets right on clean data (else the first)."""
    hits = np.flatnonzero(clean_correct)
    return int(hits[0]) if hits.size else 0
