"""Which groups of a grouping the gate judges, and the numbers the disparity rules judge them by.

:func:`judged_groups` is the one rule for which groups count: the disparity rules, the review-load rules
of ``[selective]`` and the report's tables all call it, each with the minimum size its policy section
sets (``[selective]`` takes ``[disparity]``'s unless the policy sets its own; the gate section of
audit.json records both as ``disparity_policy`` and ``selective_policy``).

Conventions (stated in every rule's reason and in the report):

- Groups with fewer than ``min_group_size`` samples are *not judged*: listed with their counts, never
  dropped, but their accuracy decides nothing (a group of one sample is right or wrong by chance).
- ``use = "point"``: the measured accuracies of the judged groups (difference = max − min, ratio =
  min / max, worst group = min, as fairlearn's ``MetricFrame`` computes them).
- ``use = "interval"``: only what the data show. Each judged group gets a Wilson interval at
  ``1 − 0.05 / m`` (``multiplicity = "bonferroni"``, m = judged groups, so the m intervals hold together
  with 95% probability) or at 95% (``multiplicity = "none"``). The worst-group accuracy is the
  smallest upper bound; the difference is max(lower) − min(upper), at least 0; the ratio is
  min(upper) / max(lower), at most 1. Each is the bound least unfavourable to the model, so a rule
  fails only where the shortfall is established at that confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from audit.metrics.intervals import wilson_interval

#: Family-wise confidence of the interval judgement.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Judged:
    """The judged view of one grouping.

    ``difference``, ``ratio`` and ``worst`` are the numbers the rules compare (None where undefined,
    e.g. fewer than two judged groups for difference and ratio); ``worst_group`` names the group
    behind ``worst``; ``basis`` says in words what was compared.
    """

    n_groups: int
    n_judged: int
    n_not_judged: int
    n_not_judged_samples: int
    difference: float | None
    ratio: float | None
    worst: float | None
    worst_group: str | None
    basis: str
    confidence: float | None


def is_judged(n, min_group_size: int) -> bool:
    """Whether a group of ``n`` samples is judged: at least ``min_group_size`` samples, and at least one."""
    return isinstance(n, int) and not isinstance(n, bool) and n >= max(min_group_size, 1)


def judging_size(entry: dict, min_group_size: int | None) -> int | None:
    """The minimum group size a grouping is judged by: ``min_group_size``, except for image-property proxies
    (terciles of equal size), which are judged whole (None: every group with a sample)."""
    return None if entry.get("proxy") else min_group_size


def judged_groups(groups, min_group_size: int) -> tuple[list, list]:
    """The groups (``{"group", "n", ...}`` mappings) that are judged and those that are not, in their
    order: the one rule of the gate and the report (:func:`is_judged`)."""
    judged, not_judged = [], []
    for g in groups:
        (judged if isinstance(g, dict) and is_judged(g.get("n"), min_group_size) else not_judged).append(g)
    return judged, not_judged


#: The disparity rules by the policy's check name; each is named ``<rule>[<grouping>]`` for every grouping the gate
#: judged (:func:`disparity_rule_name`, which audit.gate.verdict names them by).
DISPARITY_RULES = {"difference": "max_disparity_difference", "ratio": "min_disparity_ratio",
                   "worst_group_accuracy": "min_worst_group_accuracy"}


def disparity_rule_name(check: str, grouping: str) -> str:
    """The name of a disparity rule in the verdict: ``max_disparity_difference[site]``."""
    return f"{DISPARITY_RULES[check]}[{grouping}]"


def judged_groupings(gate: dict | None) -> set[str]:
    """The groupings a stored verdict's disparity rules judged, read from the rules it holds: the policy's
    ``groupings`` when it names some, else every grouping but the image-property proxies unless
    ``include_proxies`` (the choice :func:`audit.gate.verdict` made, not made again here). Empty without a
    verdict or with the disparity rules off."""
    rules = gate.get("rules") if isinstance(gate, dict) else None
    out = set()
    for rule in rules if isinstance(rules, list) else []:
        name = rule.get("name") if isinstance(rule, dict) else None
        if not isinstance(name, str) or not name.endswith("]"):
            continue
        for prefix in DISPARITY_RULES.values():
            if name.startswith(prefix + "["):
                out.add(name[len(prefix) + 1:-1])
    return out


def judged_by_gate(gate: dict | None, entry: dict) -> set[str]:
    """The groups (their names as text) of one ``disparity[]`` entry that the gate judged: the grouping is one
    the disparity rules judged (:func:`judged_groupings`) and the group is large enough (:func:`judged_groups`,
    with the grouping's judging size: proxies are judged whole)."""
    if str(entry.get("name")) not in judged_groupings(gate):
        return set()
    size, _ = min_group_sizes(gate)
    judged, _ = judged_groups(entry.get("groups") or [], judging_size(entry, size) or 1)
    return {str(g.get("group")) for g in judged}


def min_group_sizes(gate: dict | None) -> tuple[int | None, int | None]:
    """The minimum group sizes a stored verdict judged by: (disparity, review load). The review load's
    falls back to the disparity rules' for results written before ``selective_policy`` was recorded."""
    gate = gate if isinstance(gate, dict) else {}

    def size(section):
        value = (gate.get(section) or {}).get("min_group_size")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    disparity = size("disparity_policy")
    selective = size("selective_policy")
    return disparity, selective if selective is not None else disparity


def family_level(m: int, multiplicity: str = "bonferroni") -> float:
    """Confidence of each of ``m`` intervals: ``1 − 0.05 / m`` (Bonferroni; the m hold together with 95%
    probability) or 95% each (``multiplicity = "none"``)."""
    return 1 - (1 - CONFIDENCE) / max(m, 1) if multiplicity == "bonferroni" else CONFIDENCE


def interval_gap(counts: list[tuple[int, int]], confidence: float) -> tuple[float, float, list]:
    """(gap, ratio, bounds) from Wilson intervals of the proportions ``k / n`` in ``counts``: the gap
    max(lower) − min(upper) (at least 0) and the ratio min(upper) / max(lower) (at most 1): the bounds
    least unfavourable to the model; ``bounds`` is the (lower, upper) of each."""
    bounds = [wilson_interval(min(max(k, 0), n), n, confidence) for k, n in counts]
    max_lo = max(lo for lo, _ in bounds)
    min_hi = min(hi for _, hi in bounds)
    return max(0.0, max_lo - min_hi), (1.0 if max_lo <= 0 else min(1.0, min_hi / max_lo)), bounds


def _num(x) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def judge_grouping(entry: dict, *, min_group_size: int, use: str, multiplicity: str) -> Judged | None:
    """Judge one ``disparity[]`` entry; None when a group's n or accuracy cannot be read (the caller
    fails closed)."""
    groups = entry.get("groups")
    if not isinstance(groups, list):
        return None
    rows = []
    for g in groups:
        if not isinstance(g, dict):
            return None
        n = g.get("n")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            return None
        rows.append((str(g.get("group")), n, _num(g.get("accuracy")), g.get("n_correct")))
    judged = [r for r in rows if is_judged(r[1], min_group_size)]
    small = [r for r in rows if not is_judged(r[1], min_group_size)]
    if any(acc is None for _, _, acc, _ in judged):
        return None
    common = {"n_groups": len(rows), "n_judged": len(judged), "n_not_judged": len(small),
              "n_not_judged_samples": sum(r[1] for r in small)}
    all_judged = not small
    if use == "point":
        accs = [acc for _, _, acc, _ in judged]
        worst = min(judged, key=lambda r: r[2]) if judged else None
        if all_judged and len(judged) >= 2:  # every group judged: fairlearn's numbers as stored
            difference, ratio = _num(entry.get("difference")), _num(entry.get("ratio"))
        elif len(judged) >= 2:
            difference = max(accs) - min(accs)
            ratio = min(accs) / max(accs) if max(accs) > 0 else None
        else:
            difference = ratio = None
        return Judged(**common, difference=difference, ratio=ratio,
                      worst=worst[2] if worst else None, worst_group=worst[0] if worst else None,
                      basis="measured accuracy", confidence=None)
    m = max(len(judged), 1)
    confidence = family_level(m, multiplicity)
    counts = []
    for name, n, acc, correct in judged:
        if isinstance(correct, bool) or not isinstance(correct, int):
            correct = round(acc * n)  # files written before n_correct was stored
        counts.append((correct, n))
    bounds = []
    difference = ratio = None
    if counts:
        gap, gap_ratio, ends = interval_gap(counts, confidence)
        bounds = [(name, lo, hi) for (name, *_), (lo, hi) in zip(judged, ends)]
        if len(bounds) >= 2:
            difference, ratio = gap, gap_ratio
    worst = min(bounds, key=lambda b: b[2]) if bounds else None
    what = (f"Bonferroni-adjusted {100 * confidence:.3g}% Wilson intervals ({m} judged groups, "
            f"{100 * CONFIDENCE:.0f}% together)" if multiplicity == "bonferroni"
            else f"{100 * confidence:.0f}% Wilson intervals, not adjusted for the {m} groups")
    return Judged(**common, difference=difference, ratio=ratio, worst=worst[2] if worst else None,
                  worst_group=worst[0] if worst else None, basis=f"bound least unfavourable within {what}",
                  confidence=confidence)


def judging_note(j: Judged, min_group_size: int) -> str:
    """The part of a rule's reason that says which groups were judged and how."""
    text = f"{j.n_judged} of {j.n_groups} groups judged (n ≥ {min_group_size})"
    if j.n_not_judged:
        text += f", {j.n_not_judged} not judged ({j.n_not_judged_samples} samples)"
    return f"{text}; {j.basis}"
