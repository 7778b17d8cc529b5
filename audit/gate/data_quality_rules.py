"""The rules of the ``[label_quality]`` and ``[slices]`` policy sections (both off in the default policy):
each fails closed when its section is missing or was not computed."""

from __future__ import annotations

from audit.gate.rules import fail_rule, make_rule


def label_quality_rules(result: dict, rule) -> list[dict]:
    """max_flagged_share and, with ``require_trusted``, label_quality_trusted."""
    section = result.get("label_quality")
    name = "label_quality_max_flagged_share"
    if not isinstance(section, dict) or not section.get("computed"):
        why = section.get("reason") if isinstance(section, dict) else "no label_quality section in the result"
        return [fail_rule(name, None, rule.max_flagged_share, f"label quality not computed ({why}); failing closed")]
    share = section.get("share_flagged")
    rules = [make_rule(name, share, rule.max_flagged_share, share <= rule.max_flagged_share,
                       f"{section['n_flagged']} of {section['n']} samples flagged as suspected label errors "
                       f"({share:.1%}; at most {rule.max_flagged_share:.1%} allowed)")]
    if rule.require_trusted:
        warning = section.get("warning")
        rules.append(make_rule("label_quality_trusted", section.get("accuracy"), None, warning is None,
                               warning or "the model is accurate enough for its flags to be trusted"))
    return rules


def slices_rules(result: dict, rule) -> list[dict]:
    """slices_max_confirmed and slices_max_excess (over the confirmed slices)."""
    section = result.get("slices")
    if not isinstance(section, dict) or not section.get("computed"):
        why = section.get("reason") if isinstance(section, dict) else "no slices section in the result"
        return [fail_rule("slices_max_confirmed", None, rule.max_confirmed,
                          f"weak slices not searched ({why}); failing closed")]
    confirmed = [s for s in section.get("found") or [] if s.get("confirmed")]
    described = "; ".join(_describe(s) for s in confirmed[:3])
    rules = [make_rule("slices_max_confirmed", len(confirmed), rule.max_confirmed, len(confirmed) <= rule.max_confirmed,
                       f"{len(confirmed)} weak slice(s) confirmed on the held-out half"
                       + (f": {described}" if described else ""))]
    worst = max((s["excess"] for s in confirmed), default=0.0)
    rules.append(make_rule("slices_max_excess", worst, rule.max_excess, worst <= rule.max_excess,
                           f"largest excess error of a confirmed slice over its classes' error: {worst:.3f}"))
    return rules


def _describe(entry: dict) -> str:
    where = " & ".join(f"{k}={v}" for k, v in entry["predicates"].items())
    return f"{where} (error {entry['error_rate']:.1%} vs {entry['expected_error']:.1%}, n={entry['n']})"
