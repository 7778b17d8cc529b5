"""The release verdict: every policy rule checked once against an audit result, with value, threshold, reason.

Conventions (also in docs/ci.md): a value exactly at its threshold passes (within ``TOLERANCE``); a value
the audit could not define (null) or a section the rule needs but the result lacks fails the rule (the
gate fails closed). A rule is *skipped* (and counts as passed) only where it cannot apply: no baseline was
given and the policy does not require one, or the result has no grouping the disparity rules select.
"""

from __future__ import annotations

from audit.gate.checklist import NEEDS_EVIDENCE, STATUSES
from audit.gate.policy import Policy
from audit.gate.robustness import robustness_rules
from audit.gate.rules import (
    MSG_UNDEFINED,
    TOLERANCE,
    as_number,
    at_least,
    at_most,
    format_cell,
    end,
    fail_rule,
    fmt,
    fmt_threshold,
    get,
    make_rule,
    signed,
    skip_rule,
    suggest,
)
from audit.gate import data_quality_rules
from audit.gate.selective_rules import selective_rules


def evaluate(result: dict, policy: Policy, *, informational: bool) -> dict:
    """Check every enabled rule of ``policy`` against ``result`` and return the ``gate`` section.

    Parameters
    ----------
    result : dict
        An audit result as described in docs/audit-json.md (what ``audit.json`` holds). Not modified.
    policy : Policy
        The release policy; ``policy.source`` is recorded as ``policy_source``.
    informational : bool
        True when no policy was given and the default policy is shown for information only (the caller
        then exits 0 whatever the verdict).

    Returns
    -------
    dict
        ``{policy_source, informational, passed, rules[]}``; each rule is ``{name, value, threshold,
        passed, skipped, reason}``. ``passed`` is True when every rule passed or was skipped.
    """
    rules: list[dict] = []
    for section, rules_of in RULE_FAMILIES:
        if getattr(policy, section).enabled:
            rules.extend(rules_of(result, policy))
    gate = {
        "policy_source": policy.source,
        "informational": bool(informational),
        "passed": all(rule["passed"] for rule in rules),
        "rules": rules,
    }
    if policy.disparity.enabled:
        gate["disparity_policy"] = disparity_policy(policy)
    if policy.selective.enabled:
        gate["selective_policy"] = selective_policy(policy)
    if policy.release.min_signoffs:  # only when asked: results under the default policy are unchanged
        gate["release_policy"] = {"min_signoffs": policy.release.min_signoffs}
    return gate


def format_table(gate: dict) -> str:
    """The rules as a plain-text table (one line each) followed by the overall verdict line."""
    rows = [("", "RULE", "VALUE", "THRESHOLD", "REASON")]
    for rule in gate["rules"]:
        status = "SKIP" if rule.get("skipped") else ("PASS" if rule["passed"] else "FAIL")
        rows.append((status, rule["name"], format_cell(rule["value"]), format_cell(rule["threshold"]), rule["reason"]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n" + verdict_line(gate)


def verdict_line(gate: dict) -> str:
    """One line: PASSED or FAILED with counts, marked informational where it is."""
    rules = gate["rules"]
    failed = sum(not r["passed"] for r in rules)
    skipped = sum(bool(r.get("skipped")) for r in rules)
    word = "PASSED" if gate["passed"] else "FAILED"
    text = f"gate {word}: {len(rules) - failed - skipped} passed, {failed} failed, {skipped} skipped"
    text += f" (policy: {gate.get('policy_source') or 'default'})"
    if gate.get("informational"):
        text += " [informational: no --policy given, exit code not affected]"
    return text


# --- rules --------------------------------------------------------------------------------------------


def _min_accuracy(result: dict, policy: Policy) -> dict:
    rule = policy.accuracy
    overall = get(result, "overall") or {}
    if rule.use == "ci_lower":
        value, what = end(overall.get("accuracy_ci"), 0), "accuracy CI lower bound"
    else:
        value, what = as_number(overall.get("accuracy")), "accuracy"
    return at_least("min_accuracy", what, value, rule.min)


def _class_error(result: dict, policy: Policy) -> list[dict]:
    rule = policy.class_error
    per_class = get(result, "per_class")
    if not isinstance(per_class, list) or not per_class:
        return [fail_rule("max_class_error_rate", None, rule.max, MSG_UNDEFINED.format(what="per_class"))]
    names = [str(entry.get("class")) for entry in per_class if isinstance(entry, dict)]
    out = []
    for entry in per_class:
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("class"))
        if rule.use == "point":
            value, what = as_number(entry.get("error_rate")), f"error rate of {name!r}"
        elif rule.use == "ci_upper":
            value, what = end(entry.get("error_rate_ci"), 1), f"error rate CI upper bound of {name!r}"
        else:
            value, what = end(entry.get("error_rate_ci"), 0), f"error rate CI lower bound of {name!r}"
        out.append(at_most(f"max_class_error_rate[{name}]", what, value, rule.threshold_for(name)))
    for name, threshold in rule.overrides:
        if name not in names:
            out.append(fail_rule(f"max_class_error_rate[{name}]", None, threshold,
                             f"policy override names class {name!r}, which is not a class of this model"
                             + suggest(name, names)))
    return out


def _max_ece(result: dict, policy: Policy) -> dict:
    rule = policy.calibration
    calibration = get(result, "calibration") or {}
    if rule.scaling == "after":
        value = as_number((calibration.get("after_scaling") or {}).get("ece"))
        what = "ECE after temperature scaling"
    else:
        value, what = as_number(calibration.get("ece")), "ECE before temperature scaling"
    return at_most("max_ece", what, value, rule.max_ece)


def _disparity(result: dict, policy: Policy) -> list[dict]:
    rule = policy.disparity
    entries = [e for e in (get(result, "disparity") or []) if isinstance(e, dict)]
    by_name = {str(e.get("name")): e for e in entries}
    if rule.groupings:
        selected = []
        for name in rule.groupings:
            selected.append((name, by_name.get(name)))
    else:
        selected = [(str(e.get("name")), e) for e in entries if rule.include_proxies or not e.get("proxy")]
        if not selected:
            why = "no groupings in the result" if not entries else \
                "only image-property proxies in the result, and the policy excludes proxies"
            return [skip_rule("disparity", f"skipped: {why}")]
    out = []
    for name, entry in selected:
        out.extend(_judge_one(name, entry, rule, by_name))
    return out


def _judge_one(name: str, entry: dict | None, rule, by_name: dict) -> list[dict]:
    """The disparity rules of one grouping, judged on the groups large enough (audit.gate.group_judging)."""
    from audit.gate.group_judging import disparity_rule_name, judge_grouping, judging_note, judging_size

    thresholds = {"difference": rule.max_difference, "ratio": rule.min_ratio,
                  "worst_group_accuracy": rule.min_worst_group_accuracy}
    names = {check: (disparity_rule_name(check, name), value) for check, value in thresholds.items()}
    if entry is None:
        missing = f"grouping {name!r} named in the policy is not in the result" + suggest(name, list(by_name))
        return [fail_rule(names[c][0], None, names[c][1], missing) for c in rule.checks]
    min_size = judging_size(entry, rule.min_group_size) or 1
    judged = judge_grouping(entry, min_group_size=min_size, use=rule.use, multiplicity=rule.multiplicity)
    out = []
    for check in rule.checks:
        rname, threshold = names[check]
        if judged is None:
            out.append(fail_rule(rname, None, threshold, MSG_UNDEFINED.format(what=f"groups of {name!r}")))
            continue
        note = judging_note(judged, min_size)
        if check == "worst_group_accuracy":
            value = judged.worst
            what = f"worst-group accuracy of {name!r}" + (f" (group {judged.worst_group!r})" if judged.worst_group else "")
        elif check == "difference":
            value, what = judged.difference, f"accuracy difference between groups of {name!r}"
        else:
            value, what = judged.ratio, f"accuracy ratio worst/best group of {name!r}"
        too_few = judged.n_judged < (1 if check == "worst_group_accuracy" else 2)
        if too_few:
            why = (f"{what} is undefined: {judged.n_judged} of {judged.n_groups} groups have at least "
                   f"{min_size} samples, fewer than {1 if check == 'worst_group_accuracy' else 2}")
            out.append(skip_rule(rname, f"skipped: {why}") if rule.too_few_groups == "skip"
                       else fail_rule(rname, None, threshold, f"{why}; failing closed (too_few_groups = 'fail')"))
            continue
        check_rule = at_most if check == "difference" else at_least
        judged_rule = check_rule(rname, what, value, threshold)
        judged_rule["reason"] += f" [{note}]"
        out.append(judged_rule)
    return out


def disparity_policy(policy: Policy) -> dict:
    """The judging settings the report needs to mark groups judged and not judged (gate section)."""
    rule = policy.disparity
    return {"min_group_size": rule.min_group_size, "use": rule.use, "multiplicity": rule.multiplicity,
            "too_few_groups": rule.too_few_groups}


def selective_policy(policy: Policy) -> dict:
    """The judging settings of the review-load rules (gate section), beside ``disparity_policy``: the report
    marks the groups of its review-load tables judged and not judged by them."""
    rule = policy.selective
    return {"min_group_size": rule.min_group_size, "min_group_size_from": rule.min_group_size_from,
            "use": rule.use}


def _checklist(result: dict, policy: Policy) -> dict:
    rule = policy.checklist
    name = "checklist_complete"
    section = get(result, "checklist")
    items = section.get("items") if isinstance(section, dict) else None
    if not isinstance(items, list) or not items:
        return fail_rule(name, None, 0, "no checklist in the result (give --checklist FILE); failing closed")
    items = [i for i in items if isinstance(i, dict)]
    ids = [str(i.get("id")) for i in items]
    categories = sorted({str(i.get("category")) for i in items})
    problems = []
    for wanted in rule.required_items:
        if wanted not in ids:
            problems.append(f"required item {wanted!r} is not in the checklist{suggest(wanted, ids)}")
    for wanted in rule.required_categories:
        if wanted not in categories:
            problems.append(f"required category {wanted!r} is not in the checklist{suggest(wanted, categories)}")
    everything = not rule.required_items and not rule.required_categories
    for item in items:
        if not (everything or item.get("id") in rule.required_items
                or item.get("category") in rule.required_categories):
            continue
        status = item.get("status")
        if status not in STATUSES:
            problems.append(f"{item.get('id')} is {status or 'unanswered'}")
        elif status in NEEDS_EVIDENCE and not str(item.get("evidence") or "").strip():
            problems.append(f"{item.get('id')} is {status!r} without a justification")
    if not problems:
        n = len(items) if everything else sum(
            1 for i in items if i.get("id") in rule.required_items or i.get("category") in rule.required_categories)
        return make_rule(name, 0, 0, True, f"all {n} required checklist items answered")
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    return make_rule(name, len(problems), 0, False, f"{len(problems)} checklist problem(s): {shown}")


def _model_card(result: dict, policy: Policy) -> dict:
    """model_card_complete: every required field written; no model card in the result fails closed."""
    name, required = "model_card_complete", policy.model_card.required_fields
    section = get(result, "model_card")
    fields = section.get("fields") if isinstance(section, dict) else None
    if not isinstance(fields, dict):
        return fail_rule(name, None, 0, "no model card in the result (write the [model_card] table of the "
                                    "checklist answers file and pass --checklist FILE); failing closed")
    empty = [f for f in required if not (isinstance(fields.get(f), str) and fields[f].strip())]
    if not empty:
        return make_rule(name, 0, 0, True, f"all {len(required)} required model card fields written")
    return make_rule(name, len(empty), 0, False,
                 f"{len(empty)} required model card field(s) empty: {', '.join(empty)} "
                 "(the [model_card] table of the checklist answers file)")


def _baseline(result: dict, policy: Policy) -> list[dict]:
    rule = policy.baseline
    section = get(result, "baseline")
    if section is None:
        if rule.require_baseline:
            return [fail_rule("baseline_no_regression", None, -rule.max_drop,
                          "no baseline given and the policy requires one (run with --baseline PATH)")]
        return [skip_rule("baseline_no_regression", "skipped: no baseline given (run with --baseline PATH)")]
    if not isinstance(section, dict):
        return [fail_rule("baseline_no_regression", None, -rule.max_drop, MSG_UNDEFINED.format(what="baseline"))]
    out = []
    if rule.overall:
        overall = section.get("overall") or {}
        out.append(_no_regression("baseline_no_regression", "accuracy", overall.get("accuracy_before"),
                                  overall.get("accuracy_after"), overall.get("delta"),
                                  overall.get("mcnemar"), rule.max_drop, rule.alpha))
    per_class = section.get("per_class")
    if not isinstance(per_class, list):
        out.append(fail_rule("baseline_no_regression[per_class]", None, -rule.max_drop,
                         MSG_UNDEFINED.format(what="baseline per-class deltas")))
        return out
    for entry in per_class:
        if not isinstance(entry, dict):
            continue
        cls = str(entry.get("class"))
        out.append(_no_regression(f"baseline_no_regression[{cls}]", f"recall of {cls!r}",
                                  entry.get("recall_before"), entry.get("recall_after"), entry.get("delta"),
                                  entry.get("mcnemar"), rule.max_drop, rule.alpha))
    return out


def _no_regression(name, what, before, after, delta, mcnemar, max_drop, alpha) -> dict:
    threshold = -max_drop
    delta = as_number(delta)
    if delta is None:
        return fail_rule(name, None, threshold, MSG_UNDEFINED.format(what=f"change in {what}"))
    change = f"{what} {fmt(as_number(before))} → {fmt(as_number(after))} (Δ {signed(delta)})"
    if delta >= threshold - TOLERANCE:
        return make_rule(name, delta, threshold, True, f"{change}: loss within {fmt_threshold(max_drop)}")
    p = as_number(mcnemar.get("p_value")) if isinstance(mcnemar, dict) else None
    if p is None:
        return make_rule(name, delta, threshold, False,
                     f"{change}: loss above {fmt_threshold(max_drop)}, no sample-level test (failing closed)")
    if p >= alpha:
        return make_rule(name, delta, threshold, True,
                     f"{change}: loss above {fmt_threshold(max_drop)} but not significant, McNemar p = {p:.3g} ≥ {alpha:g}")
    return make_rule(name, delta, threshold, False,
                 f"{change}: loss above {fmt_threshold(max_drop)}, McNemar p = {p:.3g} < {alpha:g}")


#: The policy sections in the order their rules appear in the verdict, each with the function that makes its
#: rules (a list) from the result and the policy.
RULE_FAMILIES = (
    ("accuracy", lambda result, policy: [_min_accuracy(result, policy)]),
    ("class_error", _class_error),
    ("calibration", lambda result, policy: [_max_ece(result, policy)]),
    ("disparity", _disparity),
    ("checklist", lambda result, policy: [_checklist(result, policy)]),
    ("baseline", _baseline),
    ("selective", lambda result, policy: selective_rules(result, policy.selective)),
    ("robustness", lambda result, policy: robustness_rules(result, policy.robustness)),
    ("model_card", lambda result, policy: [_model_card(result, policy)]),
    ("label_quality", lambda result, policy: data_quality_rules.label_quality_rules(result, policy.label_quality)),
    ("slices", lambda result, policy: data_quality_rules.slices_rules(result, policy.slices)),
)
