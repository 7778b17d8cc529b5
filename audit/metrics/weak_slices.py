"""Weak slices nobody declared, found with SliceLine (Sagadeeva & Boehm, SIGMOD 2021) on one seeded half of
the samples and confirmed on the other with a one-sided binomial test, Bonferroni over the slices tested.
Arrays in, a JSON-ready section out; sliceline is imported only when :func:`weak_slices` runs.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from audit.metrics.disparity import factorize
from audit.metrics.intervals import wilson_interval

ALPHA = 0.05  # family-wise error rate of the confirmations
SLICELINE_ALPHA = 0.99  # SliceLine's weight of a slice's error against its size
TOP_K = 10  # slices SliceLine returns, each then tested
MAX_LEVEL = 2  # predicates per slice (level 3 costs about 9 s at 10k rows x 8 features)
MIN_SUPPORT = 30  # rows a slice needs in the discovery half (or 0.5% of it, if more)
N_EXAMPLES = 4
#: Most rows SliceLine searches. Its cost grows with the rows times the candidate slices (sparse matrix
#: products per level): about 2 s for a 50k-row half × 8 features on a 2-core VM, 20-40 s for a 500k-row half.
#: A seeded random 20,000 rows of the discovery half keep it near 0.5 s at any size while a slice of
#: min_sup = 0.5% of them (100 rows) is still found; the confirmation then counts on the whole other half
#: (vectorised, cheap), so a large test set still confirms with all its power.
DISCOVERY_CAP = 20_000
METHOD = (
    "SliceLine (sliceline.Slicefinder, alpha={alpha}, k={k}, max_l={max_l}, min_sup=max({min_sup}, 0.5% of the "
    "discovery rows)) on a seeded random half of the samples, at most {cap} of them (a seeded random sample of "
    "that half above it: SliceLine's cost grows with the rows searched; the confirmation uses the whole other "
    "half); each sample's error weighted by overall error / its class's error "
    "so that slices are ranked by their error's excess over their classes' error, not by the worst class; "
    "each slice found is tested on the other half: one-sided exact binomial test of its errors against "
    "the error it exceeds (the mean over its samples of their class's error on that half), confirmed when "
    "p_value ≤ {fwer} / slices tested (Bonferroni); n, error_rate (95% Wilson interval) and expected_error "
    "are measured on the confirmation half"
)


def method(min_sup: int = MIN_SUPPORT) -> str:
    return METHOD.format(alpha=SLICELINE_ALPHA, k=TOP_K, max_l=MAX_LEVEL, min_sup=min_sup, fwer=ALPHA,
                         cap=f"{DISCOVERY_CAP:,}")


def not_computed(reason: str, features=()) -> dict:
    """The section of an audit whose slices could not be searched, saying why."""
    return {"computed": False, "reason": reason, "method": method(), "features": list(features), "n_tested": 0,
            "found": []}


def quartile_codes(values: np.ndarray) -> np.ndarray:
    """"q1" … "q4" by the 1/4, 1/2 and 3/4 quantiles of ``values`` (q1: v ≤ Q1; q4: v > Q3)."""
    values = np.asarray(values, dtype=np.float64)
    cuts = np.quantile(values, [0.25, 0.5, 0.75])
    return np.asarray(["q1", "q2", "q3", "q4"])[np.searchsorted(cuts, values, side="left")]


def _class_error(errors: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    support = np.bincount(labels, minlength=k)
    wrong = np.bincount(labels, weights=errors, minlength=k)
    return np.divide(wrong, support, out=np.zeros(k), where=support > 0)


def weak_slices(labels: np.ndarray, predicted: np.ndarray, features: Mapping[str, np.ndarray], *,
                n_classes: int, seed: int = 0) -> dict:
    """The ``slices`` section of audit.json (docs/audit-json.md).

    Parameters
    ----------
    labels, predicted : ndarray of shape (n_samples,)
        True and predicted class indices.
    features : mapping of str to ndarray of shape (n_samples,)
        Categorical features (values as strings): group columns, the class, binned image properties.
    n_classes : int
    seed : int
        Seeds the split into the discovery and the confirmation half.
    """
    names = list(features)
    labels = np.asarray(labels, dtype=np.int64)
    n = labels.shape[0]
    if n < 4 * MIN_SUPPORT:
        return not_computed(f"needs at least {4 * MIN_SUPPORT} samples (two halves of {2 * MIN_SUPPORT}); got {n}",
                            names)
    errors = (np.asarray(predicted) != labels).astype(np.float64)
    values, codes = {}, []
    for name in names:
        inverse, values[name] = factorize(np.asarray(features[name]).astype(str))
        codes.append(inverse + 1)
    x = np.column_stack(codes) if codes else np.zeros((n, 0), np.int64)
    order = np.random.default_rng(seed).permutation(n)
    # discovery: a seeded random half, capped at DISCOVERY_CAP rows (a random sample of that half);
    # confirmation: the whole other half
    disc, conf = np.sort(order[: min(n // 2, DISCOVERY_CAP)]), np.sort(order[n // 2:])
    class_err_d = _class_error(errors[disc], labels[disc], n_classes)
    mean_err = errors[disc].mean()
    min_sup = max(MIN_SUPPORT, int(0.005 * disc.size))
    found = []
    if names and 0 < mean_err < 1:
        weighted = np.divide(errors[disc] * mean_err, class_err_d[labels[disc]],
                             out=np.zeros(disc.size), where=class_err_d[labels[disc]] > 0)
        found = _search(x[disc], weighted, min_sup)
    class_err_c = _class_error(errors[conf], labels[conf], n_classes)
    rows = []
    for slice_codes in found:
        predicates = {names[j]: str(values[names[j]][c - 1]) for j, c in enumerate(slice_codes) if c is not None}
        in_d = np.all([x[disc, j] == c for j, c in enumerate(slice_codes) if c is not None], axis=0)
        in_c = np.all([x[conf, j] == c for j, c in enumerate(slice_codes) if c is not None], axis=0)
        n_d = int(in_d.sum())
        d_err = float(errors[disc][in_d].mean()) if n_d else None
        d_exp = float(class_err_d[labels[disc][in_d]].mean()) if n_d else None
        rows.append((in_c, {"predicates": predicates,
                            "discovery": {"n": n_d, "error_rate": d_err, "expected_error": d_exp,
                                          "excess": None if n_d == 0 else d_err - d_exp}}))
    rows.sort(key=lambda r: -(r[1]["discovery"]["excess"] or 0.0))
    tested = len(rows)
    out = []
    for in_c, entry in rows:
        n_c = int(in_c.sum())
        wrong = int(errors[conf][in_c].sum())
        expected = float(class_err_c[labels[conf][in_c]].mean()) if n_c else None
        p = _binomial_sf(wrong, n_c, expected) if n_c else 1.0
        lo, hi = (float(v) for v in wilson_interval(wrong, n_c)) if n_c else (None, None)
        rate = wrong / n_c if n_c else None
        idx = conf[in_c]
        mistakes = idx[errors[idx] > 0][:N_EXAMPLES]
        out.append({**entry, "n": n_c, "n_errors": wrong, "error_rate": rate, "error_rate_ci": [lo, hi],
                    "expected_error": expected, "excess": None if rate is None else rate - expected,
                    "p_value": p, "confirmed": bool(n_c and rate > expected and p <= ALPHA / tested),
                    "examples": [int(i) for i in mistakes]})
    return {"computed": True, "reason": None, "method": method(min_sup), "features": names, "n": int(n),
            "n_discovery": int(disc.size), "discovery_cap": DISCOVERY_CAP, "n_confirmation": int(conf.size), "n_tested": tested,
            "alpha": ALPHA, "n_confirmed": sum(e["confirmed"] for e in out), "found": out}


def _search(x: np.ndarray, weighted: np.ndarray, min_sup: int) -> list[list]:
    """SliceLine's top slices of ``x`` (codes ≥ 1) under the per-sample errors ``weighted``: each a list with
    the code of every feature the slice fixes and None for the others."""
    import warnings

    from sliceline.slicefinder import Slicefinder

    if x.shape[0] < min_sup:
        return []
    finder = Slicefinder(alpha=SLICELINE_ALPHA, k=TOP_K, max_l=min(MAX_LEVEL, x.shape[1]), min_sup=min_sup,
                         verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finder.fit(x, weighted)
    return [[None if v is None else int(v) for v in row] for row in np.asarray(finder.top_slices_, dtype=object)]


def _binomial_sf(wrong: int, n: int, p0: float) -> float:
    """P(X ≥ wrong) for X ~ Binomial(n, p0): the one-sided p-value of ``wrong`` errors in ``n``."""
    from scipy.stats import binom

    if wrong <= 0:
        return 1.0
    return float(binom.sf(wrong - 1, n, min(max(p0, 0.0), 1.0)))
