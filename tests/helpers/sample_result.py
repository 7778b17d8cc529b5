"""A small but complete audit result (schema version 1, docs/audit-json.md) for the renderer tests.

The numbers are derived from one fixed confusion matrix so that they agree with each other; they are
test data, not the output of the audit engine.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np

from audit.gate.checklist import checklist_section

CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{7*7}}")


def wilson(k: int, n: int, z: float = 1.959963984540054) -> list[float] | None:
    """95% Wilson score interval of k successes in n trials; None when n = 0."""
    if n == 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def thumbnail(seed: int, size: int = 32) -> str:
    """A tiny PNG (a colour gradient) as a data: URI."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=3)
    y, x = np.mgrid[0:size, 0:size]
    img = np.stack([(base[c] + 4 * x + 3 * y * (c + 1)) % 256 for c in range(3)], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _confusion(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """A K x K count matrix with about n samples, the diagonal dominant, the last class absent."""
    cm = rng.integers(0, 12, size=(k, k)) * rng.integers(0, 2, size=(k, k))
    support = n // (k - 1)
    for i in range(k - 1):
        correct = int(support * (0.55 + 0.4 * i / max(k - 2, 1)))
        cm[i, i] = 0
        off = rng.multinomial(support - correct, rng.dirichlet(np.ones(k - 1) * 0.3))
        cm[i, np.arange(k) != i] = off
        cm[i, i] = correct
    cm[k - 1, :] = 0  # a class with no samples: undefined error rate
    return cm


def _bins(rng: np.random.Generator, n: int, shift: float) -> list[dict]:
    edges = np.linspace(0, 1, 16)
    counts = rng.multinomial(n, np.linspace(0.1, 2.0, 15) ** 2 / (np.linspace(0.1, 2.0, 15) ** 2).sum())
    counts[0] = 0  # an empty bin: its confidence and accuracy are undefined
    out = []
    for lo, hi, c in zip(edges[:-1], edges[1:], counts):
        mid = (lo + hi) / 2
        out.append({
            "lo": round(float(lo), 6), "hi": round(float(hi), 6), "count": int(c),
            "mean_confidence": None if c == 0 else round(float(mid), 4),
            "accuracy": None if c == 0 else round(float(min(1.0, max(0.0, mid - shift * mid * (1 - mid)))), 4),
        })
    return out


def _disparity(name: str, kind: str, groups: list[str], overall: float, class_names, rng) -> dict:
    rows = []
    for j, g in enumerate(groups):
        n = int(rng.integers(200, 3000))
        k = int(round(n * (overall - 0.12 + 0.1 * j)))
        rows.append({"group": g, "n": n, "accuracy": k / n, "accuracy_ci": wilson(k, n)})
    accs = [r["accuracy"] for r in rows]
    worst = rows[int(np.argmin(accs))]["group"]
    best = rows[int(np.argmax(accs))]["group"]
    gaps = [{"class": c, "tpr_difference": float(rng.uniform(0, 0.2)), "fpr_difference": float(rng.uniform(0, 0.05))}
            for c in class_names[:-1]]
    gaps.append({"class": class_names[-1], "tpr_difference": None, "fpr_difference": float(rng.uniform(0, 0.01))})
    proxy = kind == "image property"
    return {
        "name": name, "kind": kind, "proxy": proxy,
        "note": ("terciles of mean pixel brightness; a proxy for capture conditions, not a property of people"
                 if proxy else "group column given with --group-col"),
        "metric": "accuracy", "groups": rows, "overall": overall,
        "difference": max(accs) - min(accs), "ratio": min(accs) / max(accs),
        "difference_to_overall": max(abs(a - overall) for a in accs),
        "ratio_to_overall": min(a / overall for a in accs),
        "worst_group": worst, "best_group": best, "per_class_gaps": gaps,
    }


def sample_result(n_classes: int = 10, n: int = 10_000, n_mistakes: int = 24, *, images: bool = True,
                  gate: bool = True, seed: int = 0) -> dict:
    """Return a complete audit result dict (schema version 1) for ``n_classes`` classes and ~``n`` samples.

    The last class has no samples (its error rate is null); one calibration bin is empty; the gate has a
    passing and a failing rule; baseline is null; the checklist has answered and open items.
    """
    rng = np.random.default_rng(seed)
    names = list(CIFAR10[:n_classes]) if n_classes <= 10 else [f"class {i}" for i in range(n_classes)]
    cm = _confusion(n_classes, n, rng)
    n_total = int(cm.sum())
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    correct = int(np.trace(cm))
    per_class = []
    for i, c in enumerate(names):
        s, p, tp = int(support[i]), int(predicted[i]), int(cm[i, i])
        recall = tp / s if s else None
        precision = tp / p if p else None
        f1 = (None if recall is None or precision is None else
              0.0 if recall + precision == 0 else 2 * precision * recall / (precision + recall))
        per_class.append({
            "class": c, "index": i, "support": s, "n_predicted": p,
            "error_rate": None if recall is None else 1 - recall,
            "error_rate_ci": None if s == 0 else wilson(s - tp, s),
            "precision": precision, "recall": recall, "f1": f1,
            "mean_confidence": None if s == 0 else float(rng.uniform(0.6, 0.95)),
        })
    normalized = [[None if support[i] == 0 else float(cm[i, j] / support[i]) for j in range(n_classes)]
                  for i in range(n_classes)]
    cells = [(int(cm[i, j]), i, j) for i in range(n_classes) for j in range(n_classes) if i != j and cm[i, j] > 0]
    cells.sort(key=lambda t: (-t[0], t[1], t[2]))
    top = [{"true": names[i], "predicted": names[j], "count": c, "rate": c / int(support[i])}
           for c, i, j in cells[:10]]
    accuracy = correct / n_total
    defined_recalls = [r["recall"] for r in per_class if r["recall"] is not None]
    defined_f1 = [r["f1"] for r in per_class if r["f1"] is not None]

    mistakes = []
    for m in range(n_mistakes):
        t, p = int(rng.integers(0, n_classes - 1)), int(rng.integers(0, n_classes))
        if p == t:
            p = (p + 1) % n_classes
        mistakes.append({"index": int(rng.integers(0, n_total)), "sample_id": f"test-{m:05d}",
                         "true": names[t], "predicted": names[p], "confidence": 0.999 - 0.01 * m,
                         "thumbnail": thumbnail(m) if images else None})

    answers = {"source": "audit-checklist.toml", "answers": {
        "consent-1": {"status": "yes", "evidence": "Public benchmark (CIFAR-10); licence checked, ticket ETH-12",
                      "answered_by": "Data steward", "answered_on": "2024-05-31"},
        "bias-1": {"status": "no", "evidence": "Brightness gap under investigation, ticket ML-88",
                   "answered_by": "Model owner", "answered_on": "2024-06-01"},
        "surveillance-4": {"status": "not applicable", "evidence": "Offline benchmark; nothing is retained",
                           "answered_by": "Model owner", "answered_on": "2024-06-01"},
    }}
    checklist = checklist_section(answers)

    bins = _bins(rng, n_total, 0.35)
    bins_after = _bins(rng, n_total, 0.05)
    result = {
        "schema_version": "1",
        "tool": {"name": "audit", "version": "0.1.0"},
        "generated_at": "2024-06-01T12:00:00Z",
        "run": {"name": "cifar10-seed", "model_name": "seed-cnn", "source": "model", "seed": 0},
        "provenance": {
            "model_sha256": "3f" * 32, "data_sha256": "a1" * 32, "predictions_sha256": None,
            "versions": {"python": "3.11.9", "numpy": "2.1.0", "scikit-learn": "1.5.1", "fairlearn": "0.15.0",
                         "tensorflow": "2.21.0"},
            "settings": {"n_bins": 15, "n_bootstrap": 1000, "seed": 0, "group_cols": ["site"], "images": images,
                         "max_mistakes": 24, "target_accuracy": 0.9},
        },
        "conventions": {
            "accuracy_ci": "95% Wilson score interval",
            "error_rate": "1 - recall of the class; undefined for a class with no samples",
            "ece": "top-label ECE, 15 equal-width bins (lo, hi], confidence 1.0 in the last bin (Guo et al. 2017)",
            "ece_ci": "seeded bootstrap 95% percentile interval, 1000 resamples",
            "brier": "mean over samples of the sum over classes of (p - onehot)^2",
            "nll": "mean negative log-likelihood of the true class, probabilities clipped to [1e-15, 1]",
            "argmax_ties": "ties in the arg-max go to the lowest class index",
            "disparity": "accuracy per group (fairlearn MetricFrame); difference = max - min, ratio = min / max",
        },
        "class_names": names,
        "overall": {"n": n_total, "n_correct": correct, "accuracy": accuracy, "accuracy_ci": wilson(correct, n_total),
                    "balanced_accuracy": float(np.mean(defined_recalls)), "macro_f1": float(np.mean(defined_f1)),
                    "mean_confidence": 0.8123},
        "per_class": per_class,
        "confusion_matrix": cm.astype(int).tolist(),
        "confusion_matrix_normalized": normalized,
        "top_confusions": top,
        "calibration": {
            "n_bins": 15, "binning": "equal-width (lo, hi]", "ece": 0.0812, "ece_ci": [0.0744, 0.0881],
            "mce": 0.2011, "classwise_ece": 0.0173, "adaptive_ece": 0.0799,
            "adaptive_binning": "15 equal-mass bins of sorted top-label confidence",
            "brier": 0.4412, "nll": 1.0123, "nll_clip": 1e-15, "bins": bins,
            "temperature": 1.7321, "temperature_fit": {"method": "minimise NLL (L-BFGS)",
                                                      "source": "validation split of the training run", "n": 5000},
            "after_scaling": {"ece": 0.0151, "ece_ci": [0.0112, 0.0203], "mce": 0.0622, "classwise_ece": 0.0101,
                              "adaptive_ece": 0.0143, "brier": 0.4288, "nll": 0.9312, "bins": bins_after},
        },
        "disparity": [
            _disparity("site", "group column", ["north", "south", "east"], accuracy, names, rng),
            _disparity("brightness", "image property", ["dark", "medium", "bright"], accuracy, names, rng),
        ],
        "mistakes": mistakes,
        "checklist": checklist,
        "gate": {
            "policy_source": "policy.toml", "informational": False, "passed": False if gate else True,
            "rules": [
                {"name": "min_accuracy", "value": accuracy_ci_low(correct, n_total), "threshold": 0.6,
                 "passed": True, "skipped": False,
                 "reason": "lower end of the accuracy interval is at least the threshold"},
                {"name": "max_ece", "value": 0.0812, "threshold": 0.05, "passed": False, "skipped": False,
                 "reason": "ECE before temperature scaling exceeds the threshold"},
            ],
        } if gate else None,
        "baseline": None,
    }
    return result


def accuracy_ci_low(k: int, n: int) -> float:
    return wilson(k, n)[0]


def hostile_result() -> dict:
    """The sample result with hostile strings as class names, group values, model name and answers."""
    result = sample_result(n_classes=4, n=400, n_mistakes=3)
    old = result["class_names"]
    rename = dict(zip(old, [HOSTILE[0], HOSTILE[1], HOSTILE[2], "plain"]))
    result["class_names"] = [rename[c] for c in old]
    for row in result["per_class"]:
        row["class"] = rename[row["class"]]
    for row in result["top_confusions"]:
        row["true"], row["predicted"] = rename[row["true"]], rename[row["predicted"]]
    for row in result["mistakes"]:
        row["true"], row["predicted"] = rename[row["true"]], rename[row["predicted"]]
        row["sample_id"] = HOSTILE[1]
    for grouping in result["disparity"]:
        for row, bad in zip(grouping["groups"], HOSTILE):
            row["group"] = bad
        grouping["worst_group"], grouping["best_group"] = HOSTILE[0], HOSTILE[2]
        for row in grouping["per_class_gaps"]:
            row["class"] = rename[row["class"]]
    result["disparity"][0]["name"] = HOSTILE[0]
    result["run"]["model_name"] = HOSTILE[0] + HOSTILE[1] + HOSTILE[2]
    result["run"]["name"] = HOSTILE[2]
    for item, bad in zip(result["checklist"]["items"], HOSTILE * 10):
        if item["status"] != "open":
            item["evidence"] = bad
            item["answered_by"] = bad
    result["checklist"]["items"][5].update(status="yes", evidence=HOSTILE[1], answered_by=HOSTILE[2],
                                           answered_on="2024-06-01")
    result["checklist"]["n_open"] = sum(i["status"] == "open" for i in result["checklist"]["items"])
    result["provenance"]["settings"]["group_cols"] = [HOSTILE[0]]
    result["gate"]["rules"][0]["reason"] = HOSTILE[1]
    result["mistakes"][0]["thumbnail"] = "javascript:alert(1)"
    result["mistakes"][1]["thumbnail"] = "https://example.com/x.png"
    return result
