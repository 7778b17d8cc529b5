"""Gate rules of the ``[selective]`` policy section: minimum coverage at the target accuracy, and maximum
gap in review load between the groups of each grouping (groups too small to judge left out).
"""

from __future__ import annotations

from audit.gate.policy import SelectiveRule
from audit.gate.rules import TOLERANCE, as_number, at_least, at_most, fail_rule, make_rule, skip_rule, suggest
from audit.gate.group_judging import family_level, interval_gap, judged_groups

MSG_NO_SECTION = "the result has no selective section (made by an older audit); failing closed"
MSG_TARGET = ("the audit measured at target accuracy {measured}; the policy asks for {wanted}: "
              "run `audit run` with this policy")


def reviewed_groups(groups: list, min_size: int) -> tuple[list[dict], list[str]]:
    """The judged groups (:func:`~audit.gate.group_judging.judged_groups`) with a defined review load, and
    the names of those left out."""
    judged, _ = judged_groups(groups, min_size)
    kept = [g for g in judged if as_number(g.get("review_load")) is not None]
    kept_ids = {id(g) for g in kept}
    return kept, [str(g.get("group")) for g in groups if isinstance(g, dict) and id(g) not in kept_ids]


def review_gap(groups: list[dict], use: str) -> float:
    """Largest difference in review load between ``groups``: the point gap, or with ``"ci_lower"`` the
    lower end max(lo) − min(hi) (at least 0) of 95% Wilson intervals, Bonferroni-adjusted for the
    number of groups (each at confidence 1 − 0.05 / m)."""
    loads = [as_number(g["review_load"]) for g in groups]
    if use == "point":
        return max(loads) - min(loads)
    counts = [(round(load * g["n"]), g["n"]) for load, g in zip(loads, groups)]
    return interval_gap(counts, family_level(len(groups)))[0]


def selective_rules(result: dict, rule: SelectiveRule) -> list[dict]:
    """The ``min_selective_coverage`` rule and one ``max_review_load_gap[grouping]`` rule per grouping."""
    section = result.get("selective") if isinstance(result, dict) else None
    if not isinstance(section, dict):
        return [fail_rule("min_selective_coverage", None, rule.min_coverage, MSG_NO_SECTION),
                fail_rule("max_review_load_gap", None, rule.max_review_gap, MSG_NO_SECTION)]
    target = as_number(section.get("target_accuracy"))
    if target is None or abs(target - rule.target_accuracy) > TOLERANCE:
        reason = MSG_TARGET.format(measured=target, wanted=rule.target_accuracy)
        return [fail_rule("min_selective_coverage", None, rule.min_coverage, reason),
                fail_rule("max_review_load_gap", None, rule.max_review_gap, reason)]
    what = f"coverage at {rule.target_accuracy:.0%} accuracy of the retained images"
    out = [at_least("min_selective_coverage", what, as_number(section.get("coverage")), rule.min_coverage)]
    entries = [e for e in section.get("by_group") or [] if isinstance(e, dict)]
    by_name = {str(e.get("name")): e for e in entries}
    if rule.groupings:
        selected = [(name, by_name.get(name)) for name in rule.groupings]
    else:
        selected = [(str(e.get("name")), e) for e in entries if rule.include_proxies or not e.get("proxy")]
        if not selected:
            why = "no groupings in the result" if not entries else \
                "only image-property proxies in the result, and the policy excludes proxies"
            return out + [skip_rule("max_review_load_gap", f"skipped: {why}")]
    for name, entry in selected:
        rname = f"max_review_load_gap[{name}]"
        if entry is None:
            out.append(fail_rule(rname, None, rule.max_review_gap,
                             f"grouping {name!r} named in the policy is not in the result"
                             + suggest(name, list(by_name))))
            continue
        groups, left_out = reviewed_groups(entry.get("groups") or [], rule.min_group_size)
        note = (f" ({len(left_out)} group(s) under {rule.min_group_size} samples left out: "
                f"{', '.join(left_out[:3])}{'…' if len(left_out) > 3 else ''})") if left_out else ""
        if len(groups) < 2:
            out.append(make_rule(rname, None, None, True,
                             f"skipped: fewer than two groups of {name!r} with at least "
                             f"{rule.min_group_size} samples{note}", skipped=True))
            continue
        gap = review_gap(groups, rule.use)
        kind = "gap" if rule.use == "point" else "gap (lower end of Bonferroni-adjusted Wilson intervals)"
        out.append(at_most(rname, f"review-load {kind} between groups of {name!r}{note}", gap,
                            rule.max_review_gap))
    return out
