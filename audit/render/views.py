"""What the report shows at any class count and any number of groups: the worst classes first, the
confusion sub-matrix beyond a readable K, the worst, best and judged groups first. Selection and
ordering only; every number comes from the result.
"""

from __future__ import annotations

from typing import Any

from audit.render.formatting import is_number

#: Per-class chart and "worst classes" table: this many classes, worst first, when K is larger.
WORST_CLASSES = 20
#: Up to this K the per-class table is shown open and the full confusion heatmaps are drawn
#: (cells of at least 26 px with their numbers printed).
FULL_HEATMAP_MAX = 20
#: Beyond FULL_HEATMAP_MAX: the heatmap of at most this many classes, those in the largest confusions.
SUBMATRIX_CLASSES = 15
#: Groupings with more groups than this show the worst and best SHOWN_GROUPS judged groups first.
GROUPS_OPEN_MAX = 20
SHOWN_GROUPS = 10


def _error_key(row: dict) -> tuple:
    return (-row["error_rate"], row.get("index", 0))


def class_view(r: dict[str, Any]) -> dict[str, Any]:
    """Per-class rows for the chart and the tables.

    Returns
    -------
    dict
        ``chart_rows`` (all classes in index order up to FULL_HEATMAP_MAX classes, else the
        WORST_CLASSES worst, worst first), ``worst`` (the same worst rows, empty when every class is
        shown), ``collapsed`` (True when the full table goes in a collapsed block), ``undefined``
        (names of classes without samples).
    """
    rows = r["per_class"]
    rated = sorted((row for row in rows if is_number(row.get("error_rate"))), key=_error_key)
    undefined = [str(row["class"]) for row in rows if not is_number(row.get("error_rate"))]
    large = len(rows) > FULL_HEATMAP_MAX
    worst = rated[:WORST_CLASSES] if large else []
    return {"chart_rows": worst if large else rows, "worst": worst, "collapsed": large,
            "undefined": undefined, "k": len(rows)}


def confusion_counts(r: dict[str, Any]) -> list[list[int]] | None:
    """The K×K counts: the dense matrix when stored, else rebuilt from ``confusion_cells``."""
    if r.get("confusion_matrix") is not None:
        return r["confusion_matrix"]
    cells = r.get("confusion_cells")
    if cells is None:
        return None
    k = len(r["class_names"])
    out = [[0] * k for _ in range(k)]
    for t, p, c in cells:
        out[t][p] += c
    return out


def confusion_view(r: dict[str, Any]) -> dict[str, Any] | None:
    """Which confusion heatmap to draw: ``mode`` "binary" (K = 2: one table-like map, count and
    share in each cell), "full" (K ≤ FULL_HEATMAP_MAX: counts and row-normalised maps) or "sub" (the
    classes of the largest off-diagonal cells, at most SUBMATRIX_CLASSES, in class order; shares are
    of the whole true-class row). None when the result holds no confusion counts."""
    names = [str(n) for n in r["class_names"]]
    k = len(names)
    if r.get("confusion_matrix") is None and r.get("confusion_cells") is None:
        return None
    if k <= FULL_HEATMAP_MAX and r.get("confusion_matrix") is not None:
        return {"mode": "binary" if k == 2 else "full", "index": list(range(k)), "names": names}
    cells = r.get("confusion_cells")
    if cells is None:
        counts = r["confusion_matrix"]
        cells = [[t, p, c] for t, row in enumerate(counts) for p, c in enumerate(row) if c]
    off = sorted((c for c in cells if c[0] != c[1]), key=lambda c: (-c[2], c[0], c[1]))
    chosen: list[int] = []
    for t, p, _ in off:
        for cls in (t, p):
            if cls not in chosen and len(chosen) < SUBMATRIX_CLASSES:
                chosen.append(cls)
        if len(chosen) >= SUBMATRIX_CLASSES:
            break
    index = sorted(chosen)
    support = {row.get("index", i): row.get("support") for i, row in enumerate(r["per_class"])}
    lookup = {(t, p): c for t, p, c in cells}
    counts = [[lookup.get((i, j), 0) for j in index] for i in index]
    shares = [[(c / support[i] if support.get(i) else None) for c in row] for i, row in zip(index, counts)]
    return {"mode": "sub", "index": index, "names": [names[i] for i in index], "counts": counts,
            "shares": shares, "k": k}


def grouping_view(d: dict[str, Any], min_group_size: int | None) -> dict[str, Any]:
    """The groups of one disparity entry ordered for reading.

    Parameters
    ----------
    d : dict
        A ``disparity[]`` entry.
    min_group_size : int or None
        The policy's minimum group size (from the gate's ``disparity_policy``); None: every group with a
        sample judged. Which groups are judged is :func:`audit.gate.group_judging.judged_groups`'s call.

    Returns
    -------
    dict
        ``shown`` (every group up to GROUPS_OPEN_MAX, else the SHOWN_GROUPS worst and best judged
        groups, worst first, or with none judged the 2·SHOWN_GROUPS largest; ``shown_kind`` says
        which), ``collapsed`` (True when the full list goes in a collapsed block),
        ``judged`` / ``not_judged`` counts, ``not_judged_n`` (their samples) and ``not_judged_groups``
        (their names).
    """
    from audit.gate.group_judging import judged_groups

    groups = d.get("groups") or []
    judged, small = judged_groups(groups, min_group_size or 1)
    view = {"judged": len(judged), "not_judged": len(small),
            "not_judged_n": sum(g.get("n") or 0 for g in small), "min_group_size": min_group_size,
            "not_judged_groups": {str(g.get("group")) for g in small if isinstance(g, dict)},
            "collapsed": len(groups) > GROUPS_OPEN_MAX}
    if not view["collapsed"]:
        view["shown"] = groups
        return view
    rated = sorted((g for g in judged if is_number(g.get("accuracy"))),
                   key=lambda g: (g["accuracy"], -(g.get("n") or 0), str(g.get("group"))))
    if not rated:  # nothing judged: the largest groups, so the chart still shows the biggest samples
        view["shown"] = sorted(groups, key=lambda g: (-(g.get("n") or 0), str(g.get("group"))))[:2 * SHOWN_GROUPS]
        view["shown_kind"] = "largest"
        return view
    worst = rated[:SHOWN_GROUPS]
    best = [g for g in reversed(rated[SHOWN_GROUPS:]) if g not in worst][:SHOWN_GROUPS]
    view["shown"] = worst + list(reversed(best))
    view["shown_kind"] = "judged"
    return view
