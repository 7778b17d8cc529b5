"""What the report's Label quality and Discovered weak slices sections show, picked out of the result's
``label_quality`` and ``slices`` sections (issue 23). No metric is computed here; thumbnails that are not
inline raster images are dropped, every text is escaped by the template."""

from __future__ import annotations

from typing import Any

from audit.engine.data_quality import GALLERY  # the flagged samples shown, most suspicious first (audit.json: every one)
from audit.render.formatting import safe_image


def label_quality_view(r: dict[str, Any]) -> dict | None:
    """``{s, top, gallery, groups}`` for the Label quality section, None when the result has none."""
    s = r.get("label_quality")
    if not isinstance(s, dict):
        return None
    top = [{**flag, "thumbnail": safe_image(flag.get("thumbnail")), "score_text": significant(flag.get("score"))}
           for flag in (s.get("flagged") or [])[:GALLERY]]
    return {"s": s, "top": top, "gallery": any(flag["thumbnail"] for flag in top),
            "groups": list((s.get("by_group") or {}).items())}


def slices_view(r: dict[str, Any]) -> dict | None:
    """``{s, rows, images}`` for the Discovered weak slices section, None when the result has none."""
    s = r.get("slices")
    if not isinstance(s, dict):
        return None
    rows = []
    for entry in s.get("found") or []:
        examples = [{**ex, "thumbnail": safe_image(ex.get("thumbnail"))} for ex in entry.get("examples") or []]
        rows.append({**entry, "examples": examples,
                     "predicate_text": " and ".join(f"{k} = {v}" for k, v in (entry.get("predicates") or {}).items()),
                     "p_text": p_value_text(entry.get("p_value"))})
    return {"s": s, "rows": rows, "images": any(ex["thumbnail"] for row in rows for ex in row["examples"])}


def significant(x: Any) -> str:
    """A number in two significant digits ('0.0031', '2.4e-12'); '–' when absent."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or x != x:
        return "–"
    return f"{x:.2g}"


def p_value_text(p: Any) -> str:
    """A p-value in two significant digits; one that underflowed to 0 reads '< 1e-300'."""
    return "< 1e-300" if p == 0 and not isinstance(p, bool) else significant(p)
