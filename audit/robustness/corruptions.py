"""The 15 CIFAR-10-C corruptions (Hendrycks & Dietterich 2019), seeded and vectorised over a batch.

Parameters are those of the CIFAR generator, ``make_cifar_c.py`` in hendrycks/robustness (``PARAMS``).
Each corruption works on the whole (N, H, W, 3) uint8 batch at once; the random draws come from one
``numpy.random.Generator`` seeded by (seed, corruption, severity), so the output is a pure function of
(images, name, severity, seed). The draws depend on the batch as a whole: corrupting a slice of a batch
gives other noise than the same images inside the full batch.

Conventions shared by every corruption:
- Output as the reference's ``np.uint8(float)``: truncated, not rounded, after adding ``TRUNC_EPS``
  (a thousandth of a level) so that float rounding of x/255·255 cannot turn level k into k − 1.
  Motion blur and snow's blur are rounded where ImageMagick wrote an 8-bit PNG; pixelate and JPEG are
  Pillow's own uint8.
- Image sizes other than 32×32: lengths in pixels (blur radii and σ, glass-blur shift, snow-streak
  radius, elastic α, σ and affine jitter, frost texture) are multiplied by s = min(H, W) / 32, as the
  reference writes the elastic parameters in units of the image size (``IMSIZE * 0.05``); fog's fractal
  is drawn at the next power of two ≥ max(H, W) and cropped; pixelate keeps its factor of the side.
  Amounts (noise σ, Poisson rate, salt-and-pepper fraction, brightness, contrast, JPEG quality, blend
  weights, zoom factors) do not depend on size.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Callable, Iterable, Iterator

import numpy as np
from scipy import sparse

from audit.robustness import ops
from audit.robustness.frost import crop_positions, crops_at

from audit.robustness.params import CORRUPTIONS, DESCRIPTIONS, FAMILIES, PARAMS, SEVERITIES  # noqa: F401

TRUNC_EPS = 1e-3
#: Images (of 32×32 pixels; fewer for larger images) per block: each corruption runs on consecutive blocks of the batch, in order, drawing from one
#: generator (so the output is still a pure function of the batch and the seed). Blocks of 256 32-px
#: images keep the float temporaries (3 MB) in cache; glass blur's Python loop over pixel positions
#: wants larger blocks. For the noise corruptions, whose draws are element by element, the output does
#: not depend on the block size at all.
DEFAULT_BLOCK = 256
BLOCK = {"glass_blur": 4096}
#: Corruptions that draw nothing from the generator: their blocks are independent, so they run on up to
#: ``THREADS`` threads (NumPy's loops release the GIL); the output is the same as in one. JPEG stays on one
#: thread: its per-image Pillow calls are mostly Python, and two threads contending for the GIL made it 1.5x
#: slower (measured: 2.00 s against 1.32 s for 10,000 images).
DRAWLESS = frozenset({"defocus_blur", "zoom_blur", "brightness", "contrast", "pixelate"})
THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
MSG_NAME = "The 'name' parameter of corrupt must be one of {allowed}. Got {value!r} instead."
MSG_SEVERITY = "The 'severity' parameter of corrupt must be an int in the range [1, 5]. Got {value!r} instead."
MSG_SEED = "The 'seed' parameter of corrupt must be a non-negative int. Got {value!r} instead."
MSG_IMAGES = ("The 'images' parameter of corrupt must be a uint8 array of shape (N, H, W, 3) or (N, H, W, 1). "
              "Got {dtype} {shape} instead.")


def corrupt(images: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """Corrupt a batch of images as CIFAR-10-C does.

    Grey-scale images (one channel, as a grey-scale model's inputs) are corrupted as RGB images with R = G = B
    and converted back to grey as the image pipeline converts RGB files for such a model: Pillow's ``"L"``
    conversion (ITU-R 601-2 luma, :func:`to_grey`). A clean grey image comes back unchanged; a corruption that
    draws per channel (the noises, frost's texture) is averaged by the luma weights, as it would be in a colour
    photograph converted to grey.

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width, 3) or (n_samples, height, width, 1), uint8
    name : str
        One of ``CORRUPTIONS`` (``gaussian_noise`` ... ``jpeg_compression``).
    severity : int in [1, 5]
    seed : int, default 0
        Seeds the draws together with ``name`` and ``severity``.

    Returns
    -------
    ndarray of the shape of ``images``, uint8
        A new array; ``images`` is not modified.
    """
    if name not in PARAMS:
        raise ValueError(MSG_NAME.format(allowed=", ".join(CORRUPTIONS), value=name))
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or not 1 <= severity <= 5:
        raise ValueError(MSG_SEVERITY.format(value=severity))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(MSG_SEED.format(value=seed))
    x = np.asarray(images)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(MSG_IMAGES.format(dtype=x.dtype, shape=x.shape))
    if x.shape[0] == 0:
        return x.copy()
    if x.shape[-1] == 1:
        return to_grey(corrupt(np.repeat(x, 3, axis=-1), name, severity, seed))
    step = block_images(name, x.shape[1], x.shape[2])
    out = np.empty_like(x)
    starts = range(0, x.shape[0], step)
    if THREADS > 1 and len(starts) > 1 and (name in DRAWLESS or name in _SPLIT):
        _threaded(x, out, starts, step, name, PARAMS[name][severity - 1], _generator(name, severity, seed))
        return out
    # blocks in order, one generator: a pure function of the batch
    for start, block in zip(starts, corrupt_blocks((x[i:i + step] for i in starts), name, severity, seed)):
        out[start:start + step] = block
    return out


def block_images(name: str, height: int, width: int) -> int:
    """Images per block of ``corrupt`` for this corruption and image size (``BLOCK`` per 32×32 pixels)."""
    return max(1, BLOCK.get(name, DEFAULT_BLOCK) * 1024 // (height * width))


def corrupt_blocks(blocks: Iterable[np.ndarray], name: str, severity: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Corrupt a batch given as consecutive blocks of :func:`block_images` images each (the last may be
    shorter), yielding each corrupted block in turn: the blocks equal the rows of ``corrupt(whole batch)``
    while only one block is held, so a batch too large for memory (a Dask robustness cell over a million
    images) is corrupted as if it were one array. Arguments are checked by :func:`corrupt`. One thread: a
    Dask worker runs one task a core."""
    rng = _generator(name, severity, seed)
    fn, params = _FUNCTIONS[name], PARAMS[name][severity - 1]
    for block in blocks:
        if block.shape[-1] == 1:  # grey-scale: as corrupt, through RGB and back
            yield to_grey(fn(np.repeat(block, 3, axis=-1), params, rng))
        else:
            yield fn(block, params, rng)


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) RGB -> (..., 1) grey exactly as Pillow's ``convert("L")`` (ITU-R 601-2 luma,
    ``L = R * 299/1000 + G * 587/1000 + B * 114/1000`` in Pillow's 16-bit fixed point, rounded:
    ``(R * 19595 + G * 38470 + B * 7471 + 32768) >> 16``). R = G = B = v gives v."""
    x = np.asarray(rgb, dtype=np.uint32)
    grey = (x[..., 0] * 19595 + x[..., 1] * 38470 + x[..., 2] * 7471 + 0x8000) >> 16
    return grey.astype(np.uint8)[..., None]


def _generator(name: str, severity: int, seed: int) -> np.random.Generator:
    """The one generator of a corruption's draws, seeded by (seed, corruption, severity)."""
    return np.random.default_rng([int(seed), CORRUPTIONS.index(name), int(severity)])


def _threaded(x, out, starts, step, name, params, rng) -> None:
    """The blocks of ``corrupt`` on ``THREADS`` threads, with the same images as in one: a corruption that
    draws nothing applies each block independently; a split one draws each block's values here, in block
    order (the generator's stream is the serial one), and applies them on the pool, at most two blocks
    per thread ahead."""
    from collections import deque

    if name in _SPLIT:
        draw, apply = _SPLIT[name]
    else:
        draw, apply = (lambda shape, c, rng: ()), (lambda x, c: _FUNCTIONS[name](x, c, None))

    def one(start: int, draws: tuple) -> None:
        out[start:start + step] = apply(x[start:start + step], params, *draws)

    pending: deque = deque()
    with ThreadPoolExecutor(min(THREADS, len(starts)), thread_name_prefix="corrupt") as pool:
        try:
            for start in starts:
                pending.append(pool.submit(one, start, draw(x[start:start + step].shape, params, rng)))
                while len(pending) > 2 * THREADS:
                    pending.popleft().result()
            while pending:
                pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _unit(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) * np.float32(1 / 255)


def _to_uint8(x01: np.ndarray) -> np.ndarray:
    """np.uint8(clip(x, 0, 1) · 255) as the reference, after adding TRUNC_EPS levels."""
    out = np.clip(x01, 0, 1) * np.float32(255)
    out += np.float32(TRUNC_EPS)
    return out.astype(np.uint8)


def _scale(shape: tuple) -> float:
    """s = min(H, W) / 32 of images of ``shape`` (n, H, W, C): the factor of every length parameter."""
    return min(shape[1], shape[2]) / 32


def gaussian_noise(x, c, rng):
    """clip(x + N(0, c²)) with x on [0, 1]."""
    noise = rng.standard_normal(x.shape, dtype=np.float32)
    noise *= np.float32(c)
    noise += _unit(x)
    return _to_uint8(noise)


def shot_noise(x, c, rng):
    """clip(Poisson(x · c) / c) with x on [0, 1]."""
    lam = np.arange(256) / 255 * c  # the Poisson rate of each level
    return _to_uint8(rng.poisson(lam[x]).astype(np.float32) / np.float32(c))


def impulse_noise(x, c, rng):
    """scikit-image ``random_noise(mode='s&p', amount=c)``: each channel value independently becomes
    255 (salt) with probability c/2, 0 (pepper) with probability c/2, else stays."""
    u = rng.random(x.shape, dtype=np.float32)
    out = x.copy()
    out[u < c] = 0
    out[u < c / 2] = 255
    return out


def defocus_blur(x, c, rng):
    """Correlation with the anti-aliased disk of radius c[0] (alias σ c[1]), mirrored borders."""
    s = _scale(x.shape)
    h, w = x.shape[1:3]
    return _to_uint8(ops.apply_operator(_unit(x), _defocus_operator(h, w, c[0] * s, c[1] * s)))


def glass_blur(x, c, rng):
    """Gaussian blur σ, quantised; ``iterations`` sweeps that swap each pixel (rows and columns from
    side − d down to d + 1, in that order) with the one at a shift drawn from [−d, d − 1] on each axis
    (the reference's ``randint(-d, d)`` excludes +d); Gaussian blur σ again."""
    return _glass_blur(x, c, *_glass_blur_draws(x.shape, c, rng))


def _glass_params(shape, c) -> tuple[float, int, int]:
    s = _scale(shape)
    return c[0] * s, max(1, round(c[1] * s)), c[2]


def _glass_blur_draws(shape, c, rng) -> tuple[list]:
    n, h, w = shape[:3]
    _, d, iterations = _glass_params(shape, c)
    return ([rng.integers(-d, d, size=(w, 2, n)) for _ in range(iterations) for _ in range(h - d, d, -1)],)


def _glass_blur(x, c, shifts_per_row):
    sigma, d, iterations = _glass_params(x.shape, c)
    first = _to_uint8(ops.gaussian(_unit(x), sigma, mode="nearest"))
    n, h, w, ch = first.shape
    flat = first.reshape(n, h * w, ch)
    images = np.arange(n)
    rows = iter(shifts_per_row)
    for _ in range(iterations):
        for row in range(h - d, d, -1):
            shifts = next(rows)
            for col in range(w - d, d, -1):
                dx, dy = shifts[col, 0], shifts[col, 1]
                here = row * w + col
                there = (row + dy) * w + (col + dx)
                a = flat[:, here].copy()
                flat[:, here] = flat[images, there]
                flat[images, there] = a
    return _to_uint8(ops.gaussian(_unit(first), sigma, mode="nearest"))


def motion_blur(x, c, rng):
    """ImageMagick motion blur (radius, σ) at an angle drawn from U(−45°, 45°) per image, rounded."""
    return _motion_blur(x, c, *_motion_blur_draws(x.shape, c, rng))


def _motion_blur_draws(shape, c, rng) -> tuple[np.ndarray]:
    return (rng.uniform(-45, 45, size=shape[0]),)


def _motion_blur(x, c, angles):
    s = _scale(x.shape)
    out = ops.motion_blur(x.astype(np.float32), c[0] * s, c[1] * s, angles)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def zoom_blur(x, c, rng):
    """(x + Σ_z clipped_zoom(x, z)) / (len(c) + 1): the image averaged with its centre zooms."""
    h, w = x.shape[1:3]
    return _to_uint8(ops.apply_operator(_unit(x), _zoom_blur_operator(h, w, tuple(c))))


@lru_cache(maxsize=32)
def _zoom_blur_operator(h: int, w: int, zooms: tuple[float, ...]):
    total = sparse.identity(h * w, format="csr")
    for z in zooms:
        total = total + ops.separable_operator(ops.zoom_matrix(h, z), ops.zoom_matrix(w, z))
    return (total / (len(zooms) + 1)).tocsr().astype(np.float32)


@lru_cache(maxsize=32)
def _defocus_operator(h: int, w: int, radius: float, alias_blur: float):
    return ops.correlation_operator(ops.disk_kernel(radius, alias_blur), h, w).astype(np.float32)


@lru_cache(maxsize=32)
def _zoom_operator(h: int, w: int, zoom: float):
    return ops.separable_operator(ops.zoom_matrix(h, zoom), ops.zoom_matrix(w, zoom)).astype(np.float32)


def snow(x, c, rng):
    """Snow flakes N(loc, scale) per pixel, zoomed, thresholded, quantised, motion-blurred (radius,
    σ, angle U(−135°, −45°)); the image is brightened towards 1.5 · grey + .5 with weight 1 − blend,
    and the flakes are added twice (as drawn and rotated by 180°)."""
    return _snow(x, c, *_snow_draws(x.shape, c, rng))


def _snow_draws(shape, c, rng) -> tuple[np.ndarray, np.ndarray]:
    n, h, w = shape[:3]
    layer = rng.normal(c[0], c[1], size=(n, h, w, 1)).astype(np.float32)
    return layer, rng.uniform(-135, -45, size=n)


def _snow(x, c, layer, angles):
    _, _, zoom, threshold, radius, sigma, blend = c
    s = _scale(x.shape)
    h, w = x.shape[1:3]
    xf = _unit(x)
    layer = ops.apply_operator(layer, _zoom_operator(h, w, zoom))
    layer[layer < threshold] = 0
    layer = (np.clip(layer, 0, 1) * 255).astype(np.uint8).astype(np.float32)
    layer = np.clip(np.rint(ops.motion_blur(layer, radius * s, sigma * s, angles)), 0, 255) / np.float32(255)
    grey = xf @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # OpenCV RGB2GRAY
    xf = blend * xf + (1 - blend) * np.maximum(xf, grey[..., None] * 1.5 + 0.5)
    return _to_uint8(xf + layer + layer[:, ::-1, ::-1])


def frost(x, c, rng):
    """clip(c[0] · x + c[1] · frost) in 0–255, frost a random crop of the generated texture."""
    return _frost(x, c, *_frost_draws(x.shape, c, rng))


def _frost_draws(shape, c, rng) -> tuple[np.ndarray, np.ndarray]:
    return crop_positions(shape[0], shape[1], shape[2], rng)


def _frost(x, c, rows, cols):
    crops = crops_at(rows, cols, x.shape[1], x.shape[2])
    out = np.float32(c[0]) * x.astype(np.float32) + np.float32(c[1]) * crops
    return _to_uint8(out / np.float32(255))


def fog(x, c, rng):
    """x + strength · plasma fractal (decay c[1]), rescaled by max(x) / (max(x) + strength)."""
    n, h, w, _ = x.shape
    xf = _unit(x)
    top = xf.max(axis=(1, 2, 3), keepdims=True)
    fractal = ops.plasma_fractal(n, ops.next_power_of_two(max(h, w)), c[1], rng)[:, :h, :w, None]
    xf = xf + np.float32(c[0]) * fractal.astype(np.float32)
    return _to_uint8(xf * top / (top + np.float32(c[0])))


def brightness(x, c, rng):
    """scikit-image rgb2hsv, V + c clipped to 1, hsv2rgb. With H and S fixed every channel is
    proportional to V, so this is x · V' / V (and grey V' where V = 0)."""
    xf = _unit(x)
    v = xf.max(axis=-1, keepdims=True)
    v2 = np.minimum(v + np.float32(c), 1)
    ratio = np.divide(v2, v, out=np.zeros_like(v), where=v > 0)
    out = np.where(v > 0, xf * ratio, v2)
    return _to_uint8(out)


def contrast(x, c, rng):
    """(x − m) · c + m with m the mean of each channel of each image."""
    xf = _unit(x)
    means = xf.mean(axis=(1, 2), keepdims=True)
    return _to_uint8((xf - means) * np.float32(c) + means)


def elastic_transform(x, c, rng):
    """Random affine (the corners of a centred square moved by U(−c[2], c[2]) side lengths; OpenCV
    warpAffine, bilinear, BORDER_REFLECT_101) then a displacement field α · Gaussian_σ(U(−1, 1)) per
    axis (truncate 3, reflect) sampled bilinearly with reflected borders (scipy map_coordinates)."""
    return _elastic_transform(x, c, *_elastic_transform_draws(x.shape, c, rng))


def _elastic_transform_draws(shape, c, rng) -> tuple[np.ndarray, np.ndarray]:
    n, h, w = shape[:3]
    jitter = c[2] * min(h, w)
    return rng.uniform(-jitter, jitter, size=(n, 3, 2)), rng.uniform(-1, 1, size=(2, n, h, w))


def _elastic_transform(x, c, jitters, noise):
    n, h, w, _ = x.shape
    size = min(h, w)
    alpha, sigma = c[0] * size, c[1] * size
    xf = _unit(x)
    centre = np.array([w // 2, h // 2], dtype=np.float64)
    half = size // 3
    src = np.array([centre + half, [centre[0] + half, centre[1] - half], centre - half])  # (x, y) points
    dst = src[None] + jitters
    a = np.concatenate([src, np.ones((3, 1))], axis=1)  # (3, 3)
    forward = np.linalg.solve(a[None], dst)  # (n, 3, 2): [x y 1] @ forward = dst
    m = np.zeros((n, 3, 3))
    m[:, :2, :] = np.swapaxes(forward, 1, 2)
    m[:, 2, 2] = 1
    inverse = np.linalg.inv(m)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    sx = inverse[:, 0, 0, None, None] * xx + inverse[:, 0, 1, None, None] * yy + inverse[:, 0, 2, None, None]
    sy = inverse[:, 1, 0, None, None] * xx + inverse[:, 1, 1, None, None] * yy + inverse[:, 1, 2, None, None]
    warped = ops.bilinear(xf, sy, sx, ops.reflect101)
    fields = ops.gaussian(noise.reshape(2 * n, h, w), sigma, mode="reflect", truncate=3.0).reshape(2, n, h, w) * alpha
    dx, dy = fields[0], fields[1]
    out = ops.bilinear(warped, yy[None] + dy, xx[None] + dx, ops.reflect)
    return _to_uint8(out)


def pixelate(x, c, rng):
    """Pillow BOX resize to (int(W·c), int(H·c)) and back to (W, H)."""
    h, w = x.shape[1:3]
    small = ops.pil_box_resize(x, int(h * c), int(w * c))
    return ops.pil_box_resize(small, h, w)


def jpeg_bytes(image: np.ndarray, quality: int) -> bytes:
    """One image as Pillow writes it with ``save(..., 'JPEG', quality=quality)``."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def jpeg_compression(x, c, rng):
    """Pillow JPEG at quality c, decoded: one encode and decode per image (no batch codec exists)."""
    from PIL import Image

    out = np.empty_like(x)
    for i in range(x.shape[0]):
        im = Image.open(io.BytesIO(jpeg_bytes(x[i], c)))
        out[i] = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))  # an RGB JPEG decodes as RGB
    return out


_FUNCTIONS: dict[str, Callable] = {name: globals()[name] for name in CORRUPTIONS}
#: Corruptions whose draws do not depend on the images' values: (draws(shape, c, rng), apply(x, c, *draws)).
#: ``corrupt`` draws each block's values in order on the calling thread and applies them on the others.
_SPLIT: dict[str, tuple[Callable, Callable]] = {
    name: (globals()[f"_{name}_draws"], globals()[f"_{name}"])
    for name in ("glass_blur", "motion_blur", "snow", "frost", "elastic_transform")}
