"""The engine's hooks for the metrics that rank by confidence: per-class ROC AUC and average precision
(``per_class[i].roc_auc``, ``overall.roc_auc_macro`` ...) and the ``selective`` section, exact in memory
or from the accumulators' histograms in a stream (docs/audit-json.md).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from audit.metrics.ranking import THREAD_MIN_ROWS, ranking_conventions, ranking_exact, ranking_means
from audit.metrics.selective import DEFAULT_TARGET_ACCURACY, selective_conventions, selective_exact

#: Keys of each class's :func:`~audit.metrics.ranking.rank_stats` copied into its ``per_class`` row.
ROW_KEYS = ("roc_auc", "roc_auc_ci", "roc_auc_bound", "average_precision", "average_precision_ci",
            "average_precision_bound")


def attach_ranking(body: dict, stats: list[dict]) -> None:
    """Add the ranking metrics to a result body: per-class values in ``per_class``, means in
    ``overall``, and the curves under ``ranking.curves`` (one per class, in class order)."""
    for row, s in zip(body["per_class"], stats):
        row.update({key: s[key] for key in ROW_KEYS})
    body["overall"].update(ranking_means(stats))
    body["ranking"] = {"curves": [{"class": row["class"], "roc": s["roc_curve"], "pr": s["pr_curve"]}
                                  for row, s in zip(body["per_class"], stats)]}


def exact_confidence(pred, *, top_label, scaled_top_label, slices=(), target: float = DEFAULT_TARGET_ACCURACY,
                     threads: int = 1) -> tuple[list[dict], dict]:
    """Exact ranking statistics per class and the ``selective`` section (before and after temperature
    scaling) of an in-memory audit, before the result body exists (:func:`attach_confidence` adds them).

    Parameters
    ----------
    pred : Predictions
    top_label, scaled_top_label : (predicted, confidence) before and after scaling
    slices : sequence of dict
        Extra groupings (image-property slices): ``{name, values, kind, proxy, order}``.
    threads : int
        Threads of the per-class ranking metrics; with 2 or more (from ``THREAD_MIN_ROWS`` samples), the
        selective sections before and after scaling are computed side by side (same result).
    """
    stats = ranking_exact(pred.labels, pred.probs, threads=threads)
    groupings = [{"name": name, "values": values, "kind": "group column", "proxy": False}
                 for name, values in pred.groups.items()] + list(slices)

    def selective(top):
        return selective_exact(pred.labels, *top, pred.class_names, groupings, target=target)

    if threads > 1 and pred.n_samples >= THREAD_MIN_ROWS:  # before and after scaling: independent
        with ThreadPoolExecutor(max_workers=2) as pool:
            before, after = pool.map(selective, (top_label, scaled_top_label))
    else:
        before, after = selective(top_label), selective(scaled_top_label)
    before["after_scaling"] = after
    return stats, before


def attach_confidence(body: dict, stats: list[dict], selective: dict) -> None:
    """Add :func:`exact_confidence`'s ranking statistics and selective section to a result body."""
    attach_ranking(body, stats)
    body["selective"] = selective


def exact_sections(body: dict, pred, *, top_label, scaled_top_label, slices=(),
                   target: float = DEFAULT_TARGET_ACCURACY, threads: int = 1) -> None:
    """:func:`exact_confidence` added to ``body`` at once."""
    attach_confidence(body, *exact_confidence(pred, top_label=top_label, scaled_top_label=scaled_top_label,
                                              slices=slices, target=target, threads=threads))


def streamed_sections(body: dict, acc, *, target: float = DEFAULT_TARGET_ACCURACY) -> None:
    """The same sections from a streaming accumulator's histograms (bounds stated per value)."""
    attach_ranking(body, acc.ranking.result())
    selective = acc.selective.result(acc.class_names, target=target)
    selective["after_scaling"] = (acc.selective_scaled.result(acc.class_names, target=target)
                                  if acc.selective_scaled.n else None)
    body["selective"] = selective


def conventions(exact: bool) -> dict[str, str]:
    """The ``conventions`` entries of the ranking and selective metrics."""
    return {**ranking_conventions(exact), **selective_conventions(exact)}
