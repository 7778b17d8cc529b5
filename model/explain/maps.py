"""Saliency maps shaped for audit.json and the report: scaled to a maximum of 1, pooled to at most 16 x 16,
resized to the input, and drawn as small PNG data URIs (the map alone, and over the image)."""

from __future__ import annotations

import numpy as np

#: Largest side of a map in audit.json (``explanations.items[].map``).
MAX_SIDE = 16
#: Decimals a map value keeps in audit.json.
DECIMALS = 3
#: Largest side of the overlay image (larger inputs are shrunk; CIFAR-10 stays 32 x 32).
OVERLAY_SIDE = 64
#: Weight of the map's colour in the overlay (the image keeps the rest).
OVERLAY_ALPHA = 0.5
#: Colour scale from 0 (dark blue) to 1 (yellow), linear between these anchors.
_ANCHORS = np.array([[0.0, 13, 8, 135], [0.35, 126, 3, 168], [0.65, 220, 88, 64], [1.0, 253, 231, 37]])


def scaled(m: np.ndarray) -> np.ndarray:
    """``m`` clipped at 0 and divided by its maximum (all zeros stays all zeros)."""
    m = np.maximum(np.nan_to_num(np.asarray(m, dtype=np.float64)), 0.0)
    top = m.max() if m.size else 0.0
    return m / top if top > 0 else np.zeros_like(m)


def _resize(m: np.ndarray, height: int, width: int, method: str) -> np.ndarray:
    from PIL import Image

    if m.shape == (height, width):
        return np.asarray(m, dtype=np.float64)
    resample = Image.Resampling.BOX if method == "box" else Image.Resampling.BILINEAR
    img = Image.fromarray(np.ascontiguousarray(m, dtype=np.float32), mode="F")
    return np.asarray(img.resize((width, height), resample=resample), dtype=np.float64)


def pooled_size(height: int, width: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """(h, w) of a map of this size in audit.json: unchanged up to ``max_side``, else the longer side
    ``max_side`` and the other in proportion (at least 1)."""
    if max(height, width) <= max_side:
        return height, width
    f = max_side / max(height, width)
    return max(1, round(height * f)), max(1, round(width * f))


def pooled(m: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """``m`` averaged over boxes (area resampling) down to :func:`pooled_size`, then :func:`scaled`."""
    return scaled(_resize(m, *pooled_size(*m.shape, max_side), method="box"))


def upsampled(m: np.ndarray, height: int, width: int) -> np.ndarray:
    """``m`` resized bilinearly to (height, width) (a Grad-CAM map at its layer's resolution to the input's)."""
    return _resize(np.asarray(m, dtype=np.float64), height, width, method="bilinear")


def as_list(m: np.ndarray) -> list[list[float]]:
    """A scaled map as a 2-D list rounded to :data:`DECIMALS` (what audit.json holds)."""
    return np.round(m, DECIMALS).tolist()


def colours(m: np.ndarray) -> np.ndarray:
    """uint8 RGB of a map with values in [0, 1] on the colour scale."""
    m = np.clip(m, 0.0, 1.0)
    rgb = [np.interp(m, _ANCHORS[:, 0], _ANCHORS[:, c]) for c in (1, 2, 3)]
    return np.round(np.stack(rgb, axis=-1)).astype(np.uint8)


def heatmap_uri(m: np.ndarray) -> str:
    """The map alone (at its audit.json resolution) as a PNG data URI."""
    from audit.thumbnails import png_data_uri

    return png_data_uri(colours(m))


def overlay_uri(image: np.ndarray, m: np.ndarray) -> str:
    """The image (shrunk to at most :data:`OVERLAY_SIDE` on its longer side) with the map's colours over it
    (weight :data:`OVERLAY_ALPHA`), as a PNG data URI. ``m``: the scaled map at any resolution."""
    from PIL import Image

    from audit.thumbnails import png_data_uri

    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    h, w = image.shape[:2]
    th, tw = pooled_size(h, w, OVERLAY_SIDE)
    if (th, tw) != (h, w):
        image = np.asarray(Image.fromarray(image).resize((tw, th), resample=Image.Resampling.BOX))
    heat = colours(scaled(upsampled(m, th, tw))).astype(np.float64)
    blended = (1 - OVERLAY_ALPHA) * image.astype(np.float64) + OVERLAY_ALPHA * heat
    return png_data_uri(np.clip(np.round(blended), 0, 255).astype(np.uint8))
