"""The batched operations against scipy and Pillow, which the reference called per image."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import ndimage

from audit.robustness import ops


def clipped_zoom_scipy(img, zoom):
    """The reference's clipped_zoom, per image, with scipy (the oracle)."""
    h = img.shape[0]
    ch = int(np.ceil(h / zoom))
    top = (h - ch) // 2
    out = ndimage.zoom(img[top:top + ch, top:top + ch], (zoom, zoom, 1), order=1)
    trim = (out.shape[0] - h) // 2
    return out[trim:trim + h, trim:trim + h]


@pytest.mark.parametrize("zoom", [1.0, 1.01, 1.06, 1.13, 1.25, 1.75, 2.25])
def test_zoom_operator_matches_scipy_zoom(zoom):
    x = np.random.default_rng(0).random((3, 32, 32, 3)).astype(np.float32)
    op = ops.separable_operator(ops.zoom_matrix(32, zoom), ops.zoom_matrix(32, zoom))
    got = ops.apply_operator(x, op)
    for i in range(3):
        assert_allclose(got[i], clipped_zoom_scipy(x[i].astype(np.float64), zoom), atol=1e-5)


def test_correlation_operator_matches_scipy_mirror():
    x = np.random.default_rng(1).random((2, 32, 32, 3)).astype(np.float32)
    kernel = ops.disk_kernel(1.5, 0.1)
    got = ops.apply_operator(x, ops.correlation_operator(kernel, 32, 32))
    for i in range(2):
        for ch in range(3):
            want = ndimage.correlate(x[i, :, :, ch].astype(np.float64), kernel, mode="mirror")
            assert_allclose(got[i, :, :, ch], want, atol=1e-5)


@pytest.mark.parametrize("border, mode", [(ops.reflect101, "mirror"), (ops.reflect, "reflect")])
def test_bilinear_matches_map_coordinates(border, mode):
    rng = np.random.default_rng(2)
    x = rng.random((2, 16, 16, 3))
    rows = rng.uniform(-3, 18, size=(2, 16, 16))
    cols = rng.uniform(-3, 18, size=(2, 16, 16))
    got = ops.bilinear(x, rows, cols, border)
    for i in range(2):
        for ch in range(3):
            want = ndimage.map_coordinates(x[i, :, :, ch], [rows[i], cols[i]], order=1, mode=mode)
            assert_allclose(got[i, :, :, ch], want, atol=1e-9)


def test_border_index_maps():
    i = np.arange(-5, 9)
    assert list(ops.reflect101(i, 4)) == [1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2]
    assert list(ops.reflect(i, 4)) == [3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0]
    assert list(ops.clamp(i, 4)) == [0, 0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3, 3]


def test_pil_box_resize_matches_pillow():
    from PIL import Image

    x = np.random.default_rng(3).integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    for size in (30, 28, 27, 24, 20, 13):
        got = ops.pil_box_resize(x, size, size)
        back = ops.pil_box_resize(got, 32, 32)
        for i in range(4):
            small = Image.fromarray(x[i]).resize((size, size), Image.BOX)
            np.testing.assert_array_equal(got[i], np.asarray(small))
            np.testing.assert_array_equal(back[i], np.asarray(small.resize((32, 32), Image.BOX)))


def test_plasma_fractal_range_and_shape():
    m = ops.plasma_fractal(3, 32, 2.0, np.random.default_rng(0))
    assert m.shape == (3, 32, 32)
    assert_allclose(m.min(axis=(1, 2)), 0) and assert_allclose(m.max(axis=(1, 2)), 1)
    assert ops.next_power_of_two(32) == 32 and ops.next_power_of_two(33) == 64
    with pytest.raises(ValueError, match="power of two"):
        ops.plasma_fractal(1, 24, 2.0, np.random.default_rng(0))


def test_motion_blur_matches_a_per_image_tap_loop():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (20, 16, 16, 3)).astype(np.float32)
    angles = rng.uniform(-135, 45, 20)
    got = ops.motion_blur(x, 6, 2, angles)
    dx, dy = ops.motion_offsets(13, angles)
    weights = np.exp(-np.arange(13) ** 2 / 8.0)
    weights /= weights.sum()
    for n in range(20):
        want = np.zeros((16, 16, 3))
        for t in range(13):  # tap t reads (x + dx, y + dy), edge pixels repeated
            rows = np.clip(np.arange(16) + dy[n, t], 0, 15)
            cols = np.clip(np.arange(16) + dx[n, t], 0, 15)
            want += weights[t] * x[n][rows][:, cols]
        assert_allclose(got[n], want, atol=1e-3)
