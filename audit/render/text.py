"""The terminal summary of an audit: about ten lines for ``audit run`` and ``AuditResult.summary()``, from the
headline numbers (:mod:`audit.result.headline`) that summary.md, the report and the history show too."""

from __future__ import annotations

from audit.result.headline import Headline, headline


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x, fmt=".4f") -> str:
    return "n/a" if x is None else format(x, fmt)


def summarize(result: dict) -> str:
    """A short human summary (about ten lines) of an audit result for the terminal."""
    h = headline(result)
    lo, hi = h.accuracy_ci or (None, None)
    lines = [f"audit of {h.name}: N = {h.n}, {h.n_classes} classes",
             f"  accuracy          {_pct(h.accuracy)}  (95% CI {_pct(lo)}–{_pct(hi)})",
             f"  balanced accuracy {_pct(h.balanced_accuracy)}   macro F1 {_num(h.macro_f1, '.3f')}"]
    if h.worst_class:
        w = h.worst_class
        lines.append(f"  worst class       {w['class']}: error rate {_pct(w['error_rate'])} (n = {w['support']})")
    if h.classes_without_samples:
        lines.append(f"  no samples of     {', '.join(h.classes_without_samples)} (error rate undefined)")
    c = result["calibration"]
    lines.append(f"  ECE               {_num(h.ece)} before, {_num(h.ece_after)} after "
                 f"temperature T = {_num(c['temperature'], '.3f')} "
                 f"({(c.get('temperature_fit') or {}).get('source') or 'not fitted'})")
    lines.append(f"  NLL / Brier       {_num(c['nll'])} / {_num(c['brier'])}")
    d = h.largest_disparity
    if d:
        lines.append(f"  largest disparity {d['name']}{' (proxy)' if d['proxy'] else ''}: accuracy gap "
                     f"{100 * d['difference']:.1f} pp, worst group {d['worst_group']}")
    elif h.has_groupings:
        lines.append(f"  disparity         undefined: {'; '.join(h.disparity_undefined)}")
    else:
        lines.append("  disparity         no groups given")
    o = result.get("overall") or {}
    if o.get("roc_auc_macro") is not None:
        lines.append(f"  ROC AUC / AP      {o['roc_auc_macro']:.3f} / {o['average_precision_macro']:.3f} "
                     "(macro, one-vs-rest)")
    lines.extend(review_and_robustness_lines(h))
    return "\n".join(lines)


def review_and_robustness_lines(h: Headline) -> list[str]:
    """The human-review and robustness lines (none where the result lacks the section)."""
    lines = []
    r = h.review
    if r:
        target = f"{100 * r.target_accuracy:.0f}%" if r.target_accuracy is not None else "the target"
        if r.threshold is None:
            lines.append(f"  human review      no threshold reaches {target} accuracy: people review every image")
        else:
            lines.append(f"  human review      to reach {target} accuracy people review {_pct(r.review_load)} "
                         f"of images (confidence < {r.threshold:.4f}); AURC {_num(r.aurc)}")
    rb = h.robustness
    if rb:
        worst = (f"; worst {rb.worst_corruption} {_pct(rb.worst_corruption_accuracy)}"
                 if rb.worst_corruption else "")
        lines.append(f"  robustness        mean accuracy under corruption {_pct(rb.mean_accuracy)} "
                     f"(clean {_pct(rb.clean_accuracy)}, {rb.n_cells} cells){worst}")
    dq = h.data_quality
    if dq:
        lines.append(f"  label quality     {dq.label_line}")
        lines.append(f"  weak slices       {dq.slices_line}")
    if h.explanations is not None:
        lines.append(f"  saliency maps     {h.explanations.line}")
    return lines
