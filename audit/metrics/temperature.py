"""Temperature scaling: fit T > 0 by minimising NLL of softmax(log p / T), apply it, and a seeded
2-fold cross-fit for when no separate calibration set exists.
"""

from __future__ import annotations

import numpy as np

from audit.metrics.calibration import NLL_CLIP

#: Search interval for T (bounded Brent on log T).
T_BOUNDS = (0.05, 20.0)
MSG_T = "temperature must be a finite number > 0; got {!r}"


def _log_probs(probs: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(probs, dtype=np.float64))


def _softmax_scaled(logp: np.ndarray, t: float) -> np.ndarray:
    z = logp / t
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def apply_temperature(probs, temperature: float) -> np.ndarray:
    """softmax(log(p) / T) row-wise; T = 1 returns ``probs`` (renormalised). Zero stays zero.

    Parameters
    ----------
    probs : ndarray of shape (n_samples, n_classes)
    temperature : float > 0

    Returns
    -------
    ndarray of float64, shape (n_samples, n_classes)
    """
    t = float(temperature)
    if not np.isfinite(t) or t <= 0:
        raise ValueError(MSG_T.format(temperature))
    return _softmax_scaled(_log_probs(probs), t)


def _nll_at(logp: np.ndarray, logp_true: np.ndarray, t: float) -> float:
    z = logp * np.float32(1.0 / t)
    zmax = z.max(axis=1)
    z -= zmax[:, None]
    np.exp(z, out=z)
    lse = zmax + np.log(z.sum(axis=1))
    nll = lse - logp_true / t
    return float(np.minimum(nll, -np.log(NLL_CLIP)).mean(dtype=np.float64))


def fit_temperature(labels, probs, *, bounds: tuple[float, float] = T_BOUNDS) -> float:
    """T minimising the mean clipped NLL of softmax(log p / T) against ``labels``.

    Bounded Brent search (scipy ``minimize_scalar``, xatol 1e-3 on log T, so T to 0.1%) over log T
    in ``log(bounds)``; the softmax is evaluated in float32, the true-class term and mean in float64.

    Parameters
    ----------
    labels : ndarray of int, shape (n_samples,)
    probs : ndarray of shape (n_samples, n_classes)

    Returns
    -------
    float
    """
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels, dtype=np.int64)
    logp = _log_probs(probs)
    logp_true = logp[np.arange(logp.shape[0]), labels]
    logp = logp.astype(np.float32)  # float32 inside the search: twice as fast, T to ~1e-4 either way
    res = minimize_scalar(lambda u: _nll_at(logp, logp_true, float(np.exp(u))),
                          bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded",
                          options={"xatol": 1e-3})
    return float(np.exp(res.x))


def cross_fit_temperature(labels, probs, *, seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """Seeded 2-fold cross-fit: split the samples at random into halves A and B, fit T on A and
    apply it to B, fit T on B and apply it to A; no sample is scaled by a T fitted on itself.

    Parameters
    ----------
    labels : ndarray of int, shape (n_samples,)
    probs : ndarray of shape (n_samples, n_classes); n_samples >= 2

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
    t_a = fit_temperature(labels[fold_a], probs[fold_a])
    t_b = fit_temperature(labels[fold_b], probs[fold_b])
    scaled = np.empty_like(probs)
    scaled[fold_b] = apply_temperature(probs[fold_b], t_a)
    scaled[fold_a] = apply_temperature(probs[fold_a], t_b)
    return scaled, [t_a, t_b]
