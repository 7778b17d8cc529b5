"""Predictions of any shape the audit must take: K classes, absent and never-predicted classes, group
columns of any size, unusual class names. Shared by the render, property and Chromium tests."""

from __future__ import annotations

import numpy as np

from audit.engine.build import build_result
from audit.predictions import make_predictions

LONG_NAME = "a-very-long-class-name-" * 9  # 207 characters
UNICODE_NAMES = ["猫", "كلب", "🚢 ship", LONG_NAME[:200], "n01440764", "<b>&amp;</b>"]


def arrays(k: int, n: int, *, seed: int = 0, absent=(), never_predicted=(), accuracy: float = 0.6,
           group_sizes=None):
    """labels (n,), probs (n, k) and groups of a synthetic audit set.

    ``absent`` classes have no label; ``never_predicted`` classes are never the arg-max; about
    ``accuracy`` of the samples are predicted right (where the true class may be predicted).
    ``group_sizes`` (list of int summing to n) gives a group column ``site``.
    """
    rng = np.random.default_rng(seed)
    allowed_labels = np.array([c for c in range(k) if c not in set(absent)])
    labels = rng.choice(allowed_labels, n)
    can_predict = np.array([c for c in range(k) if c not in set(never_predicted)])
    predicted = rng.choice(can_predict, n)
    right = (rng.random(n) < accuracy) & ~np.isin(labels, list(never_predicted))
    predicted[right] = labels[right]
    clash = ~right & (predicted == labels)  # wrong by construction: the next class that may be predicted
    position = np.searchsorted(can_predict, predicted[clash])
    predicted[clash] = can_predict[(position + 1) % len(can_predict)]
    probs = rng.random((n, k)) * 0.5
    probs[np.arange(n), predicted] = probs.max(axis=1) + 1.0 + rng.random(n)
    probs /= probs.sum(axis=1, keepdims=True)
    groups = {}
    if group_sizes is not None:
        groups["site"] = np.repeat([f"s{i}" for i in range(len(group_sizes))], group_sizes)[rng.permutation(n)]
    return labels, probs, groups


def result_for(k: int, n: int, *, names=None, **kwargs) -> dict:
    """The audit result (n_bootstrap 0) of :func:`arrays`, with the default-policy gate."""
    from audit.gate.checklist import checklist_section
    from audit.gate.model_card import model_card_section
    from audit.gate.policy import default_policy
    from audit.gate.verdict import evaluate

    labels, probs, groups = arrays(k, n, **kwargs)
    pred = make_predictions(labels, probs, names or [f"c{i}" for i in range(k)], groups=groups)
    result = build_result(pred, n_bootstrap=0, images=False)
    result["checklist"] = checklist_section(None)
    result["model_card"] = model_card_section(None)
    result["baseline"] = None
    result["gate"] = evaluate(result, default_policy(), informational=True)
    return result
