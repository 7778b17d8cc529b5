"""The sanity checks of saliency maps (Adebayo et al., NeurIPS 2018; deletion as in Samek et al. 2017 and
Petsiuk et al. 2018): do the maps change when the model's learned top layers are re-initialised, and does deleting
what a map points at hurt the prediction more than deleting random pixels?"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from audit.model.explain.maps import upsampled
from audit.model.explain.occlusion import GREY

#: Share of the pixels deleted by the deletion check.
DELETE_FRACTION = 0.2
#: At or above this mean rank correlation the maps barely depend on what the model learned.
RANK_CORRELATION_LIMIT = 0.5
#: At or below this win rate deleting the map's pixels is no worse than deleting random ones.
WIN_RATE_LIMIT = 0.5


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman rank correlation of two maps (flattened; ties get average ranks); None when either is
    constant."""
    from scipy.stats import spearmanr

    a, b = np.ravel(a), np.ravel(b)
    if a.size < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        return None
    return float(spearmanr(a, b).statistic)


def mean_rank_correlation(maps: list[np.ndarray], other: list[np.ndarray]) -> tuple[float | None, int]:
    """Mean of :func:`rank_correlation` over image pairs where it is defined, and how many pairs that is."""
    values = [r for r in (rank_correlation(a, b) for a, b in zip(maps, other)) if r is not None]
    return (float(np.mean(values)) if values else None), len(values)


def deletion_masks(maps: np.ndarray, height: int, width: int, seed: int,
                   fraction: float = DELETE_FRACTION) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(map masks, random masks, flat) of shape (n, height, width): the ``ceil(fraction * pixels)`` pixels
    with the highest map value (the map resized bilinearly to the input; equal values in a seeded random order),
    and as many pixels drawn at random (``numpy.random.default_rng(seed)``: per image in order, one permutation
    for the random pixels, then one for the ties); ``flat`` marks maps with no positive value."""
    n = len(maps)
    k = math.ceil(fraction * height * width)
    rng = np.random.default_rng(seed)
    top = np.zeros((n, height * width), dtype=bool)
    rand = np.zeros((n, height * width), dtype=bool)
    flat = np.zeros(n, dtype=bool)
    for i, m in enumerate(maps):
        full = upsampled(m, height, width).ravel()
        flat[i] = not (full.max() > 0)
        rand[i, rng.permutation(height * width)[:k]] = True
        tie_break = rng.permutation(height * width)  # equal values (a flat region) in a seeded random order
        top[i, np.lexsort((tie_break, -full))[:k]] = True
    return top.reshape(n, height, width), rand.reshape(n, height, width), flat


def deletion_win_rate(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, classes, maps,
                      seed: int, *, fraction: float = DELETE_FRACTION) -> tuple[float | None, list[bool]]:
    """Share of images where greying out (uint8 128) the map's top ``fraction`` of pixels lowers the
    predicted class's probability more than greying out a random ``fraction``; a flat map never wins. Two
    batched calls of ``predict`` (uint8 images -> probabilities)."""
    images = np.asarray(images, dtype=np.uint8)
    n, height, width = images.shape[:3]
    if n == 0:
        return None, []
    top, rand, flat = deletion_masks(maps, height, width, seed, fraction)
    classes = np.asarray(classes, dtype=np.int64)
    rows = np.arange(n)
    base = np.asarray(predict(images), dtype=np.float64)[rows, classes]
    p_top = np.asarray(predict(np.where(top[..., None], np.uint8(GREY), images)), dtype=np.float64)[rows, classes]
    p_rand = np.asarray(predict(np.where(rand[..., None], np.uint8(GREY), images)), dtype=np.float64)[rows, classes]
    wins = ((base - p_top) > (base - p_rand)) & ~flat
    return float(wins.mean()), wins.tolist()


def verdicts(rank: float | None, win_rate: float | None) -> list[str]:
    """Plain-language warnings for figures that say the maps should not be trusted (empty when none does)."""
    out = []
    if rank is not None and rank >= RANK_CORRELATION_LIMIT:
        out.append(f"The maps barely change when the model's top layers are replaced by random weights (rank "
                   f"correlation {rank:.2f}, at or above {RANK_CORRELATION_LIMIT}): they show the image's edges and "
                   "contrast more than what the model learned. Do not read them as the model's reasons.")
    if win_rate is not None and win_rate <= WIN_RATE_LIMIT:
        out.append(f"Greying out the pixels the maps point at lowers the prediction more than greying out random "
                   f"pixels in only {win_rate:.0%} of the images (at or below {WIN_RATE_LIMIT:.0%}): the maps do "
                   "not locate what the model relies on. Do not read them as the model's reasons.")
    return out
