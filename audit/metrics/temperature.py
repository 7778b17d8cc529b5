"""Temperature scaling: fit T > 0 by minimising NLL of softmax(log p / T), apply it, and a seeded
2-fold cross-fit for when no separate calibration set exists.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from audit.metrics.calibration import NLL_CLIP

#: ``temperature_fit.method`` of a T fitted by :func:`fit_temperature`.
FIT_METHOD = "NLL minimisation, safeguarded Newton on 1/T"
#: Search interval for T.
T_BOUNDS = (0.05, 20.0)
MSG_T = "temperature must be a finite number > 0; got {!r}"


def _log_probs(probs: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(probs, dtype=np.float64))


#: Row-wise passes work on blocks of about this many values (8 MB of float64): every operation is per row, so
#: the result is the same as on the whole array, without whole-array temporaries.
CHUNK_VALUES = 1 << 20


def _row_blocks(n: int, k: int) -> list[slice]:
    rows = max(1, CHUNK_VALUES // max(k, 1))
    return [slice(start, min(start + rows, n)) for start in range(0, n, rows)]


def _softmax_scaled(logp: np.ndarray, t: float) -> np.ndarray:
    z = logp / t
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= np.einsum("ij->i", z)[:, None]
    return z


def apply_temperature(probs, temperature: float, *, rows: np.ndarray | None = None,
                      out: np.ndarray | None = None) -> np.ndarray:
    """softmax(log(p) / T) row-wise; T = 1 returns ``probs`` (renormalised). Zero stays zero.

    Parameters
    ----------
    probs : ndarray of shape (n_samples, n_classes)
    temperature : float > 0
    rows : ndarray of int, optional
        Scale only these rows of ``probs`` (into the same rows of ``out``).
    out : ndarray of float64, optional
        Where to write (a new array when None).

    Returns
    -------
    ndarray of float64, shape (n_samples, n_classes)
        Computed block by block of rows; each row's values are those of one whole-array pass.
    """
    t = float(temperature)
    if not np.isfinite(t) or t <= 0:
        raise ValueError(MSG_T.format(temperature))
    probs = np.asarray(probs)
    if out is None:
        if rows is not None:
            raise ValueError("apply_temperature(rows=...) writes into the rows of out; give out")
        out = np.empty(probs.shape, dtype=np.float64)
    n = probs.shape[0] if rows is None else len(rows)
    for block in _row_blocks(n, probs.shape[1]):
        index = block if rows is None else rows[block]
        out[index] = _softmax_scaled(_log_probs(probs[index]), t)
    return out


#: Newton stops when a step changes 1/T by less than this fraction.
NEWTON_RTOL = 1e-7
NEWTON_MAX_ITER = 60
#: ln p below this (relative to the row's largest) is clamped: exp(0.05 · −1e4) underflows anyway.
_LOG_FLOOR = -1e4


def _gaps(probs: np.ndarray, labels: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """w = ln p − ln max_j p (≤ 0, float32, clamped at −1e4) and its true-class column (float64), of ``rows``
    (default: all), computed block by block of rows."""
    n = probs.shape[0] if rows is None else len(rows)
    w = np.empty((n, probs.shape[1]), dtype=np.float32)
    w_true = np.empty(n, dtype=np.float64)
    for block in _row_blocks(n, probs.shape[1]):
        index = block if rows is None else rows[block]
        logp = _log_probs(probs[index])
        logp -= logp.max(axis=1, keepdims=True)
        w_true[block] = logp[np.arange(logp.shape[0]), labels[index]]
        np.maximum(logp, _LOG_FLOOR, out=logp)
        w[block] = logp
    np.maximum(w_true, _LOG_FLOOR, out=w_true)
    return w, w_true


def _nll_slopes(w: np.ndarray, w_true: np.ndarray, beta: float) -> tuple[float, float]:
    """First and second derivative in β of the mean clipped NLL of softmax(β · w).

    Samples whose NLL, ln Σ_j exp(β w_j) − β w_true, reaches −ln NLL_CLIP are clipped, so constant:
    they add nothing. Only rows with −β · w_true ≥ −ln NLL_CLIP − ln K can be clipped.
    """
    n, k = w.shape
    e = np.multiply(w, np.float32(beta))
    np.exp(e, out=e)
    s0 = np.einsum("ij->i", e)
    e *= w
    s1 = np.einsum("ij->i", e)
    e *= w
    s2 = np.einsum("ij->i", e)
    mean_w = s1 / s0
    var_w = s2 / s0
    var_w -= mean_w * mean_w
    live = np.ones(n, dtype=bool)
    cap = -np.log(NLL_CLIP)
    maybe = np.flatnonzero(-beta * w_true >= cap - np.log(k))
    if maybe.size:
        live[maybe[np.log(s0[maybe].astype(np.float64)) - beta * w_true[maybe] >= cap]] = False
    if live.all():
        grad = mean_w.sum(dtype=np.float64) - w_true.sum()
        hess = var_w.sum(dtype=np.float64)
    else:
        grad = mean_w[live].sum(dtype=np.float64) - w_true[live].sum()
        hess = var_w[live].sum(dtype=np.float64)
    return float(grad / n), float(hess / n)


def fit_temperature(labels, probs, *, bounds: tuple[float, float] = T_BOUNDS) -> float:
    """T minimising the mean clipped NLL of softmax(log p / T) against ``labels``.

    Safeguarded Newton on β = 1/T with analytic derivatives: the NLL of softmax(β · ln p) is
    convex in β (its second derivative is the variance of ln p under the scaled distribution), so
    each step is Newton's, kept inside a shrinking bracket of the gradient's sign change (bisection
    in log β when a step leaves it), from T = 1 until a step moves β by less than 1e-7 relatively;
    T is confined to ``bounds``. The exponentials and per-sample moments run in float32 (ln p is
    shifted by each row's maximum first, so nothing overflows), the sums over samples in float64;
    T comes out within about 1e-6 of the exact float64 minimiser.

    Parameters
    ----------
    labels : ndarray of int, shape (n_samples,)
    probs : ndarray of shape (n_samples, n_classes)

    Returns
    -------
    float
    """
    labels = np.asarray(labels, dtype=np.int64)
    w, w_true = _gaps(probs, labels)
    return 1.0 / _fit_beta(w, w_true, bounds)


def _fit_beta(w: np.ndarray, w_true: np.ndarray, bounds: tuple[float, float]) -> float:
    """β = 1/T by the safeguarded Newton iteration of :func:`fit_temperature`."""
    b_lo, b_hi = 1.0 / bounds[1], 1.0 / bounds[0]
    lo, hi = b_lo, b_hi  # bracket on β
    beta = min(max(1.0, lo), hi)
    for _ in range(NEWTON_MAX_ITER):
        grad, hess = _nll_slopes(w, w_true, beta)
        if grad > 0:
            hi = beta
        elif grad < 0:
            lo = beta
        else:
            break
        if hi <= lo:  # the minimum lies at a bound
            break
        new = beta - grad / hess if hess > 0 else np.nan
        if not lo < new < hi:
            if new <= lo == b_lo != beta:
                new = b_lo  # try the bound itself before bisecting towards it
            elif new >= hi == b_hi != beta:
                new = b_hi
            else:
                new = float(np.sqrt(lo * hi))
        if abs(new - beta) <= NEWTON_RTOL * beta:
            beta = new
            break
        beta = new
    return float(beta)


#: From this many samples on, :func:`cross_fit_temperature` may work on its two folds in two threads.
THREAD_MIN_ROWS = 100_000


def cross_fit_temperature(labels, probs, *, seed: int = 0, threads: int = 1) -> tuple[np.ndarray, list[float]]:
    """Seeded 2-fold cross-fit: split the samples at random into halves A and B, fit T on A and
    apply it to B, fit T on B and apply it to A; no sample is scaled by a T fitted on itself.

    Parameters
    ----------
    labels : ndarray of int, shape (n_samples,)
    probs : ndarray of shape (n_samples, n_classes); n_samples >= 2
    threads : int, default 1
        With 2 or more (and at least ``THREAD_MIN_ROWS`` samples), the two folds are fitted, then scaled,
        in two threads (numpy's passes release the GIL). Each fold's arithmetic is the same in either
        case, so the result is identical.

    Returns
    -------
    scaled : ndarray of shape (n_samples, n_classes)
        Each sample scaled by the other fold's T.
    temperatures : [T_A, T_B]
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    n = labels.shape[0]
    perm = np.random.default_rng(seed).permutation(n)
    fold_a, fold_b = np.sort(perm[: n // 2]), np.sort(perm[n // 2:])
    scaled = np.empty_like(probs)

    def fit(fold):
        return 1.0 / _fit_beta(*_gaps(probs, labels, fold), T_BOUNDS)

    def scale(fold, t):
        apply_temperature(probs, t, rows=fold, out=scaled)

    if threads > 1 and n >= THREAD_MIN_ROWS:
        with ThreadPoolExecutor(max_workers=2) as pool:
            t_a, t_b = pool.map(fit, (fold_a, fold_b))
            list(pool.map(scale, (fold_b, fold_a), (t_a, t_b)))
    else:
        t_a, t_b = fit(fold_a), fit(fold_b)
        scale(fold_b, t_a)
        scale(fold_a, t_b)
    return scaled, [t_a, t_b]
