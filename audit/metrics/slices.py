"""Image-property slices (brightness and contrast terciles): proxies computed from pixels, never
demographic attributes.
"""

from __future__ import annotations

import numpy as np

PROXY_NOTE = (
    "{name} terciles are an image-property proxy computed from pixels, not a demographic or "
    "sensitive attribute; a gap here says where the model struggles, nothing about people"
)
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601
TERCILE_LABELS = ("low", "mid", "high")
_BATCH = 1024


def image_properties(images: np.ndarray) -> dict[str, np.ndarray]:
    """Brightness and contrast of each image, in the images' own intensity units (0–255 for uint8).

    brightness = mean of every pixel and channel; contrast = standard deviation of the grayscale
    image (BT.601 luma 0.299 R + 0.587 G + 0.114 B; a single-channel image is its own grayscale).

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width, channels)

    Returns
    -------
    {"brightness": ndarray (n_samples,), "contrast": ndarray (n_samples,)}
    """
    n = images.shape[0]
    brightness = np.empty(n)
    contrast = np.empty(n)
    for start in range(0, n, _BATCH):
        batch = np.asarray(images[start:start + _BATCH], dtype=np.float32)
        brightness[start:start + _BATCH] = batch.mean(axis=(1, 2, 3))
        gray = batch @ LUMA if batch.shape[-1] == 3 else batch.mean(axis=-1)
        contrast[start:start + _BATCH] = gray.reshape(gray.shape[0], -1).std(axis=1)
    return {"brightness": brightness, "contrast": contrast}


def tercile_slice(values: np.ndarray, name: str) -> dict:
    """Label each value "low", "mid" or "high" by the 1/3 and 2/3 quantiles of ``values``.

    low: v ≤ q1; mid: q1 < v ≤ q2; high: v > q2 (quantiles with numpy's linear interpolation).

    Returns
    -------
    {"name", "labels": ndarray of str (n_samples,), "cut_points": [q1, q2], "note"}
    """
    values = np.asarray(values, dtype=np.float64)
    q1, q2 = (float(q) for q in np.quantile(values, [1 / 3, 2 / 3]))
    codes = (values > q1).astype(np.intp) + (values > q2)
    labels = np.asarray(TERCILE_LABELS)[codes]
    return {"name": name, "labels": labels, "cut_points": [q1, q2],
            "note": PROXY_NOTE.format(name=name.capitalize())}


def image_slices(images: np.ndarray) -> list[dict]:
    """Brightness and contrast tercile slices of ``images`` (see :func:`tercile_slice`)."""
    return property_slices(image_properties(images))


def property_slices(props: dict[str, np.ndarray]) -> list[dict]:
    """Tercile slices of properties already computed by :func:`image_properties` (e.g. batch by batch
    while images stream past, so the images need not be held)."""
    return [tercile_slice(props[name], name) for name in ("brightness", "contrast")]
