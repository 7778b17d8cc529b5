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
COLOURS = ("red", "green", "blue")
#: A pixel is on an edge when its gradient exceeds this share of the intensity range.
EDGE_THRESHOLD = 0.125
_BATCH = 1024


def store_properties(properties: dict, n: int, rows: slice, values: dict[str, np.ndarray]) -> None:
    """Write one batch's :func:`image_properties` ``values`` into ``rows`` of the per-image arrays of
    ``properties`` (each created on first use, ``n`` long, of the values' dtype)."""
    for name, column in values.items():
        if name not in properties:
            properties[name] = np.empty(n, dtype=column.dtype)
        properties[name][rows] = column


def image_properties(images: np.ndarray) -> dict[str, np.ndarray]:
    """Cheap properties of each image, in the images' own intensity units (0–255 for uint8).

    brightness = mean of every pixel and channel; contrast = standard deviation of the grayscale
    image (BT.601 luma 0.299 R + 0.587 G + 0.114 B; a single-channel image is its own grayscale);
    saturation = mean over pixels of the HSV saturation (max − min) / max of the channels (0 where max is 0;
    0 for one channel); edge_density = share of pixels whose grayscale gradient |dx| + |dy| (forward
    differences) exceeds EDGE_THRESHOLD of the images' range (255 for uint8, else 1); dominant_colour = the
    channel of largest mean ("red", "green", "blue"; ties to the first; "grey" for one channel).

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width, channels)

    Returns
    -------
    {"brightness", "contrast", "saturation", "edge_density": ndarray (n_samples,) of float,
     "dominant_colour": ndarray (n_samples,) of str}
    """
    n = images.shape[0]
    out = {name: np.empty(n) for name in ("brightness", "contrast", "saturation", "edge_density")}
    colour = np.empty(n, dtype="<U5")
    scale = 255.0 if np.asarray(images[:0]).dtype == np.uint8 else 1.0
    for start in range(0, n, _BATCH):
        rows = slice(start, start + _BATCH)
        batch = np.asarray(images[rows], dtype=np.float32)
        out["brightness"][rows] = batch.mean(axis=(1, 2, 3))
        rgb = batch.shape[-1] == 3
        gray = batch @ LUMA if rgb else batch.mean(axis=-1)
        out["contrast"][rows] = gray.reshape(gray.shape[0], -1).std(axis=1)
        if rgb:
            hi, lo = batch.max(axis=-1), batch.min(axis=-1)
            sat = np.divide(hi - lo, hi, out=np.zeros_like(hi), where=hi > 0)
            out["saturation"][rows] = sat.mean(axis=(1, 2))
            colour[rows] = np.asarray(COLOURS)[batch.mean(axis=(1, 2)).argmax(axis=1)]
        else:
            out["saturation"][rows] = 0.0
            colour[rows] = "grey"
        grad = np.abs(np.diff(gray, axis=1))[:, :, :-1] + np.abs(np.diff(gray, axis=2))[:, :-1, :]
        out["edge_density"][rows] = (grad > EDGE_THRESHOLD * scale).mean(axis=(1, 2)) if grad.size else 0.0
    out["dominant_colour"] = colour
    return out


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
