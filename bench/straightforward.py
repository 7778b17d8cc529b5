"""The straightforward script an ML team would write instead of `audit run --predictions`: scikit-learn, numpy
and fairlearn on the raw rows of a predictions file, computing the same families of numbers.

    .venv/bin/python bench/straightforward.py preds.npz [--out numbers.json]

Classification report and confusion matrix (scikit-learn), top-label ECE and classwise ECE (numpy loops
over 15 equal-width bins (lo, hi]), log loss (scikit-learn), Brier (numpy), per-class one-vs-rest ROC AUC
and average precision (scikit-learn), fairlearn ``MetricFrame`` accuracy per group column, suspected label
errors (cleanlab ``find_label_issues`` with its defaults, ranked by self-confidence, and
``get_label_quality_scores``) and weak slices (sliceline ``Slicefinder`` on the group columns and the true class,
on a random 20,000 rows of one half as the audit searches, each slice's errors on the other half tested with
scipy's ``binomtest``). Run as its own process by ``bench/run_bench.py``, imports included, as a user would
run it.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores
from fairlearn.metrics import MetricFrame
from scipy.stats import binomtest
from sliceline.slicefinder import Slicefinder
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    classification_report,
    confusion_matrix,
    log_loss,
    roc_auc_score,
)

BINS = 15
#: Rows SliceLine searches, as the audit (audit.metrics.weak_slices.DISCOVERY_CAP): the same work.
SLICE_ROWS = 20_000


def ece(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Σ (n_b / N) |acc_b − conf_b| over 15 equal-width bins (lo, hi], a loop over the bins."""
    edges = np.linspace(0, 1, BINS + 1)
    total = 0.0
    for b in range(BINS):
        mask = (confidence > edges[b]) & (confidence <= edges[b + 1])
        if b == 0:
            mask |= confidence == 0
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)


def numbers(path: str) -> dict:
    data = np.load(path)
    labels, probs = data["labels"], data["probs"]
    k = probs.shape[1]
    classes = list(range(k))
    pred = probs.argmax(1)
    out = {
        "confusion_matrix": confusion_matrix(labels, pred, labels=classes).tolist(),
        "report": classification_report(labels, pred, labels=classes, output_dict=True, zero_division=0),
        "ece": ece(probs.max(1), pred == labels),
        "classwise_ece": float(np.mean([ece(probs[:, c], labels == c) for c in classes])),
        "log_loss": float(log_loss(labels, probs, labels=classes)),
        "brier": float(np.mean(np.sum((probs - np.eye(k)[labels]) ** 2, axis=1))),
        "roc_auc": {}, "average_precision": {}, "disparity": {},
    }
    for c in classes:
        truth = labels == c
        if 0 < truth.sum() < len(labels):
            out["roc_auc"][c] = float(roc_auc_score(truth, probs[:, c]))
            out["average_precision"][c] = float(average_precision_score(truth, probs[:, c]))
    for key in data.files:
        if key.startswith("group_"):
            frame = MetricFrame(metrics=accuracy_score, y_true=labels, y_pred=pred, sensitive_features=data[key])
            out["disparity"][key[len("group_"):]] = {"by_group": frame.by_group.to_dict(),
                                                     "difference": float(frame.difference())}
    issues = find_label_issues(labels, probs, return_indices_ranked_by="self_confidence")
    get_label_quality_scores(labels, probs)
    out["n_flagged"] = int(len(issues))
    groups = [data[key] for key in data.files if key.startswith("group_")]
    features = np.column_stack([np.unique(g.astype(str), return_inverse=True)[1] + 1 for g in groups]
                               + [labels + 1])
    errors = (pred != labels).astype(float)
    order = np.random.default_rng(0).permutation(len(labels))
    search, check = order[: min(len(labels) // 2, SLICE_ROWS)], order[len(labels) // 2:]
    finder = Slicefinder(alpha=0.99, k=10, max_l=2, min_sup=max(30, int(0.005 * len(search))))
    finder.fit(features[search], errors[search])
    for top in finder.top_slices_:
        inside = np.all([features[check, j] == v for j, v in enumerate(top) if v is not None], axis=0)
        if inside.any():
            binomtest(int(errors[check][inside].sum()), int(inside.sum()), errors[check].mean(), alternative="greater")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("predictions")
    parser.add_argument("--out", help="write the numbers as JSON here")
    args = parser.parse_args()
    result = numbers(args.predictions)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, default=str)


if __name__ == "__main__":
    main()
