"""Comparison with a baseline model: overall and per-class deltas, and exact McNemar tests per sample.

A baseline is a previous ``audit.json`` (aggregate deltas only) or previous predictions on the same test
set, matched by sample id (deltas plus an exact McNemar test on the two models' correctness). Both come
parsed: :func:`audit.pipeline.compare_baseline` reads files and the history store.
"""

from __future__ import annotations

import numpy as np

from audit.errors import AuditError
from audit.predictions import Predictions

MSG_CLASSES_DIFFER = "baseline classes {baseline} differ from the audited model's {current}"
MSG_N_DIFFER = "baseline was measured on {baseline} samples, this audit on {current}: not the same test set"
MSG_SUPPORT_DIFFER = ("baseline has {baseline} samples of class {name!r}, this audit {current}: "
                      "not the same test set")
MSG_NEEDS_CURRENT = "a predictions baseline needs the current predictions to match samples against"
MSG_NEEDS_IDS = "matching a predictions baseline needs sample ids in both files; {which} has none"
MSG_IDS_DIFFER = ("baseline and current predictions cover different samples: {shared} shared, "
                  "{only_current} only in the current predictions, {only_baseline} only in the baseline "
                  "(first unmatched id {example!r})")
MSG_LABELS_DIFFER = ("baseline and current predictions disagree on the true label of {count} of {n} "
                     "matched samples (first: sample id {example!r})")


def compare_audit_json(result: dict, baseline: dict, *, source: str) -> dict:
    """Aggregate deltas between two audit results on the same classes and test set (no McNemar test)."""
    names = list(result["class_names"])
    if list(baseline["class_names"]) != names:
        raise AuditError(MSG_CLASSES_DIFFER.format(baseline=baseline["class_names"], current=names), path=source)
    n_before, n_after = baseline["overall"]["n"], result["overall"]["n"]
    if n_before != n_after:
        raise AuditError(MSG_N_DIFFER.format(baseline=n_before, current=n_after), path=source)
    per_class = []
    for before, after in zip(baseline["per_class"], result["per_class"]):
        if before["support"] != after["support"]:
            raise AuditError(MSG_SUPPORT_DIFFER.format(baseline=before["support"], name=after["class"],
                                                       current=after["support"]), path=source)
        per_class.append(_entry_class(after["class"], before.get("recall"), after.get("recall"), None))
    overall = _entry(n_after, baseline["overall"].get("accuracy"), result["overall"].get("accuracy"), None)
    return {"source": source, "kind": "audit.json", "overall": overall, "per_class": per_class}


def compare_predictions(current: Predictions, baseline: Predictions, *, source: str) -> dict:
    """Deltas and exact McNemar tests between two models' predictions on the same samples.

    Samples are matched by sample id; the result follows the order of ``current``.
    """
    if tuple(baseline.class_names) != tuple(current.class_names):
        raise AuditError(MSG_CLASSES_DIFFER.format(baseline=list(baseline.class_names),
                                                   current=list(current.class_names)), path=source)
    for which, pred in (("the baseline", baseline), ("the current predictions", current)):
        if pred.sample_ids is None:
            raise AuditError(MSG_NEEDS_IDS.format(which=which), path=source,
                             hint="add a sample_id column to both predictions files")
    order = _match(current.sample_ids, baseline.sample_ids, source)
    labels = current.labels
    base_labels = baseline.labels[order]
    wrong = base_labels != labels
    if wrong.any():
        raise AuditError(MSG_LABELS_DIFFER.format(count=int(wrong.sum()), n=labels.size,
                                                  example=str(current.sample_ids[np.argmax(wrong)])), path=source)
    after_ok = current.predicted == labels
    before_ok = baseline.predicted[order] == labels
    overall = _entry(int(labels.size), float(before_ok.mean()), float(after_ok.mean()),
                     mcnemar_exact(before_ok, after_ok))
    per_class = []
    for k, name in enumerate(current.class_names):
        mask = labels == k
        if not mask.any():
            per_class.append(_entry_class(name, None, None, None))
            continue
        per_class.append(_entry_class(name, float(before_ok[mask].mean()), float(after_ok[mask].mean()),
                                      mcnemar_exact(before_ok[mask], after_ok[mask])))
    return {"source": source, "kind": "predictions", "overall": overall, "per_class": per_class}


def mcnemar_exact(before_correct: np.ndarray, after_correct: np.ndarray) -> dict:
    """Exact (binomial) McNemar test on two models' correctness over the same samples.

    Parameters
    ----------
    before_correct, after_correct : ndarray of bool, shape (n_samples,)
        Whether the baseline and the current model got each sample right.

    Returns
    -------
    dict
        ``{b, c, p_value}``: ``b`` samples the baseline got right and the current model wrong, ``c`` the
        reverse; two-sided ``p = min(1, 2 * BinomCDF(min(b, c); b + c, 0.5))``, and 1 when ``b + c = 0``.
    """
    from scipy.stats import binomtest

    before_correct = np.asarray(before_correct, dtype=bool)
    after_correct = np.asarray(after_correct, dtype=bool)
    b = int(np.sum(before_correct & ~after_correct))
    c = int(np.sum(~before_correct & after_correct))
    p = 1.0 if b + c == 0 else min(1.0, float(binomtest(b, b + c, 0.5, alternative="two-sided").pvalue))
    return {"b": b, "c": c, "p_value": p}


def _match(current_ids: np.ndarray, baseline_ids: np.ndarray, source: str) -> np.ndarray:
    """Indices into ``baseline_ids`` that put it in the order of ``current_ids``; error unless the sets agree."""
    cur = np.asarray(current_ids).astype(str)
    base = np.asarray(baseline_ids).astype(str)
    only_current = np.setdiff1d(cur, base)
    only_baseline = np.setdiff1d(base, cur)
    if only_current.size or only_baseline.size:
        example = only_current[0] if only_current.size else only_baseline[0]
        raise AuditError(MSG_IDS_DIFFER.format(shared=int(np.intersect1d(cur, base).size),
                                               only_current=int(only_current.size),
                                               only_baseline=int(only_baseline.size), example=str(example)),
                         path=source)
    sorter = np.argsort(base, kind="stable")
    return sorter[np.searchsorted(base, cur, sorter=sorter)]


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _entry(n: int, before, after, mcnemar) -> dict:
    return {"n": n, "accuracy_before": before, "accuracy_after": after, "delta": _delta(before, after),
            "mcnemar": mcnemar}


def _entry_class(name: str, before, after, mcnemar) -> dict:
    return {"class": name, "recall_before": before, "recall_after": after, "delta": _delta(before, after),
            "mcnemar": mcnemar}
