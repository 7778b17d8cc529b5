"""The terminal summary of an audit: about ten lines for ``audit run`` and ``AuditResult.summary()``."""

from __future__ import annotations


def summarize(result: dict) -> str:
    """A short human summary (about ten lines) of an audit result for the terminal."""

    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f}%"

    def num(x, fmt=".4f"):
        return "n/a" if x is None else format(x, fmt)

    o = result["overall"]
    lo, hi = o["accuracy_ci"] or (None, None)
    lines = [f"audit of {result.get('run', {}).get('name') or 'predictions'}: N = {o['n']}, "
             f"{len(result['class_names'])} classes",
             f"  accuracy          {pct(o['accuracy'])}  (95% CI {pct(lo)}–{pct(hi)})",
             f"  balanced accuracy {pct(o['balanced_accuracy'])}   macro F1 {num(o['macro_f1'], '.3f')}"]
    rated = [r for r in result["per_class"] if r["error_rate"] is not None]
    if rated:
        worst = max(rated, key=lambda r: r["error_rate"])
        lines.append(f"  worst class       {worst['class']}: error rate {pct(worst['error_rate'])} "
                     f"(n = {worst['support']})")
    absent = [r["class"] for r in result["per_class"] if r["error_rate"] is None]
    if absent:
        lines.append(f"  no samples of     {', '.join(absent)} (error rate undefined)")
    c = result["calibration"]
    after = c.get("after_scaling") or {}
    lines.append(f"  ECE               {num(c['ece'])} before, {num(after.get('ece'))} after "
                 f"temperature T = {num(c['temperature'], '.3f')} "
                 f"({(c.get('temperature_fit') or {}).get('source') or 'not fitted'})")
    lines.append(f"  NLL / Brier       {num(c['nll'])} / {num(c['brier'])}")
    gaps = [d for d in result.get("disparity", []) if d.get("difference") is not None]
    if gaps:
        d = max(gaps, key=lambda d: d["difference"])
        lines.append(f"  largest disparity {d['name']}{' (proxy)' if d['proxy'] else ''}: accuracy gap "
                     f"{100 * d['difference']:.1f} pp, worst group {d['worst_group']}")
    elif result.get("disparity"):
        reasons = {d.get("undefined_reason") or "undefined" for d in result["disparity"]}
        lines.append(f"  disparity         undefined: {'; '.join(sorted(reasons))}")
    else:
        lines.append("  disparity         no groups given")
    lines.extend(confidence_lines(result))
    return "\n".join(lines)


def confidence_lines(result: dict) -> list[str]:
    """Terminal summary lines of the ranking and selective metrics (none when the result lacks them)."""
    o, sel = result.get("overall") or {}, result.get("selective")
    lines = []
    if o.get("roc_auc_macro") is not None:
        lines.append(f"  ROC AUC / AP      {o['roc_auc_macro']:.3f} / {o['average_precision_macro']:.3f} "
                     "(macro, one-vs-rest)")
    if sel:
        target = f"{100 * sel['target_accuracy']:.0f}%"
        if sel.get("threshold") is None:
            lines.append(f"  human review      no threshold reaches {target} accuracy: people review every image")
        else:
            lines.append(f"  human review      to reach {target} accuracy people review "
                         f"{100 * sel['review_load']:.1f}% of images (confidence < {sel['threshold']:.4f}); "
                         f"AURC {sel['aurc']:.4f}")
    return lines
