"""The audit engine: Predictions in, the JSON-ready audit result out (docs/audit-json.md), in memory
or streamed over chunks and shards through one mergeable accumulator.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Callable, Iterable, Mapping

import numpy as np

from audit import __version__
from audit.errors import AuditError
from audit.result.schema import SCHEMA_VERSION
from audit.result.settings import MAX_MISTAKES, make_settings
from audit.versions import library_versions
from audit.metrics.calibration import (
    NLL_CLIP,
    SKETCH_BINS,
    CalibrationAccumulator,
    adaptive_ece,
    top_label_and_classwise,
)
from audit.metrics.classification import (
    DENSE_CONFUSION_MAX,
    confusion_cells,
    confusion_rows,
    normalized_confusion,
    overall_metrics,
    per_class_metrics,
)
from audit.metrics.confusion import TOP_CONFUSIONS, ConfusionAccumulator
from audit.metrics.intervals import CONFIDENCE
from audit.metrics.disparity import GroupCellAccumulator, disparity_entry
from audit.metrics.ranking import RankingAccumulator
from audit.metrics.selective import DEFAULT_TARGET_ACCURACY, SelectiveAccumulator
from audit.metrics.temperature import (
    FIT_METHOD,
    T_BOUNDS,
    apply_temperature,
    cross_fit_temperature,
    fit_temperature,
)

#: AuditAccumulator.update cuts chunks of more than 2 × BLOCK_ROWS rows into blocks of BLOCK_ROWS rows,
#: updated in up to MAX_WORKERS threads (one per available core).
BLOCK_ROWS = 1 << 17
MAX_WORKERS = 8
#: Per fold, at most this many samples (a seeded bottom-k sample) fit T in the streaming cross-fit.
STREAM_FIT_CAP = 200_000
MSG_STREAM_CROSSFIT = (
    "the streaming cross-fit of the temperature reads the data twice; pass a callable that returns "
    "a fresh iterator of chunks, a calibration set, or a fixed temperature"
)
GROUP_NOTE = "accuracy by value of the group column {name!r}, as given in the input"


def conventions(n_bins: int = 15, adaptive_exact: bool = True) -> dict[str, str]:
    """One sentence per metric stating its convention, built from the constants it describes."""
    pct = f"{CONFIDENCE:.0%}"
    ace = (
        f"top-label adaptive ECE: samples sorted by confidence split into {n_bins} equal-count bins "
        "(sizes differ by at most one, as numpy.array_split); exact, computed on the whole array, "
        "not mergeable"
        if adaptive_exact else
        f"top-label adaptive ECE with {n_bins} equal-count bins, approximated from a mergeable "
        f"{SKETCH_BINS}-bin confidence histogram (bins exact to within 1/{SKETCH_BINS} in confidence)"
    )
    from audit.engine import confidence

    return {
        **confidence.conventions(adaptive_exact),
        "accuracy_ci": f"{pct} Wilson score interval",
        "argmax_ties": "ties in the arg-max go to the lowest class index",
        "balanced_accuracy": "mean recall over the classes present in the labels (scikit-learn)",
        "macro_f1": ("mean of the defined per-class F1 values; F1 of a class absent from both labels "
                     "and predictions is undefined and left out (scikit-learn f1_score, "
                     "average='macro', labels=range(K), zero_division=nan)"),
        "precision": "correct k / predicted k; undefined (null) when k is never predicted",
        "recall": "correct k / support of k; undefined (null) for a class absent from the labels",
        "error_rate": f"1 − recall with a {pct} Wilson interval on errors / support; null without support",
        "mean_confidence": "mean top-label confidence over the samples whose TRUE class is k",
        "confusion_matrix": ("counts, rows = true class, columns = predicted class; dense K×K up to "
                             f"{DENSE_CONFUSION_MAX} classes, always as confusion_cells [true, predicted, "
                             "count] of the non-zero cells"),
        "top_confusions": f"{TOP_CONFUSIONS} largest off-diagonal cells by count, ties by row then column",
        "ece": (f"top-label ECE, {n_bins} equal-width bins (lo, hi], confidence 1.0 in the last bin "
                "and 0 in the first (Guo et al. 2017); Σ (n_b/N)|acc_b − conf_b|"),
        "ece_ci": (f"seeded bootstrap {pct} percentile interval: multinomial resampling of the "
                   "(bin, correct) cell counts, cell confidence sums drawn with their empirical "
                   "mean and variance"),
        "mce": "largest |acc_b − conf_b| over non-empty bins",
        "classwise_ece": (f"mean over classes k of the {n_bins}-bin equal-width ECE of p_k "
                          "against 1[y = k]"),
        "adaptive_ece": ace,
        "brier": "mean over samples of Σ_k (p_k − 1[y = k])² (range 0 to 2)",
        "nll": f"mean of −ln(clip(p_true, {NLL_CLIP:g}, 1))",
        "temperature": ("T > 0 minimising the NLL of softmax(ln p / T), safeguarded Newton on 1/T "
                        f"with analytic derivatives, T in [{T_BOUNDS[0]:g}, {T_BOUNDS[1]:g}]; fitted on data other than the "
                        "audited samples"),
        "disparity": ("accuracy per group by fairlearn MetricFrame; difference = max − min, ratio = "
                      "min / max, *_to_overall as MetricFrame(method='to_overall')"),
        "per_class_gaps": ("one-vs-rest TPR and FPR per class and group, max − min over groups "
                           "that define the rate"),
    }


def _chunk_groups(chunk) -> Mapping[str, np.ndarray]:
    return getattr(chunk, "groups", None) or {}


def _as_arrays(chunk, scaled_probs) -> tuple[SimpleNamespace, np.ndarray | None]:
    """A chunk's fields as arrays, each checked to have one row per label (the block path slices them
    all by the labels' length, so a longer array must not be cut silently)."""
    labels = np.asarray(chunk.labels, dtype=np.int64)
    ids = getattr(chunk, "sample_ids", None)
    scaled_probs = None if scaled_probs is None else np.asarray(scaled_probs)
    arrays = SimpleNamespace(labels=labels, probs=np.asarray(chunk.probs),
                             groups={k: np.asarray(v) for k, v in _chunk_groups(chunk).items()},
                             sample_ids=None if ids is None else np.asarray(ids))
    named = [("probs", arrays.probs), ("sample_ids", arrays.sample_ids), ("scaled_probs", scaled_probs),
             *((f"group column {k!r}", v) for k, v in arrays.groups.items())]
    for name, arr in named:
        if arr is not None and (arr.ndim == 0 or arr.shape[0] != labels.shape[0]):
            raise AuditError(f"a chunk's {name} has {arr.shape[0] if arr.ndim else 0} rows; "
                             f"its labels have {labels.shape[0]}")
    return arrays, scaled_probs


def _row_block(arrays: SimpleNamespace, rows: slice) -> SimpleNamespace:
    """Rows ``rows`` of a chunk made by :func:`_as_arrays`, as views."""
    ids = arrays.sample_ids
    return SimpleNamespace(labels=arrays.labels[rows], probs=arrays.probs[rows],
                           groups={k: v[rows] for k, v in arrays.groups.items()},
                           sample_ids=None if ids is None else ids[rows])


def _joined(top_labels: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The (predicted, confidence) pairs of consecutive row blocks, concatenated."""
    return tuple(np.concatenate(arrays) for arrays in zip(*top_labels))


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one), capped by
    ``OMP_NUM_THREADS`` when that is set to a positive integer (as Dask's worker processes set it, 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    cap = os.environ.get("OMP_NUM_THREADS", "").strip()
    return max(1, min(cores, int(cap))) if cap.isdigit() and int(cap) > 0 else cores


class AuditAccumulator:
    """Every mergeable statistic of an audit: confusion counts, calibration sums (before and after
    temperature scaling), per-group cells and the most confident mistakes.

    Parameters
    ----------
    class_names : sequence of str, length K
    group_names : sequence of str
        Group columns to expect in each chunk's ``groups``.
    n_bins : int, default 15
    temperature : float, optional
        When given, every chunk is also scaled by it for the after-scaling metrics.
    max_mistakes : int, default 24
    sketch_ranks : bool, default True
        Keep the score histograms of the ranking and selective metrics (off in memory, where
        :func:`build_result` computes them exactly).

    Notes
    -----
    ``update(chunk)`` takes anything with ``labels`` (n,), ``probs`` (n, K) and optionally ``groups``
    and ``sample_ids``. ``merge`` appends another accumulator's samples after this one's: mistake
    indices are positions in that concatenation. Adaptive ECE comes from a histogram sketch here (exact
    only in :func:`build_result`); the bootstrap works from merged cell statistics.
    """

    #: Whether update() may split a large chunk into row blocks (False inside a block).
    _blocked = True

    def __init__(self, class_names, *, group_names=(), n_bins: int = 15,
                 temperature: float | None = None, max_mistakes: int = MAX_MISTAKES, sketch_ranks: bool = True):
        self.class_names = tuple(str(c) for c in class_names)
        k = len(self.class_names)
        self.n_bins = int(n_bins)
        self.temperature = temperature
        self.max_mistakes = int(max_mistakes)
        self.confusion = ConfusionAccumulator(k)
        self.calibration = CalibrationAccumulator(n_bins, k)
        self.scaled = CalibrationAccumulator(n_bins, k)
        self.groups = {str(g): GroupCellAccumulator(k) for g in group_names}
        self.sketch_ranks = bool(sketch_ranks)
        self.ranking = RankingAccumulator(k)
        self.selective = SelectiveAccumulator(k, self.groups)
        self.selective_scaled = SelectiveAccumulator(k, self.groups)
        self.n = 0
        #: (predicted, confidence) of the latest chunk, for callers that need them again.
        self.last_top_label = None
        self._mistakes = {"index": np.zeros(0, np.int64), "sample_id": np.zeros(0, object),
                          "true": np.zeros(0, np.int64), "predicted": np.zeros(0, np.int64),
                          "confidence": np.zeros(0)}

    def update(self, chunk, *, scaled_probs: np.ndarray | None = None) -> "AuditAccumulator":
        """Add one chunk; ``scaled_probs`` (n, K) are its temperature-scaled probabilities if known.

        A chunk of more than ``2 * BLOCK_ROWS`` rows is cut into consecutive blocks of ``BLOCK_ROWS``
        rows, updated in threads, one per available core (numpy's arg-max, row picks and element-wise
        passes release the GIL), and merged in row order. The blocks depend on the chunk's length
        alone, so the result is the same on any number of cores and whatever the threads' timing;
        counts equal those of one pass, float sums may differ from one pass in the last bits.
        """
        labels = np.asarray(chunk.labels, dtype=np.int64)
        if self._blocked and labels.shape[0] > 2 * BLOCK_ROWS:
            return self._update_blocks(chunk, scaled_probs)
        probs = np.asarray(chunk.probs, dtype=np.float64)
        if probs.shape[1] != len(self.class_names):
            raise AuditError(f"a chunk has {probs.shape[1]} probability columns; expected "
                             f"{len(self.class_names)} (one per class)")
        predicted, confidence, classwise = top_label_and_classwise(probs, self.n_bins,
                                                                   threaded=self._blocked)
        self.last_top_label = (predicted, confidence)
        pairs = labels * probs.shape[1]
        pairs += predicted
        self.confusion.update(labels, probs, predicted=predicted, confidence=confidence, pairs=pairs)
        self.calibration.update(labels, probs, predicted=predicted, confidence=confidence,
                                classwise=classwise)
        groups = _chunk_groups(chunk)
        for name, acc in self.groups.items():
            if name not in groups:
                raise AuditError(f"a chunk lacks the group column {name!r}; it has {sorted(groups)}")
            acc.update(labels, predicted, groups[name], pairs=pairs)
        if self.sketch_ranks:
            self.ranking.update(labels, probs)
            self.selective.update(labels, predicted, confidence, groups)
        if scaled_probs is None and self.temperature is not None:
            scaled_probs = apply_temperature(probs, self.temperature)
        if scaled_probs is not None:
            self.scaled.update(labels, scaled_probs, threaded=self._blocked)
            if self.sketch_ranks:
                self.selective_scaled.update(labels, *self.scaled.last_top_label, groups)
        self._add_mistakes(labels, predicted, confidence, getattr(chunk, "sample_ids", None))
        self.n += labels.shape[0]
        return self

    def _empty_like(self) -> "AuditAccumulator":
        part = AuditAccumulator(self.class_names, group_names=list(self.groups), n_bins=self.n_bins,
                                temperature=self.temperature, max_mistakes=self.max_mistakes,
                                sketch_ranks=self.sketch_ranks)
        part._blocked = False
        return part

    def _update_blocks(self, chunk, scaled_probs) -> "AuditAccumulator":
        chunk, scaled_probs = _as_arrays(chunk, scaled_probs)
        n = chunk.labels.shape[0]
        blocks = [slice(start, min(start + BLOCK_ROWS, n)) for start in range(0, n, BLOCK_ROWS)]
        parts = [self._empty_like() for _ in blocks]

        def update(i: int) -> None:
            rows = blocks[i]
            parts[i].update(_row_block(chunk, rows), scaled_probs=None if scaled_probs is None else scaled_probs[rows])

        workers = min(available_cores(), MAX_WORKERS, len(blocks))
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(update, range(len(blocks))))
        else:
            for i in range(len(blocks)):
                update(i)
        for part in parts:
            self.merge(part)
        self.last_top_label = _joined([p.last_top_label for p in parts])
        if parts[0].scaled.last_top_label is not None:
            self.scaled.last_top_label = _joined([p.scaled.last_top_label for p in parts])
        return self

    def update_scaled(self, labels, scaled_probs, groups=None) -> "AuditAccumulator":
        """Add temperature-scaled probabilities only (the second pass of a streaming cross-fit);
        ``groups`` are the chunk's group columns."""
        self.scaled.update(labels, scaled_probs)
        if self.sketch_ranks:
            self.selective_scaled.update(labels, *self.scaled.last_top_label, groups)
        return self

    def merge_scaled(self, other: "AuditAccumulator") -> "AuditAccumulator":
        """Merge only another accumulator's temperature-scaled statistics (in place)."""
        self.scaled.merge(other.scaled)
        self.selective_scaled.merge(other.selective_scaled)
        return self

    def _add_mistakes(self, labels, predicted, confidence, sample_ids) -> None:
        wrong = np.flatnonzero(predicted != labels)
        if self.max_mistakes <= 0 or wrong.size == 0:
            return
        if wrong.size > self.max_mistakes:
            conf = confidence[wrong]
            cut = np.partition(conf, conf.size - self.max_mistakes)[conf.size - self.max_mistakes]
            wrong = wrong[conf >= cut]  # every candidate for the top max_mistakes, ties included
            keep = np.lexsort((wrong, -confidence[wrong]))[: self.max_mistakes]
            wrong = wrong[keep]
        ids = (np.asarray(sample_ids)[wrong].astype(object) if sample_ids is not None
               else np.full(wrong.size, None, dtype=object))
        self._merge_mistakes({"index": wrong + self.n, "sample_id": ids, "true": labels[wrong],
                              "predicted": predicted[wrong], "confidence": confidence[wrong]})

    def _merge_mistakes(self, new: dict) -> None:
        both = {k: np.concatenate([self._mistakes[k], new[k]]) for k in self._mistakes}
        order = np.lexsort((both["index"], -both["confidence"]))[: self.max_mistakes]
        self._mistakes = {k: v[order] for k, v in both.items()}

    def merge(self, other: "AuditAccumulator") -> "AuditAccumulator":
        """Append another accumulator's samples (in place) and return self."""
        if other.class_names != self.class_names:
            raise AuditError(f"cannot merge audits of different classes: {list(self.class_names)} "
                             f"and {list(other.class_names)}")
        if set(other.groups) != set(self.groups):
            raise AuditError(f"cannot merge audits over different group columns: "
                             f"{sorted(self.groups)} and {sorted(other.groups)}")
        self.confusion.merge(other.confusion)
        self.calibration.merge(other.calibration)
        self.scaled.merge(other.scaled)
        self.ranking.merge(other.ranking)
        self.selective.merge(other.selective)
        self.selective_scaled.merge(other.selective_scaled)
        for name, acc in self.groups.items():
            acc.merge(other.groups[name])
        shifted = dict(other._mistakes, index=other._mistakes["index"] + self.n)
        self._merge_mistakes(shifted)
        self.n += other.n
        return self

    def mistakes(self) -> list[dict]:
        """Most confident mistakes, highest confidence first (ties by index), without thumbnails."""
        m = self._mistakes
        return [{"index": int(m["index"][i]),
                 "sample_id": None if m["sample_id"][i] is None else str(m["sample_id"][i]),
                 "true": self.class_names[int(m["true"][i])],
                 "predicted": self.class_names[int(m["predicted"][i])],
                 "confidence": float(m["confidence"][i]), "thumbnail": None}
                for i in range(len(m["index"]))]

    def finalize(self, *, n_bootstrap: int = 200, seed: int = 0, temperature: float | None = None,
                 temperature_fit: dict | None = None, adaptive: float | None = None,
                 adaptive_scaled: float | None = None) -> dict:
        """The metric sections of the result: overall, per_class, confusion matrices, top
        confusions, calibration (with after_scaling when scaled data was added), disparity over
        the group columns, mistakes. ``adaptive*`` override the sketch with exact values."""
        counts = self.confusion.counts
        conf_sum = self.confusion.confidence_sum
        cal = self.calibration.result(n_bootstrap=n_bootstrap, seed=seed, adaptive=adaptive)
        after = None
        if self.scaled.n:
            after = self.scaled.result(n_bootstrap=n_bootstrap, seed=seed, adaptive=adaptive_scaled)
        t = self.temperature if temperature is None else temperature
        calibration = {
            "n_bins": self.n_bins, "binning": "equal-width (lo, hi]",
            "ece": cal["ece"], "ece_ci": cal["ece_ci"], "mce": cal["mce"],
            "classwise_ece": cal["classwise_ece"], "adaptive_ece": cal["adaptive_ece"],
            "adaptive_binning": (f"equal-count, {self.n_bins} bins over sorted top-label confidence"
                                 + ("" if adaptive is not None else
                                    f" (from a {SKETCH_BINS}-bin histogram sketch)")),
            "brier": cal["brier"], "nll": cal["nll"], "nll_clip": NLL_CLIP, "bins": cal["bins"],
            "temperature": None if t is None else float(t),
            "temperature_fit": temperature_fit,
            "after_scaling": after,
        }
        return {
            "class_names": list(self.class_names),
            "overall": overall_metrics(counts, conf_sum if self.confusion.has_confidence else None),
            "per_class": per_class_metrics(counts, self.class_names,
                                           conf_sum if self.confusion.has_confidence else None),
            **confusion_section(counts),
            "top_confusions": confusion_rows(counts, self.class_names),
            "calibration": calibration,
            "disparity": [disparity_entry(acc.cells, self.class_names, name=name,
                                          note=GROUP_NOTE.format(name=name))
                          for name, acc in self.groups.items() if acc.cells],
            "mistakes": self.mistakes(),
        }


def confusion_section(counts: np.ndarray) -> dict:
    """``confusion_cells`` (the non-zero cells, at any K) and the dense matrices up to
    ``DENSE_CONFUSION_MAX`` classes (null above; see docs/audit-json.md)."""
    dense = counts.shape[0] <= DENSE_CONFUSION_MAX
    return {"confusion_matrix": counts.tolist() if dense else None,
            "confusion_matrix_normalized": normalized_confusion(counts) if dense else None,
            "confusion_cells": confusion_cells(counts)}


def _envelope(class_names, *, run, provenance, settings, n_bins, adaptive_exact) -> dict:
    """The sections every result starts with; ``settings`` (:func:`~audit.result.settings.make_settings`)
    is recorded as given."""
    prov = {"model_sha256": None, "data_sha256": None, "predictions_sha256": None}
    prov.update(provenance or {})
    prov["versions"] = {**library_versions(), **(prov.get("versions") or {})}
    prov["settings"] = settings
    base_run = {"name": None, "model_name": None, "source": "predictions", "seed": settings.get("seed")}
    base_run.update(run or {})
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "audit", "version": __version__},
        "run": base_run,
        "provenance": prov,
        "conventions": conventions(n_bins, adaptive_exact),
    }


def _fit_temperature_for(pred, calibration, calibration_source, seed):
    """Scaled audit probabilities, T and the temperature_fit record."""
    if calibration is not None:
        t = fit_temperature(calibration.labels, calibration.probs)
        return apply_temperature(pred.probs, t), t, {
            "method": FIT_METHOD,
            "source": calibration_source or "calibration set", "n": int(calibration.n_samples)}
    if pred.n_samples < 2:
        return pred.probs, 1.0, {"method": "not fitted: fewer than 2 samples, T = 1",
                                 "source": None, "n": int(pred.n_samples)}
    scaled, (t_a, t_b) = cross_fit_temperature(pred.labels, pred.probs, seed=seed, threads=available_cores())
    return scaled, float(np.sqrt(t_a * t_b)), {
        "method": ("2-fold cross-fit: seeded random halves, each scaled by the T fitted on the other; "
                   "temperature = geometric mean of the two"),
        "source": "cross-fit", "n": int(pred.n_samples), "fold_temperatures": [t_a, t_b]}


def build_result(pred, *, calibration=None, calibration_source: str | None = None, n_bins: int = 15,
                 seed: int = 0, n_bootstrap: int = 200, images: bool = True, max_mistakes: int = MAX_MISTAKES,
                 run: dict | None = None, provenance: dict | None = None,
                 target_accuracy: float = DEFAULT_TARGET_ACCURACY, image_properties: dict | None = None,
                 settings: dict | None = None) -> dict:
    """The JSON-ready audit result of ``pred`` (every key of docs/audit-json.md except checklist,
    gate and baseline, which later stages add).

    Parameters
    ----------
    pred : Predictions
    calibration : Predictions, optional
        Data other than the audit set to fit the temperature on; without it a seeded 2-fold
        cross-fit on the audit set is used.
    calibration_source : str, optional
        Where ``calibration`` came from, for ``temperature_fit.source``.
    n_bins, seed, n_bootstrap, images, max_mistakes : settings (seed drives the bootstrap and the
        cross-fit split; images=False leaves thumbnails out).
    run, provenance : dict, optional
        Merged over the defaults of the ``run`` and ``provenance`` sections.
    target_accuracy : float, default 0.90
        Accuracy the ``selective`` operating point must reach (policy ``selective.target_accuracy``).
    image_properties : dict, optional
        Brightness and contrast per sample (``audit.metrics.slices.image_properties``), for the
        image-property slices when ``pred`` holds no images (images streamed from files).
    settings : dict, optional
        ``provenance.settings`` as the caller built it (:func:`~audit.result.settings.make_settings`, which
        :func:`audit.run_audit` calls); default: made from the arguments above.

    Returns
    -------
    dict, serialisable with ``json.dumps(..., allow_nan=False)``
    """
    scaled, t, fit = _fit_temperature_for(pred, calibration, calibration_source, seed)
    acc = AuditAccumulator(pred.class_names, group_names=list(pred.groups), n_bins=n_bins,
                           max_mistakes=max_mistakes, sketch_ranks=False)
    acc.update(pred, scaled_probs=scaled)
    predicted, confidence = acc.last_top_label
    s_pred, s_conf = acc.scaled.last_top_label
    threads = min(available_cores(), MAX_WORKERS)
    pairs = ((confidence, predicted == pred.labels), (s_conf, s_pred == pred.labels))
    if threads > 1 and pred.n_samples >= 2 * BLOCK_ROWS:  # before and after scaling: independent sorts
        with ThreadPoolExecutor(max_workers=2) as pool:
            adaptive, adaptive_scaled = pool.map(lambda pair: adaptive_ece(*pair, n_bins), pairs)
    else:
        adaptive, adaptive_scaled = (adaptive_ece(*pair, n_bins) for pair in pairs)
    found, slices = [], []
    if pred.images is not None or image_properties is not None:
        from audit.metrics.slices import TERCILE_LABELS, image_properties as properties_of, property_slices

        if image_properties is None:
            image_properties = properties_of(pred.images)
        found = property_slices(image_properties)
        slices = [{"name": sl["name"], "values": sl["labels"], "kind": "image property", "proxy": True,
                   "order": TERCILE_LABELS} for sl in found]
    from audit.engine.confidence import attach_confidence, exact_confidence

    # the ranking and selective sections before the disparity section: they need no fairlearn, whose import
    # (audit.prefetch) may still be running, and their sorts leave the GIL to it
    confidence_sections = exact_confidence(pred, top_label=(predicted, confidence),
                                           scaled_top_label=(s_pred, s_conf), slices=slices,
                                           target=target_accuracy, threads=threads)
    body = acc.finalize(n_bootstrap=n_bootstrap, seed=seed, temperature=t, temperature_fit=fit,
                        adaptive=adaptive, adaptive_scaled=adaptive_scaled)
    for sl in found:
        cells = GroupCellAccumulator(pred.n_classes).update(pred.labels, predicted, sl["labels"]).cells
        q1, q2 = sl["cut_points"]
        note = f"{sl['note']}; cut points {q1:.4g} and {q2:.4g} (low ≤ {q1:.4g} < mid ≤ {q2:.4g} < high)"
        entry = disparity_entry(cells, pred.class_names, name=sl["name"], kind="image property",
                                proxy=True, note=note, order=TERCILE_LABELS)
        entry["cut_points"] = [q1, q2]
        body["disparity"].append(entry)
    if images and pred.images is not None:
        from audit.thumbnails import png_data_uri

        for m in body["mistakes"]:
            m["thumbnail"] = png_data_uri(pred.images[m["index"]], scale=2)
    attach_confidence(body, *confidence_sections)
    from audit.engine.data_quality import add_data_quality

    add_data_quality(body, pred, predicted, properties=image_properties, seed=seed, images=images)
    if settings is None:
        settings = make_settings(seed=seed, n_bootstrap=n_bootstrap, images=images and pred.images is not None,
                                 group_cols=list(pred.groups), n_bins=n_bins, max_mistakes=max_mistakes,
                                 target_accuracy=target_accuracy)
    result = _envelope(pred.class_names, run=run, provenance=provenance, settings=settings,
                       n_bins=n_bins, adaptive_exact=True)
    result.update(body)
    return result


class FoldSample:
    """A seeded bottom-k sample (smallest random keys) of one fold's rows: bounded and mergeable."""

    def __init__(self, cap: int):
        self.cap = cap
        self.keys = np.zeros(0)
        self.labels = np.zeros(0, np.int64)
        self.probs = None

    def add(self, keys, labels, probs) -> None:
        self.keys = np.concatenate([self.keys, keys])
        self.labels = np.concatenate([self.labels, labels])
        self.probs = probs.astype(np.float64) if self.probs is None else np.concatenate([self.probs, probs])
        if self.keys.size > 2 * self.cap:
            self.trim()

    def trim(self) -> None:
        if self.keys.size > self.cap:
            keep = np.argpartition(self.keys, self.cap)[: self.cap]
            self.keys, self.labels, self.probs = self.keys[keep], self.labels[keep], self.probs[keep]

    def fit(self) -> float:
        self.trim()
        return fit_temperature(self.labels, self.probs)


def _fold_split(seed: int, chunk_no: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, chunk_no])
    return rng.random(n) < 0.5, rng.random(n)


def add_to_folds(folds: tuple["FoldSample", "FoldSample"], chunk, chunk_no: int, seed: int) -> None:
    """Put each row of ``chunk`` into cross-fit fold A or B (seeded by ``seed`` and the chunk number)."""
    in_a, keys = _fold_split(seed, chunk_no, len(chunk.labels))
    labels, probs = np.asarray(chunk.labels), np.asarray(chunk.probs)
    folds[0].add(keys[in_a], labels[in_a], probs[in_a])
    folds[1].add(keys[~in_a], labels[~in_a], probs[~in_a])


def cross_fit_scaled(chunk, chunk_no: int, seed: int, t_a: float, t_b: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities of ``chunk`` scaled across the folds: fold A by T_B, fold B by T_A."""
    labels, probs = np.asarray(chunk.labels), np.asarray(chunk.probs, dtype=np.float64)
    in_a, _ = _fold_split(seed, chunk_no, labels.shape[0])
    scaled = np.empty_like(probs)
    scaled[in_a] = apply_temperature(probs[in_a], t_b)
    scaled[~in_a] = apply_temperature(probs[~in_a], t_a)
    return labels, scaled


def build_result_streaming(chunks: Iterable | Callable[[], Iterable], *, class_names,
                           group_names=(), calibration=None, calibration_source: str | None = None,
                           temperature: float | None = None, n_bins: int = 15, seed: int = 0,
                           n_bootstrap: int = 200, max_mistakes: int = MAX_MISTAKES,
                           fit_cap: int = STREAM_FIT_CAP, run: dict | None = None,
                           provenance: dict | None = None,
                           target_accuracy: float = DEFAULT_TARGET_ACCURACY, settings: dict | None = None) -> dict:
    """The audit result of predictions read chunk by chunk; memory bounded by the chunk size.

    Parameters
    ----------
    chunks : iterable of Predictions-like chunks, or a callable returning a fresh such iterable
        Each chunk has ``labels`` (n,), ``probs`` (n, K) and optionally ``groups`` and ``sample_ids``.
    class_names : sequence of str
    group_names : sequence of str
        Group columns each chunk carries.
    calibration : Predictions, optional
        Fit T on it (one pass). Else ``temperature`` if given (one pass). Else a 2-fold cross-fit that
        reads ``chunks`` twice (it must be a callable): rows go to fold A or B at random (seeded per
        chunk number, so the split depends on the chunking), T_A and T_B are fitted on a seeded
        sample of at most ``fit_cap`` rows of each fold, and each fold is scaled by the other's T.

    Notes
    -----
    Everything but the adaptive ECE equals :func:`build_result` on the concatenated data with the
    same temperature; the adaptive ECE comes from a histogram sketch (see ``conventions``). No image
    slices or thumbnails: images are not streamed.
    """
    temperature, fit = stream_temperature(calibration, calibration_source, temperature)
    acc = AuditAccumulator(class_names, group_names=group_names, n_bins=n_bins,
                           temperature=temperature, max_mistakes=max_mistakes)
    if temperature is not None:
        for chunk in (chunks() if callable(chunks) else chunks):
            acc.update(chunk)
    else:
        if not callable(chunks):
            raise AuditError(MSG_STREAM_CROSSFIT)
        folds = (FoldSample(fit_cap), FoldSample(fit_cap))
        for no, chunk in enumerate(chunks()):
            acc.update(chunk)
            add_to_folds(folds, chunk, no, seed)
        t_a, t_b = folds[0].fit(), folds[1].fit()
        for no, chunk in enumerate(chunks()):
            acc.update_scaled(*cross_fit_scaled(chunk, no, seed, t_a, t_b), groups=_chunk_groups(chunk))
        temperature, fit = stream_cross_fit(t_a, t_b, fit_cap=fit_cap, n=acc.n)
    return stream_finish(acc, class_names=class_names, temperature=temperature, fit=fit, n_bins=n_bins,
                         seed=seed, n_bootstrap=n_bootstrap, max_mistakes=max_mistakes, run=run,
                         provenance=provenance, target_accuracy=target_accuracy, settings=settings)


def stream_temperature(calibration, calibration_source: str | None,
                       temperature: float | None) -> tuple[float | None, dict | None]:
    """T and its ``temperature_fit`` record for a streamed audit: fitted on ``calibration`` when given,
    else ``temperature`` as given, else (None, None) — the caller cross-fits."""
    if calibration is not None:
        fitted = fit_temperature(calibration.labels, calibration.probs)
        return fitted, {"method": FIT_METHOD, "source": calibration_source or "calibration set",
                        "n": int(calibration.n_samples)}
    if temperature is not None:
        return temperature, {"method": "given", "source": "given", "n": None}
    return None, None


def stream_cross_fit(t_a: float, t_b: float, *, fit_cap: int, n: int) -> tuple[float, dict]:
    """The reported T (geometric mean of the fold temperatures) and its record, for a streamed cross-fit."""
    fit = {"method": ("2-fold cross-fit over the stream: rows split at random (seeded per chunk), "
                      f"T of each fold fitted on a seeded sample of at most {fit_cap} rows, each "
                      "fold scaled by the other's T; temperature = geometric mean"),
           "source": "cross-fit", "n": int(n), "fold_temperatures": [t_a, t_b]}
    return float(np.sqrt(t_a * t_b)), fit


def stream_finish(acc: "AuditAccumulator", *, class_names, temperature, fit, n_bins: int, seed: int,
                  n_bootstrap: int, max_mistakes: int, run: dict | None, provenance: dict | None,
                  target_accuracy: float = DEFAULT_TARGET_ACCURACY, settings: dict | None = None) -> dict:
    """The result dict of a merged streaming accumulator (shared by the in-process and Dask paths);
    ``settings`` as :func:`build_result` takes them."""
    if acc.n == 0:
        raise AuditError("no predictions (N = 0); an audit needs at least one sample")
    body = acc.finalize(n_bootstrap=n_bootstrap, seed=seed, temperature=temperature,
                        temperature_fit=fit)
    from audit.engine.confidence import streamed_sections

    streamed_sections(body, acc, target=target_accuracy)
    from audit.engine.data_quality import add_not_computed

    add_not_computed(body, acc.groups)
    if settings is None:
        settings = make_settings(seed=seed, n_bootstrap=n_bootstrap, group_cols=list(acc.groups), n_bins=n_bins,
                                 max_mistakes=max_mistakes, target_accuracy=target_accuracy, streaming=True)
    result = _envelope(class_names, run=run, provenance=provenance, settings=settings,
                       n_bins=n_bins, adaptive_exact=False)
    result.update(body)
    return result
