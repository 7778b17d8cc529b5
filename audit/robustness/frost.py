"""A generated frost texture, in place of the six photographs the CIFAR-10-C generator crops.

The reference (``make_cifar_c.py``) overlays a random 32×32 crop of one of five frost photographs,
shrunk to 20% (about 105×70 to 180×120 pixels). Photographs cannot be shipped here, so the texture is
drawn: ice needles that branch at ±60° (the hexagonal habit of ice crystals) grow from seeded points
over a low-frequency plasma haze and a fine Gaussian-smoothed grain, are drawn 4× supersampled with
Pillow and box-filtered down, and the grey level is mapped to a pale blue-white whose per-channel mean matches the five reference photographs
after their 20% shrink, mean RGB (146, 167, 179), with a standard deviation of 25 levels over the tile.
Within a 32×32 crop the grey level has a standard deviation of about 14 and neighbouring pixels differ by
about 7 on average; the reference photographs' crops: 11–24 and 3–13.

The texture depends on the image size only (a fixed seed, not the corruption's): for an image of side
s the tile is 8·s pixels square and needle lengths and widths scale with s / 32, so a crop holds the
same amount of frost at every size. It is built once per size and cached.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from audit.robustness.ops import next_power_of_two, plasma_fractal

#: Per-channel mean and standard deviation (0–255) of the five reference photographs shrunk to 20%.
FROST_MEAN_RGB = (146.0, 167.0, 179.0)
FROST_STD = 25.0
#: Seed of the texture: fixed, so every audit overlays the same frost.
FROST_SEED = 20190328
TILE_FACTOR = 8
SUPERSAMPLE = 4
#: Needle seeds per tile, and the weights of the haze and of the fine ice grain against the needles
#: (chosen so that 32-px crops have about the reference crops' spread: grey-level SD within a crop
#: about 15, mean absolute difference of neighbouring pixels about 6).
N_SEEDS = 220
HAZE = 0.5
GRAIN = 0.025


@lru_cache(maxsize=4)
def frost_texture(size: int = 32) -> np.ndarray:
    """The frost tile for images of side ``size``: float32 (8·size, 8·size, 3) in [0, 255].

    Parameters
    ----------
    size : int, default 32
        Side of the images the tile is cropped for (the smaller of height and width).

    Returns
    -------
    ndarray of float32, read-only
    """
    from PIL import Image, ImageDraw, ImageFilter

    side = TILE_FACTOR * size
    big = side * SUPERSAMPLE
    unit = size / 32 * SUPERSAMPLE  # one pixel of a 32-px image, in supersampled pixels
    rng = np.random.default_rng(FROST_SEED)
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(N_SEEDS):
        x0, y0 = rng.uniform(0, big, 2)
        angle = rng.uniform(0, 2 * np.pi)
        _needle(draw, rng, x0, y0, angle, length=rng.uniform(6, 22) * unit, width=max(1, round(0.5 * unit)),
                level=int(rng.uniform(150, 255)), depth=3, unit=unit)
    canvas = canvas.filter(ImageFilter.GaussianBlur(radius=0.6 * unit))
    needles = np.asarray(canvas.resize((side, side), Image.BOX), dtype=np.float64) / 255.0
    haze = plasma_fractal(1, next_power_of_two(side), 2.0, rng)[0, :side, :side]
    grain = ndimage.gaussian_filter(rng.standard_normal((side, side)), 0.6 * size / 32)
    grey = HAZE * haze + needles + GRAIN * grain / grain.std()
    grey = (grey - grey.mean()) / grey.std()
    tile = np.stack([m + FROST_STD * grey for m in FROST_MEAN_RGB], axis=-1)
    tile = np.clip(tile, 0, 255).astype(np.float32)
    tile.setflags(write=False)
    return tile


def _needle(draw, rng, x, y, angle, *, length, width, level, depth, unit) -> None:
    """One needle from (x, y), with side branches at ±60° that are shorter by half, ``depth`` deep."""
    x1, y1 = x + length * np.cos(angle), y + length * np.sin(angle)
    draw.line([(x, y), (x1, y1)], fill=level, width=width)
    if depth == 0 or length < 2 * unit:
        return
    for t in rng.uniform(0.25, 0.9, size=rng.integers(1, 4)):
        bx, by = x + t * (x1 - x), y + t * (y1 - y)
        side = rng.choice([-1.0, 1.0])
        _needle(draw, rng, bx, by, angle + side * np.pi / 3, length=length * rng.uniform(0.3, 0.5),
                width=max(1, width - 1), level=int(level * 0.85), depth=depth - 1, unit=unit)


def frost_crops(n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random crops (n, height, width, 3) float32 of the tile, one uniform position per image."""
    return crops_at(*crop_positions(n, height, width, rng), height, width)


def crop_positions(n: int, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The top-left corners of ``n`` random crops of the tile: rows, then columns, uniform."""
    side = TILE_FACTOR * min(height, width)
    return rng.integers(0, side - height, size=n), rng.integers(0, side - width, size=n)


def crops_at(rows: np.ndarray, cols: np.ndarray, height: int, width: int) -> np.ndarray:
    """The crops (n, height, width, 3) float32 of the tile at the corners ``rows``, ``cols``."""
    tile = frost_texture(min(height, width))
    rr = rows[:, None] + np.arange(height)[None, :]
    cc = cols[:, None] + np.arange(width)[None, :]
    return tile[rr[:, :, None], cc[:, None, :]]