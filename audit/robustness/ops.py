"""Batched image operations the corruptions are built from: resampling matrices, bilinear gathers,
blur kernels and the plasma fractal, each applied to a whole (N, H, W, C) batch at once.

Every function here reproduces one operation the CIFAR-10-C generator (``make_cifar_c.py``) called per
image through scipy, scikit-image, OpenCV, ImageMagick or Pillow; the docstrings name the operation and
the tests compare against scipy and Pillow where they are installed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse

#: Pillow's fixed-point precision for 8-bit resampling (``PRECISION_BITS`` in libImaging/Resample.c).
PIL_PRECISION_BITS = 32 - 8 - 2


# --- index maps for borders ---------------------------------------------------------------------------


def reflect101(index: np.ndarray, n: int) -> np.ndarray:
    """Index into ``n`` samples, mirrored about the edge samples (OpenCV BORDER_REFLECT_101, scipy
    'mirror'): ... c b | a b c d | c b ..."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * n - 2
    if index.size and (index.min() < -(n - 1) or index.max() > period):
        index = np.mod(index, period)
    index = np.abs(index)
    return np.where(index >= n, period - index, index)


def reflect(index: np.ndarray, n: int) -> np.ndarray:
    """Index into ``n`` samples, mirrored about the edges (half-sample symmetric: OpenCV
    BORDER_REFLECT, scipy 'reflect', scikit-image 'reflect'): ... b a | a b c d | d c ..."""
    period = 2 * n
    if index.size and (index.min() < -n or index.max() >= period):
        index = np.mod(index, period)
    index = np.where(index < 0, -1 - index, index)
    return np.where(index >= n, period - 1 - index, index)


def clamp(index: np.ndarray, n: int) -> np.ndarray:
    """Index into ``n`` samples, repeating the edge sample (ImageMagick's edge virtual pixels)."""
    return np.clip(index, 0, n - 1)


# --- linear resampling as matrices --------------------------------------------------------------------


def zoom_matrix(n: int, zoom: float) -> np.ndarray:
    """(n, n) matrix of the reference's ``clipped_zoom`` along one axis.

    The centre ``ceil(n / zoom)`` samples are cropped (top at ``(n − crop) // 2``), zoomed by
    ``scipy.ndimage.zoom(..., order=1)`` to ``round(crop · zoom)`` samples (grid_mode False: output
    sample o reads input position ``o · (crop − 1) / (out − 1)``, linearly interpolated), and the centre
    ``n`` samples of the result are kept (top at ``(out − n) // 2``).
    """
    crop = int(np.ceil(n / zoom))
    top = (n - crop) // 2
    out = int(round(crop * zoom))
    trim = (out - n) // 2
    m = np.zeros((n, n))
    step = (crop - 1) / (out - 1) if out > 1 else 0.0
    for row, o in enumerate(range(trim, trim + n)):
        pos = o * step
        i0 = min(int(np.floor(pos)), crop - 1)
        frac = pos - i0
        m[row, top + i0] += 1.0 - frac
        if frac > 0 and i0 + 1 < crop:
            m[row, top + i0 + 1] += frac
    return m


def separable_operator(rows: np.ndarray, cols: np.ndarray) -> sparse.csr_matrix:
    """The linear map image -> ``rows @ image @ cols.T`` as a sparse (H'·W', H·W) matrix on row-major
    flattened images (the Kronecker product of ``rows`` and ``cols``)."""
    return sparse.kron(sparse.csr_matrix(rows), sparse.csr_matrix(cols), format="csr")


def correlation_operator(kernel: np.ndarray, h: int, w: int) -> sparse.csr_matrix:
    """OpenCV ``filter2D`` (correlation, BORDER_REFLECT_101) with one 2-D kernel as a sparse (H·W, H·W)
    matrix on row-major flattened images."""
    kh, kw = kernel.shape
    ii, jj = np.mgrid[0:h, 0:w]
    out_idx, in_idx, vals = [], [], []
    for a, b in zip(*np.nonzero(kernel)):
        src = reflect101(ii + a - kh // 2, h) * w + reflect101(jj + b - kw // 2, w)
        out_idx.append((ii * w + jj).ravel())
        in_idx.append(src.ravel())
        vals.append(np.full(h * w, kernel[a, b]))
    return sparse.coo_matrix((np.concatenate(vals), (np.concatenate(out_idx), np.concatenate(in_idx))),
                             shape=(h * w, h * w)).tocsr()


def apply_operator(x: np.ndarray, operator: sparse.spmatrix, out_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Apply a sparse linear map on flattened images (from :func:`separable_operator` or
    :func:`correlation_operator`) to every image and channel of ``x`` (N, H, W, C) in one product:
    the batch is laid out as (H·W, N·C), so each non-zero of the operator is one contiguous multiply-add
    over the whole batch."""
    n, h, w, c = x.shape
    h2, w2 = out_hw or (h, w)
    cols = np.ascontiguousarray(np.moveaxis(x.reshape(n, h * w, c), 0, 1)).reshape(h * w, n * c)
    y = np.asarray(operator.astype(x.dtype) @ cols)
    return np.ascontiguousarray(np.moveaxis(y.reshape(h2 * w2, n, c), 1, 0)).reshape(n, h2, w2, c)


def pil_box_weights(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) integer weights of Pillow's BOX resampling along one axis, in Pillow's
    fixed point (``precompute_coeffs`` then ``normalize_coeffs_8bpc`` of libImaging/Resample.c)."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 0.5 * filterscale
    m = np.zeros((out_size, in_size))
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        taps = np.arange(xmin, xmax)
        arg = (taps - center + 0.5) / filterscale
        k = ((arg > -0.5) & (arg <= 0.5)).astype(np.float64)
        total = k.sum()
        if total:
            k /= total
        m[xx, xmin:xmax] = np.floor(0.5 + k * (1 << PIL_PRECISION_BITS))
    return m


def _box_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero weights of ``pil_box_weights`` as taps: (out_size, K) input indices and int32 weights
    (padded with index 0 and weight 0), K the widest output pixel's support."""
    m = pil_box_weights(in_size, out_size)
    nz = m != 0
    k = max(1, int(nz.sum(axis=1).max()))
    first = np.argmax(nz, axis=1)
    idx = np.minimum(first[:, None] + np.arange(k), in_size - 1)
    weights = np.take_along_axis(m, idx, axis=1)
    weights[first[:, None] + np.arange(k) >= in_size] = 0
    return idx, weights.astype(np.int32)


def _box_pass(x: np.ndarray, axis: int, out_size: int) -> np.ndarray:
    """One pass of Pillow's BOX resampling along ``axis`` of int32 ``x``: Σ taps · weights + half, shifted
    right by the precision and clamped to 0–255, as ``ImagingResampleHorizontal_8bpc`` computes it."""
    idx, weights = _box_taps(x.shape[axis], out_size)
    shape = [1] * x.ndim
    shape[axis] = out_size
    acc = np.full(x.shape[:axis] + (out_size,) + x.shape[axis + 1:], 1 << (PIL_PRECISION_BITS - 1), np.int32)
    for k in range(idx.shape[1]):
        acc += np.take(x, idx[:, k], axis=axis) * weights[:, k].reshape(shape)
    acc >>= PIL_PRECISION_BITS
    return np.clip(acc, 0, 255, out=acc)


def pil_box_resize(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pillow's ``Image.resize((width, height), Image.BOX)`` of every uint8 image in ``x`` (N, H, W, C):
    horizontal pass, rounding to uint8, vertical pass, rounding to uint8, in Pillow's fixed point.

    Each output pixel is a sum over its few input pixels (taps) in int32, as in Pillow: the weights sum to
    2**22, so 255 · 2**22 plus the rounding half stays below 2**31.
    """
    n, h, w, c = x.shape
    out = x.astype(np.int32)
    if width != w:
        out = _box_pass(out, 2, width)
    if height != h:
        out = _box_pass(out, 1, height)
    return out.astype(np.uint8)


# --- gathers ------------------------------------------------------------------------------------------


def bilinear(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, border) -> np.ndarray:
    """Bilinear samples of every image of ``x`` (N, H, W, C) at float positions ``rows``, ``cols``
    (N, H', W'); ``border(index, n)`` maps neighbours outside the image back into it."""
    n, h, w = x.shape[:3]
    r0 = np.floor(rows)
    c0 = np.floor(cols)
    fr = (rows - r0).astype(x.dtype)[..., None]
    fc = (cols - c0).astype(x.dtype)[..., None]
    r0 = r0.astype(np.intp)
    c0 = c0.astype(np.intp)
    base = (np.arange(n) * (h * w)).reshape(n, 1, 1)
    ra, rb = border(r0, h) * w + base, border(r0 + 1, h) * w + base
    ca, cb = border(c0, w), border(c0 + 1, w)
    flat = x.reshape(n * h * w, *x.shape[3:])
    shape = (*rows.shape, *x.shape[3:])

    def take(r, c):
        return np.take(flat, (r + c).ravel(), axis=0).reshape(shape)

    top = take(ra, ca)
    top += (take(ra, cb) - top) * fc
    bottom = take(rb, ca)
    bottom += (take(rb, cb) - bottom) * fc
    top += (bottom - top) * fr
    return top


# --- filters ------------------------------------------------------------------------------------------


def gaussian(x: np.ndarray, sigma: float, *, mode: str, truncate: float = 4.0) -> np.ndarray:
    """scikit-image's ``filters.gaussian(image, sigma, channel_axis=-1)`` of each image: scipy's
    Gaussian over the two spatial axes only (``mode`` as named by scipy)."""
    sig = (0, sigma, sigma) + (0,) * (x.ndim - 3)
    return ndimage.gaussian_filter(x, sigma=sig, mode=mode, truncate=truncate)


def gaussian_taps(ksize: int, sigma: float) -> np.ndarray:
    """OpenCV ``getGaussianKernel(ksize, sigma)`` for sigma > 0: normalised exp(−x²/2σ²)."""
    x = np.arange(ksize) - (ksize - 1) / 2
    k = np.exp(-(x ** 2) / (2 * sigma ** 2))
    return k / k.sum()


def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """The reference's defocus kernel: the disk x² + y² ≤ r² on an integer grid, normalised, then
    blurred by OpenCV's GaussianBlur (3 taps, 5 above radius 8) with σ = ``alias_blur``.

    The grid is −R..R with R = max(8, ceil(r) + 2) (the reference: −8..8 up to radius 8; above it a
    grid of ``arange(-r, r + 1)``, which is not centred for a fractional r, so an integer grid is used).
    """
    half = max(8, int(np.ceil(radius)) + 2)
    grid = np.arange(-half, half + 1)
    xx, yy = np.meshgrid(grid, grid)
    disk = ((xx ** 2 + yy ** 2) <= radius ** 2).astype(np.float64)
    disk /= disk.sum()
    taps = gaussian_taps(3 if radius <= 8 else 5, alias_blur)
    disk = ndimage.correlate1d(disk, taps, axis=0, mode="mirror")
    return ndimage.correlate1d(disk, taps, axis=1, mode="mirror")


def motion_offsets(width: int, angles_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ImageMagick ``MotionBlurImage`` tap offsets: for tap i, (dx, dy) = (ceil(i·cos a − ½),
    ceil(i·sin a − ½)); arrays of shape (N, width)."""
    a = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))[:, None]
    i = np.arange(width)[None, :]
    px, py = width * np.sin(a), width * np.cos(a)
    hyp = np.hypot(px, py)
    dx = np.ceil(i * py / hyp - 0.5).astype(np.intp)
    dy = np.ceil(i * px / hyp - 0.5).astype(np.intp)
    return dx, dy


def motion_blur(x: np.ndarray, radius: float, sigma: float, angles_deg: np.ndarray) -> np.ndarray:
    """ImageMagick's ``-motion-blur radius×sigma+angle`` of every image (one angle per image).

    ``width = 2·ceil(radius) + 1`` taps with one-sided Gaussian weights exp(−i²/2σ²), normalised; tap i
    reads the pixel at (x + dx_i, y + dy_i) (see :func:`motion_offsets`), edge pixels repeated outside
    the image (ImageMagick's default virtual pixels). Returns float in the units of ``x``; ImageMagick
    then writes 8-bit PNG, i.e. rounds to the nearest level (the caller does that).
    """
    width = int(2 * np.ceil(radius) + 1)
    i = np.arange(width)
    weights = np.exp(-(i ** 2) / (2.0 * sigma ** 2))
    weights /= weights.sum()
    dx, dy = motion_offsets(width, angles_deg)
    n, h, w = x.shape[:3]
    # Sorted by angle, the images that share a tap's offset are contiguous: each tap is then a few
    # slices of the edge-padded batch, with no per-pixel index arithmetic.
    order = np.argsort(angles_deg, kind="stable")
    pad = width - 1
    padded = np.pad(x[order].astype(np.float32), [(0, 0), (pad, pad), (pad, pad)] + [(0, 0)] * (x.ndim - 3),
                    mode="edge")
    out = np.zeros(x.shape, dtype=np.float32)
    for tap in range(width):
        ox, oy = dx[order, tap], dy[order, tap]
        starts = np.concatenate([[0], np.flatnonzero((np.diff(ox) != 0) | (np.diff(oy) != 0)) + 1, [n]])
        weight = np.float32(weights[tap])
        for a, b in zip(starts[:-1], starts[1:]):
            r0, c0 = pad + oy[a], pad + ox[a]
            out[a:b] += weight * padded[a:b, r0:r0 + h, c0:c0 + w]
    result = np.empty_like(out)
    result[order] = out
    return result


# --- plasma fractal -----------------------------------------------------------------------------------


def plasma_fractal(n: int, mapsize: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` diamond-square height maps (n, mapsize, mapsize) in [0, 1], as the reference's
    ``plasma_fractal`` (a modification of FLHerne/mapgen's diamondsquare.py): each step adds
    ``wibble · U(−wibble, wibble)`` to the mean of the 4 neighbours (wraparound), starting at
    wibble = 100 and dividing it by ``decay`` every halving of the step; then min-max scaled per map.
    """
    if mapsize & (mapsize - 1):
        raise ValueError(f"mapsize must be a power of two; got {mapsize}")
    m = np.zeros((n, mapsize, mapsize))
    step = mapsize
    wibble = 100.0

    def wibbled(total: np.ndarray) -> np.ndarray:
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = m[:, 0::step, 0::step]
        square = corners + np.roll(corners, -1, axis=1)
        square = square + np.roll(square, -1, axis=2)
        m[:, half::step, half::step] = wibbled(square)
        centres = m[:, half::step, half::step]
        corners = m[:, 0::step, 0::step]
        left = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=2)
        m[:, 0::step, half::step] = wibbled(left)
        top = centres + np.roll(centres, 1, axis=2) + corners + np.roll(corners, -1, axis=1)
        m[:, half::step, 0::step] = wibbled(top)
        step //= 2
        wibble /= decay
    m -= m.min(axis=(1, 2), keepdims=True)
    top = m.max(axis=(1, 2), keepdims=True)
    return m / np.where(top > 0, top, 1.0)


def next_power_of_two(n: int) -> int:
    """Smallest power of two ≥ n."""
    return 1 << max(0, int(n - 1).bit_length())
