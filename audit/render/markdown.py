"""summary.md: a short Markdown summary of the audit for a CI job summary or a pull-request comment.

Every string that comes from the user (class names, group values, model name, rule names) is
escaped for both Markdown and HTML, since GitHub renders inline HTML in Markdown.
"""

from __future__ import annotations

import re
from typing import Any

from audit.render import formatting as f
from audit.render.html import normalise
from audit.result.headline import headline

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


#: Failed rules and class names listed before "… and N more" (a CI summary stays short at any K).
MAX_RULES = 20


def md(text: Any) -> str:
    """Escape a user string for GitHub Markdown: HTML entities first, then Markdown punctuation."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    s = s.replace("\r", " ").replace("\n", " ")
    return _SPECIAL.sub(r"\\\1", s)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def render_markdown(result: dict[str, Any]) -> str:
    """Render summary.md from an audit result (schema version 1).

    Parameters
    ----------
    result : dict
        The audit result, as written to audit.json.

    Returns
    -------
    str
        Markdown: verdict (when a gate was evaluated), headline numbers, worst classes, calibration,
        disparity and checklist status.
    """
    r = normalise(result)
    h = headline(r)
    run, ov, cal, gate, cl = r["run"], r["overall"], r["calibration"], r["gate"], r["checklist"]
    name = run.get("model_name") or run.get("name") or "model"
    lines = [f"## Audit of {md(name)}", ""]
    if gate:
        word = "✅ **Release gate passed**" if gate.get("passed") else "❌ **Release gate failed**"
        rules = gate.get("rules") or []
        failing = [rule for rule in rules if not rule.get("passed")]
        note = " (informational: no policy given)" if gate.get("informational") else ""
        lines += [f"{word}: {len(failing)} of {len(rules)} rules failed{note}.", ""]
        if failing:
            lines += _table(["Failed rule", "Measured", "Threshold", "Reason"],
                            [[md(x.get("name")), md(f.value(x.get("value"))), md(f.value(x.get("threshold"))),
                              md(x.get("reason") or "")] for x in failing[:MAX_RULES]])
            if len(failing) > MAX_RULES:  # at K = 1,000 a class rule per class: the rest is in junit.xml
                lines += ["", f"… and {len(failing) - MAX_RULES} more failed rules (all in junit.xml and report.html)."]
            lines.append("")
    lines += [
        f"- **Accuracy** {f.pct(ov.get('accuracy'))} (95% CI {f.ci(ov.get('accuracy_ci'))}) on "
        f"{f.count(ov.get('n'))} samples; balanced accuracy {f.pct(ov.get('balanced_accuracy'))}, "
        f"macro F1 {f.pct(ov.get('macro_f1'))}",
    ]
    if cal:
        after = cal.get("after_scaling") or {}
        lines.append(f"- **Calibration** ECE {f.pct(cal.get('ece'), 2)} (95% CI {f.ci(cal.get('ece_ci'), 2)}); "
                     f"after temperature scaling (T = {f.dec(cal.get('temperature'), 3)}) "
                     f"{f.pct(after.get('ece'), 2)}")
    largest = h.largest_disparity
    if largest:
        proxy = " (image-property proxy)" if largest.get("proxy") else ""
        lines.append(f"- **Largest disparity** {f.gap(largest.get('difference'))} accuracy gap by "
                     f"{md(largest.get('name'))}{proxy}; worst group {md(largest.get('worst_group'))}")
    review = h.review
    if review:
        target = f.pct(review.target_accuracy, 0)
        if review.threshold is None:
            lines.append(f"- **Human review** no confidence threshold reaches {target} accuracy: people review "
                         "every image")
        else:
            lines.append(f"- **Human review** to reach {target} accuracy people review {f.pct(review.review_load)} "
                         f"of images (95% CI {f.ci(review.review_load_ci)}; confidence below "
                         f"{f.dec(review.threshold, 4)})")
    robust = h.robustness
    if robust:
        worst_corruption = (f"; worst corruption {md(robust.worst_corruption)} "
                            f"{f.pct(robust.worst_corruption_accuracy)}" if robust.worst_corruption else "")
        lines.append(f"- **Robustness** mean accuracy under corruption {f.pct(robust.mean_accuracy)} over "
                     f"{f.count(robust.n_cells)} cells (clean {f.pct(robust.clean_accuracy)}){worst_corruption}")
    dq = h.data_quality
    if dq:
        lines.append(f"- **Label quality** {md(dq.label_line)}")
        lines.append(f"- **Weak slices** {md(dq.slices_line)}")
    if h.explanations is not None:
        lines.append(f"- **Saliency maps** {md(h.explanations.line)}")
    if cl:
        lines.append(f"- **Ethics checklist** {f.count(cl.get('n_open'))} of {len(cl.get('items') or [])} "
                     f"items open" + ("" if cl.get("source") else " (no answers file given)"))
    worst = h.worst_classes[:3]
    if worst:
        lines += ["", "### Worst classes", ""]
        lines += _table(["Class", "Error rate", "95% CI", "Support"],
                        [[md(w["class"]), f.pct(w["error_rate"]), f.ci(w.get("error_rate_ci")),
                          f.count(w.get("support"))] for w in worst])
    undefined = [row["class"] for row in r["per_class"] if not f.is_number(row.get("error_rate"))]
    if undefined:
        more = f" and {len(undefined) - MAX_RULES} more" if len(undefined) > MAX_RULES else ""
        lines += ["", f"Error rate undefined (no samples): {', '.join(md(c) for c in undefined[:MAX_RULES])}{more}."]
    if r["disparity"]:
        lines += ["", "### Disparity", ""]
        lines += _table(["Grouping", "Kind", "Difference", "Ratio", "Worst group"],
                        [[md(d.get("name")), md(d.get("kind", "")) + (" (proxy)" if d.get("proxy") else ""),
                          f.gap(d.get("difference")), f.dec(d.get("ratio"), 3), md(d.get("worst_group"))]
                         for d in r["disparity"]])
    baseline = r["baseline"]
    if baseline:
        overall = baseline.get("overall") or {}
        test = overall.get("mcnemar")
        p_text = f" (exact McNemar p = {f.dec(test.get('p_value'))})" if test else ""
        lines += ["", f"**Baseline** {md(baseline.get('source'))}: overall accuracy "
                      f"{f.pct(overall.get('accuracy_before'))} → {f.pct(overall.get('accuracy_after'))}, "
                      f"change {f.pp(overall.get('delta'))}{p_text}."]
    lines += ["", "_Full report: report.html (offline, self-contained)._", ""]
    return "\n".join(lines)
