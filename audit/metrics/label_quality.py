"""Suspected label errors (confident learning, cleanlab 2.x): which test labels the model's probabilities
contradict, ranked by cleanlab's label-quality score. Arrays in, a JSON-ready section out; cleanlab is
imported only when :func:`label_quality` runs.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from audit.metrics.disparity import factorize
from audit.metrics.intervals import wilson_interval

FILTER = "prune_by_noise_rate"  # cleanlab.filter.find_label_issues' default filter_by
RANKING = "self_confidence"  # cleanlab.rank.get_label_quality_scores' default method
#: Below this accuracy the section warns that the flags are likely the model's own mistakes (RULE says why).
WEAK_ACCURACY = 0.90
WARNING = ("the model is {acc:.1%} accurate (below {min:.0%}): {mistakes:.0%} of the flagged samples are ones "
           "it misclassifies, so most flags are likely the model's own mistakes rather than wrong labels; "
           "review them only as candidates")
RULE = ("warning when accuracy < {min:.0%}: confident learning estimates the label noise from the model's "
        "probabilities, so a model that errs on more than one sample in ten cannot separate its own errors from "
        "label errors (Northcutt et al. 2021 audit test sets with models near or above 90-95% accuracy; "
        "a 64%-accurate CIFAR-10 model flags about a quarter of the test set)")


def flag_label_issues(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the suspected label errors, most suspicious first, and every sample's quality score.

    Exactly ``cleanlab.filter.find_label_issues(labels, probs, filter_by="prune_by_noise_rate",
    return_indices_ranked_by="self_confidence")`` and ``cleanlab.rank.get_label_quality_scores(labels,
    probs)``, single-process (``n_jobs=1``: faster than cleanlab's pool below millions of rows and
    deterministic). The scores are cleanlab's ``get_self_confidence_for_each_label``, which
    ``get_label_quality_scores(method="self_confidence")`` returns after checking the inputs a second time
    (``find_label_issues`` has just checked them; 0.25 s at 1M rows). The ranking is cleanlab's own
    ``order_label_issues`` expression (``indices[np.argsort(scores[mask])]``) applied to the scores computed
    once, rather than cleanlab computing them a second time: the same indices in the same order (tested).

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
    probs : ndarray of shape (n_samples, n_classes), rows summing to 1 (the probabilities as given)
    """
    import warnings

    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_self_confidence_for_each_label

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    with warnings.catch_warnings():  # cleanlab warns about classes with few samples; the section reports them
        warnings.simplefilter("ignore")
        mask = np.asarray(find_label_issues(labels, probs, filter_by=FILTER, n_jobs=1), dtype=bool)
    scores = np.asarray(get_self_confidence_for_each_label(labels, probs), dtype=np.float64)
    ranked = np.arange(len(labels))[mask][np.argsort(scores[mask])]
    return ranked.astype(np.int64), scores


def not_computed(reason: str) -> dict:
    """The section of an audit that could not compute label quality, saying why."""
    return {"computed": False, "reason": reason, "method": _method(), "n_flagged": None, "flagged": [],
            "share_flagged": None, "share_flagged_ci": None, "accuracy": None, "by_class": [],
            "by_group": {}, "warning": None}


def _method() -> dict:
    from importlib import metadata

    return {"library": "cleanlab", "version": metadata.version("cleanlab"),
            "filter": f"cleanlab.filter.find_label_issues(filter_by={FILTER!r})",
            "ranking": f"cleanlab.rank.get_label_quality_scores(method={RANKING!r}), lowest score first",
            "probabilities": "as given, before temperature scaling",
            "suggested": "the class of highest probability (ties to the lowest index)",
            "warning_rule": RULE.format(min=WEAK_ACCURACY)}


def label_quality(labels: np.ndarray, probs: np.ndarray, class_names: Sequence[str], *,
                  sample_ids: np.ndarray | None = None, groups: Mapping[str, np.ndarray] | None = None,
                  predicted: np.ndarray | None = None) -> dict:
    """The ``label_quality`` section of audit.json (docs/audit-json.md).

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
    probs : ndarray of shape (n_samples, n_classes)
    class_names : sequence of str, length n_classes
    sample_ids : ndarray of shape (n_samples,), optional
        Each flagged sample is named by its id (else by its row index).
    groups : mapping of str to ndarray of shape (n_samples,), optional
    predicted : ndarray of shape (n_samples,), optional
        The arg-max of ``probs`` if already computed.
    """
    labels = np.asarray(labels, dtype=np.int64)
    n, k = np.shape(probs)
    if n < 2 or k < 2:
        return not_computed(f"needs at least 2 samples and 2 classes; got {n} and {k}")
    present = np.unique(labels)
    if present.size < 2:
        return not_computed(f"needs labels of at least 2 classes; all {n} samples are labelled "
                            f"{str(class_names[int(present[0])])!r}")
    predicted = np.asarray(probs).argmax(axis=1) if predicted is None else np.asarray(predicted)
    try:
        ranked, scores = flag_label_issues(labels, probs)
    except ValueError as exc:  # an input cleanlab's own checks refuse: the section says why, the audit goes on
        return not_computed(f"cleanlab refused the inputs: {exc}")
    correct = predicted == labels
    accuracy = float(correct.mean())
    n_flagged = int(ranked.size)
    mistakes = float((~correct[ranked]).mean()) if n_flagged else 0.0
    names = [str(c) for c in class_names]
    ids = ranked if sample_ids is None else np.asarray(sample_ids)[ranked]
    ids = ids.tolist() if ids.dtype != object else [plain_value(v) for v in ids.tolist()]  # plain Python values
    named = np.array(names, dtype=object)  # one list per column, zipped: 213,786 flags in 0.05 s instead of 0.3 s
    flagged = [{"index": i, "sample_id": sid, "given": given, "suggested": suggested, "score": score}
               for i, sid, given, suggested, score in zip(ranked.tolist(), ids, named[labels[ranked]].tolist(),
                                                          named[predicted[ranked]].tolist(), scores[ranked].tolist())]
    is_flagged = np.zeros(n, bool)
    is_flagged[ranked] = True
    support = np.bincount(labels, minlength=k)
    per_class = np.bincount(labels[ranked], minlength=k)
    by_class = [{"class": names[c], "n": int(support[c]), "n_flagged": int(per_class[c]),
                 "share_flagged": float(per_class[c] / support[c]) if support[c] else None} for c in range(k)]
    by_group = {}
    for name, values in (groups or {}).items():
        inverse, uniq = factorize(np.asarray(values).astype(str))
        sizes = np.bincount(inverse, minlength=uniq.size)
        hits = np.bincount(inverse[is_flagged], minlength=uniq.size)
        by_group[str(name)] = [{"group": str(g), "n": int(s), "n_flagged": int(h), "share_flagged": float(h / s)}
                               for g, s, h in zip(uniq.tolist(), sizes, hits)]
    lo, hi = (float(v) for v in wilson_interval(n_flagged, n))
    warning = (WARNING.format(acc=accuracy, min=WEAK_ACCURACY, mistakes=mistakes)
               if accuracy < WEAK_ACCURACY else None)
    return {"computed": True, "reason": None, "method": _method(), "n": int(n), "n_flagged": n_flagged,
            "flagged": flagged, "share_flagged": n_flagged / n, "share_flagged_ci": [lo, hi],
            "flagged_model_mistakes": mistakes, "accuracy": accuracy, "by_class": by_class, "by_group": by_group,
            "warning": warning}


def plain_value(value):
    """A sample id as JSON holds it: a numpy scalar as the Python value (``np.int64(7)`` -> 7), others as given."""
    return value.item() if hasattr(value, "item") else value
