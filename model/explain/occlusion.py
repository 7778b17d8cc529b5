"""Occlusion sensitivity for any model (Zeiler & Fergus 2014): the drop of the predicted class's probability when
a grey patch covers each region of the image.

Conventions: the patch covers a quarter of each side (``ceil(side / 4)`` pixels) and moves by half a patch, with a
last position flush with the far edge, so every input size gets about 7 x 7 positions; the patch is mid-grey
(uint8 128 on every channel, before the model's own preprocessing); a pixel's value is the mean drop over the
patches that cover it, negative drops (occlusion raising the probability) counted as 0. All occluded copies of one
image go to the model in one batched call.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

#: The value of an occluding (and of a deleted) pixel, every channel, uint8.
GREY = 128


def geometry(height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((patch_h, patch_w), (stride_h, stride_w)) for an input of this size."""
    patch = (max(1, math.ceil(height / 4)), max(1, math.ceil(width / 4)))
    return patch, (max(1, patch[0] // 2), max(1, patch[1] // 2))


def _starts(size: int, patch: int, stride: int) -> np.ndarray:
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return np.asarray(starts)


def patch_masks(height: int, width: int, patch: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Boolean masks of shape (n_positions, height, width), True under the patch, rows then columns."""
    rows = _starts(height, patch[0], stride[0])
    cols = _starts(width, patch[1], stride[1])
    in_row = (np.arange(height)[None, :] >= rows[:, None]) & (np.arange(height)[None, :] < rows[:, None] + patch[0])
    in_col = (np.arange(width)[None, :] >= cols[:, None]) & (np.arange(width)[None, :] < cols[:, None] + patch[1])
    return (in_row[:, None, :, None] & in_col[None, :, None, :]).reshape(len(rows) * len(cols), height, width)


def occlusion_maps(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, classes,
                   *, patch: tuple[int, int] | None = None, stride: tuple[int, int] | None = None) -> np.ndarray:
    """Occlusion maps of shape (n, height, width), float64, non-negative (not yet scaled).

    Parameters
    ----------
    predict : callable
        uint8 images (n, H, W, C) -> probabilities (n, n_classes).
    images : ndarray of shape (n, H, W, C), uint8
    classes : sequence of int
        The class explained for each image (the predicted one).
    patch, stride : (int, int), optional
        Default :func:`geometry`.
    """
    images = np.asarray(images, dtype=np.uint8)
    n, height, width = images.shape[:3]
    if patch is None or stride is None:
        patch, stride = geometry(height, width)
    masks = patch_masks(height, width, patch, stride)  # (P, H, W)
    cover = masks.reshape(len(masks), -1).astype(np.float64)  # (P, H*W)
    counts = cover.sum(axis=0)
    classes = np.asarray(classes, dtype=np.int64)
    out = np.empty((n, height, width), dtype=np.float64)
    for i in range(n):
        copies = np.where(masks[:, :, :, None], np.uint8(GREY), images[i][None])  # (P, H, W, C)
        batch = np.concatenate([images[i][None], copies])
        probs = np.asarray(predict(batch), dtype=np.float64)[:, classes[i]]
        drops = np.maximum(probs[0] - probs[1:], 0.0)
        out[i] = (drops @ cover / counts).reshape(height, width)
    return out
