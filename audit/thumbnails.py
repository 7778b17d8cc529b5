"""Small PNG thumbnails as data URIs (Pillow), byte-for-byte deterministic."""

from __future__ import annotations

import base64
import io

import numpy as np

MSG_SHAPE = "a thumbnail needs an image of shape (height, width) or (height, width, 1|3|4); got {}"


def to_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 as is; floats with max ≤ 1 scaled by 255; anything else rounded and clipped to [0, 255]."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float64)
    if image.size and np.nanmax(image) <= 1.0:
        image = image * 255.0
    return np.clip(np.round(np.nan_to_num(image)), 0, 255).astype(np.uint8)


def png_data_uri(image: np.ndarray, *, scale: int = 1) -> str:
    """``data:image/png;base64,…`` of one image, enlarged ``scale`` times (nearest neighbour).

    Parameters
    ----------
    image : ndarray of shape (height, width) or (height, width, channels), channels 1, 3 or 4
    scale : int, default 1

    Returns
    -------
    str
    """
    image = to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(MSG_SHAPE.format(image.shape))
    if scale > 1:
        image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", optimize=False, compress_level=9)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
