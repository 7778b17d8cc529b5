"""The straightforward script an ML team would write instead of `audit run --predictions`: scikit-learn, numpy
and fairlearn on the raw rows of a predictions file, computing the same families of numbers.

    .venv/bin/python bench/straightforward.py preds.npz [--out numbers.json]

Classification report and confusion matrix (scikit-learn), top-label ECE and classwise ECE (numpy loops
over 15 equal-width bins (lo, hi]), log loss (scikit-learn), Brier (numpy), per-class one-vs-rest ROC AUC
and average precision (scikit-learn), and fairlearn ``MetricFrame`` accuracy per group column. Run as its
own process by ``bench/run_bench.py``, imports included, as a user would run it.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from fairlearn.metrics import MetricFrame
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    classification_report,
    confusion_matrix,
    log_loss,
    roc_auc_score,
)

BINS = 15


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
