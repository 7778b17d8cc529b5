"""Each corruption against a statistic worked out from its parameters, plus determinism, shapes,
dtypes and the order of severities."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from audit.robustness import CORRUPTIONS, PARAMS, corrupt
from audit.robustness.corruptions import MSG_NAME, corrupt_blocks, jpeg_bytes, to_grey
from audit.robustness.frost import FROST_MEAN_RGB, frost_texture
from audit.robustness.ops import disk_kernel, gaussian_taps, motion_offsets


def grey(n=64, level=128, size=32):
    return np.full((n, size, size, 3), level, dtype=np.uint8)


def structured(n=8, seed=0, size=32):
    """Images with edges (gradients, a sinusoid, a disk) and a fine texture, varied per image."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    out = []
    for _ in range(n):
        f, g = rng.uniform(3, 8, 2)
        r = 0.5 + 0.35 * np.sin(f * xx) * np.cos(g * yy)
        gr = 0.2 + 0.6 * yy
        b = np.where((xx - rng.uniform(.3, .7)) ** 2 + (yy - .5) ** 2 < .09, 0.85, 0.25)
        out.append(np.stack([r, gr, b], -1) + rng.uniform(-0.08, 0.08, (size, size, 3)))  # fine texture
    return (np.clip(np.array(out), 0, 1) * 255).astype(np.uint8)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_shape_dtype_and_determinism(name):
    x = structured(4)
    a = corrupt(x, name, 3, seed=5)
    assert a.shape == x.shape and a.dtype == np.uint8
    assert_array_equal(a, corrupt(x, name, 3, seed=5))
    assert_array_equal(x, structured(4))  # input untouched


@pytest.mark.parametrize("name", [n for n in CORRUPTIONS if n not in ("jpeg_compression", "pixelate",
                                                                       "defocus_blur", "zoom_blur",
                                                                       "brightness", "contrast")])
def test_random_corruptions_depend_on_the_seed(name):
    x = structured(4)
    assert not np.array_equal(corrupt(x, name, 3, seed=0), corrupt(x, name, 3, seed=1))


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_other_image_sizes(name):
    x = structured(2, size=48)
    out = corrupt(x, name, 5)
    assert out.shape == (2, 48, 48, 3) and out.dtype == np.uint8


def test_empty_batch_and_bad_arguments():
    assert corrupt(np.zeros((0, 32, 32, 3), np.uint8), "fog", 1).shape == (0, 32, 32, 3)
    with pytest.raises(ValueError, match="must be one of"):
        corrupt(grey(1), "gaussian", 1)
    assert MSG_NAME.split("{")[0] in "The 'name' parameter of corrupt must be one of "
    for severity in (0, 6, 2.0, True):
        with pytest.raises(ValueError, match="severity"):
            corrupt(grey(1), "fog", severity)
    with pytest.raises(ValueError, match="seed"):
        corrupt(grey(1), "fog", 1, seed=-1)
    with pytest.raises(ValueError, match="uint8"):
        corrupt(grey(1).astype(np.float32), "fog", 1)
    with pytest.raises(ValueError, match="uint8"):
        corrupt(grey(1)[..., :2], "fog", 1)


# --- grey-scale images (a 1-channel model's inputs) -------------------------------------------------


def test_to_grey_is_pillows_l_conversion():
    from PIL import Image

    x = np.random.default_rng(0).integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
    x[0, :256] = np.arange(256)[:, None]  # every level on the grey axis: R = G = B = v gives v
    assert_array_equal(to_grey(x)[..., 0], np.asarray(Image.fromarray(x).convert("L")))
    assert_array_equal(to_grey(x[0, :256])[:, 0], np.arange(256))


@pytest.mark.parametrize("name", ["gaussian_noise", "fog", "frost", "contrast", "jpeg_compression"])
def test_grey_images_are_corrupted_as_rgb_and_converted_back(name, monkeypatch):
    from audit.robustness import corruptions

    monkeypatch.setattr(corruptions, "DEFAULT_BLOCK", 1)  # blocks of 4 images of 16 x 16
    x = structured(10, size=16)
    g = to_grey(x)
    out = corrupt(g, name, 3, seed=4)
    assert out.shape == g.shape and out.dtype == np.uint8
    assert_array_equal(out, to_grey(corrupt(np.repeat(g, 3, axis=-1), name, 3, seed=4)))
    step = corruptions.block_images(name, 16, 16)
    assert step == 4
    blocks = [g[i:i + step] for i in range(0, len(g), step)]  # the Dask cells' path: the same images
    assert_array_equal(np.concatenate(list(corrupt_blocks(blocks, name, 3, seed=4))), out)


# --- worked statistics -------------------------------------------------------------------------------


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_gaussian_noise_sigma(severity):
    sigma = PARAMS["gaussian_noise"][severity - 1]
    diff = corrupt(grey(), "gaussian_noise", severity).astype(float) - 128
    # σ on [0, 1] is 255·σ levels; truncation adds a uniform error (sd 1/√12 levels) and a −½ mean
    assert_allclose(diff.std(), np.hypot(255 * sigma, 1 / np.sqrt(12)), rtol=0.02)
    assert_allclose(diff.mean(), -0.5, atol=0.2)


@pytest.mark.parametrize("severity", [1, 5])
def test_shot_noise_poisson_variance(severity):
    c = PARAMS["shot_noise"][severity - 1]
    out = corrupt(grey(), "shot_noise", severity).astype(float)
    p = 128 / 255
    # Poisson(p·c)/c has mean p and variance p / c on [0, 1]
    assert_allclose((out / 255).var(), p / c, rtol=0.05)
    assert_allclose(out.mean(), 128 - 0.5, atol=0.5)


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_impulse_noise_fraction(severity):
    amount = PARAMS["impulse_noise"][severity - 1]
    out = corrupt(grey(), "impulse_noise", severity)
    n = out.size
    salt, pepper = (out == 255).sum() / n, (out == 0).sum() / n
    assert_allclose(salt + pepper, amount, rtol=0.05)
    assert_allclose(salt, amount / 2, rtol=0.1)
    assert ((out == 128) | (out == 0) | (out == 255)).all()


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_contrast_factor(severity):
    c = PARAMS["contrast"][severity - 1]
    x = structured(4)
    out = corrupt(x, "contrast", severity).astype(float)
    xs = x.astype(float)
    # each channel of each image: std scaled by c, mean kept (up to the truncation, ≤ 1 level)
    ratio = out.std(axis=(1, 2)) / xs.std(axis=(1, 2))
    assert_allclose(ratio, c, atol=0.02)
    assert np.abs(out.mean(axis=(1, 2)) - xs.mean(axis=(1, 2))).max() <= 1.0


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_brightness_shift_on_grey(severity):
    c = PARAMS["brightness"][severity - 1]
    out = corrupt(grey(1, level=100), "brightness", severity)
    assert (out == int(100 + 255 * c)).all()  # V + c, truncated


def test_brightness_matches_hsv_round_trip():
    import colorsys

    x = np.random.default_rng(3).integers(0, 256, size=(1, 8, 8, 3), dtype=np.uint8)
    x[0, 0, 0] = 0  # a black pixel: S = 0, V' = c
    c = PARAMS["brightness"][4]
    out = corrupt(x, "brightness", 5)
    for pixel, got in zip(x.reshape(-1, 3) / 255, out.reshape(-1, 3)):
        h, s, v = colorsys.rgb_to_hsv(*pixel)
        want = np.array(colorsys.hsv_to_rgb(h, s, min(v + c, 1.0)))
        assert np.abs(np.floor(want * 255 + 1e-3) - got).max() <= 1


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_pixelate_block_size_and_pillow(severity):
    from PIL import Image

    c = PARAMS["pixelate"][severity - 1]
    x = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    out = corrupt(x, "pixelate", severity)
    for i in range(3):
        want = Image.fromarray(x[i]).resize((int(32 * c),) * 2, Image.BOX).resize((32, 32), Image.BOX)
        assert_array_equal(out[i], np.asarray(want))
    # box up-sampling repeats each of the int(32·c) columns: that many runs of equal columns
    columns = out[0].transpose(1, 0, 2).reshape(32, -1)
    runs = 1 + sum(not np.array_equal(columns[j], columns[j - 1]) for j in range(1, 32))
    assert runs == int(32 * c)


def _ijg_quality(table_0: list[int]) -> int:
    """The IJG quality whose scaled standard luminance table is ``table_0`` (natural order)."""
    std = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57,
                    69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64,
                    81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99])
    for q in range(1, 101):
        scale = 5000 // q if q < 50 else 200 - 2 * q
        want = np.clip((std * scale + 50) // 100, 1, 255)
        if sorted(want) == sorted(table_0):
            return q
    raise AssertionError("no IJG quality matches")


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_jpeg_quality_read_back(severity):
    from PIL import Image

    quality = PARAMS["jpeg_compression"][severity - 1]
    x = structured(2)
    data = jpeg_bytes(x[0], quality)
    with Image.open(io.BytesIO(data)) as im:
        assert _ijg_quality(list(im.quantization[0])) == quality
        decoded = np.asarray(im.convert("RGB"))
    assert_array_equal(corrupt(x, "jpeg_compression", severity)[0], decoded)


def test_defocus_kernel_worked():
    # radius .3: the disk is the centre pixel alone, so the kernel is OpenCV's 3-tap Gaussian (σ .4)
    # outer product: g = exp(−1/(2·.16)) = .0439 at ±1, normalised
    k = disk_kernel(0.3, 0.4)
    g = np.exp(-1 / (2 * 0.16))
    taps = np.array([g, 1, g]) / (1 + 2 * g)
    assert_allclose(gaussian_taps(3, 0.4), taps)
    centre = k.shape[0] // 2
    assert_allclose(k[centre - 1:centre + 2, centre - 1:centre + 2], np.outer(taps, taps), atol=1e-12)
    assert_allclose(k.sum(), 1)
    # radius 1: centre and 4 neighbours (x² + y² ≤ 1), each 1/5 before the alias blur
    assert (disk_kernel(1, 1e-3)[centre - 1:centre + 2, centre - 1:centre + 2] > 0.19).sum() == 5
    # a constant image stays constant
    assert (corrupt(grey(2, 77), "defocus_blur", 5) == 77).all()


def test_motion_blur_offsets_worked():
    dx, dy = motion_offsets(13, np.array([0.0, 45.0, -45.0, 90.0]))
    assert_array_equal(dx[0], np.arange(13)) and not dy[0].any()
    diag = np.ceil(np.arange(13) / np.sqrt(2) - 0.5)
    assert_array_equal(dx[1], diag) and assert_array_equal(dy[1], diag)
    assert_array_equal(dy[2], -diag)
    assert_array_equal(dy[3], np.arange(13)) and not dx[3].any()
    assert (corrupt(grey(2, 200), "motion_blur", 5) == 200).all()


def test_zoom_blur_keeps_constant_images():
    assert (corrupt(grey(2, 90), "zoom_blur", 5) == 90).all()


def test_glass_blur_severity_1_permutes_pixels():
    # σ .05 leaves the Gaussian an identity (radius int(4·.05 + .5) = 0), so only the swaps act
    x = np.random.default_rng(1).integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    out = corrupt(x, "glass_blur", 1)
    assert not np.array_equal(out, x)
    for a, b in zip(x, out):
        assert sorted(map(tuple, a.reshape(-1, 3))) == sorted(map(tuple, b.reshape(-1, 3)))


def test_frost_blend_and_texture():
    tile = frost_texture(32)
    assert tile.shape == (256, 256, 3) and tile.min() >= 0 and tile.max() <= 255
    assert_allclose(tile.mean(axis=(0, 1)), FROST_MEAN_RGB, atol=3)
    # crops spread like the reference photographs' 32-px crops (grey SD 11-24, neighbour difference 3-13)
    rng = np.random.default_rng(0)
    grey = tile.mean(-1)
    crops = [grey[r:r + 32, c:c + 32] for r, c in zip(rng.integers(0, 224, 50), rng.integers(0, 224, 50))]
    assert 11 <= np.mean([c.std() for c in crops]) <= 24
    assert 3 <= np.abs(np.diff(grey, axis=1)).mean() <= 13
    # on black images the output is the frost alone times its weight
    out = corrupt(np.zeros((200, 32, 32, 3), np.uint8), "frost", 1).astype(float)
    assert_allclose(out.mean(axis=(0, 1, 2)), 0.2 * np.array(FROST_MEAN_RGB), atol=3)


def test_fog_keeps_the_range():
    out = corrupt(grey(4, 255), "fog", 5)
    # x·max/(max + s) + s·fractal·max/(max + s) with max = 1: at most 1
    assert out.max() <= 255 and out.min() >= int(255 / 2.5)


def test_elastic_severity_1_is_affine_only():
    # α = σ = 0 at severity 1: a constant image stays constant whatever the affine
    assert (corrupt(grey(3, 60), "elastic_transform", 1) == 60).all()


# --- severities ---------------------------------------------------------------------------------------

#: Corruptions whose reference parameters grow with severity on every axis, so the distortion does too.
#: Not in the list, as in the reference: glass_blur (σ rises over 1–3, which smooths the shuffled
#: pixels back, and restarts at 4), elastic_transform (severity 1 is the largest pure affine jitter),
#: motion_blur 3→4 (same σ 2; ImageMagick's one-sided kernel makes radius 6 and 8 the same blur),
#: snow and frost 3→4 (near-equal parameters, other random draws).
MONOTONE = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "zoom_blur", "fog",
            "brightness", "contrast", "pixelate", "jpeg_compression")


def _decorrelation(x, out):
    a = x.reshape(len(x), -1).astype(float)
    b = out.reshape(len(x), -1).astype(float)
    return float(np.mean([1 - np.corrcoef(p, q)[0, 1] for p, q in zip(a, b)]))


@pytest.mark.parametrize("name", MONOTONE)
def test_severity_monotone(name):
    x = structured(8)
    values = [_decorrelation(x, corrupt(x, name, s)) for s in range(1, 6)]
    assert all(b > a for a, b in zip(values, values[1:])), values


@pytest.mark.parametrize("name", sorted(set(CORRUPTIONS) - set(MONOTONE)))
def test_severity_5_distorts_more_than_none(name):
    x = structured(8)
    assert _decorrelation(x, corrupt(x, name, 5)) > 0.001


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise", "impulse_noise"])
def test_noise_does_not_depend_on_the_block_size(name, monkeypatch):
    import audit.robustness.corruptions as module

    x = structured(10)
    whole = corrupt(x, name, 4, seed=3)
    monkeypatch.setattr(module, "DEFAULT_BLOCK", 3)
    np.testing.assert_array_equal(corrupt(x, name, 4, seed=3), whole)


@pytest.mark.parametrize("name", sorted(__import__("audit.robustness.corruptions", fromlist=["DRAWLESS"]).DRAWLESS))
def test_drawless_corruptions_draw_nothing_and_give_the_same_images_on_threads(name, monkeypatch):
    import audit.robustness.corruptions as module

    x = structured(40, seed=2)
    module._FUNCTIONS[name](x[:3], PARAMS[name][2], None)  # no generator: a draw would raise
    monkeypatch.setattr(module, "DEFAULT_BLOCK", 8)  # 8 images of 32×32 per block: 5 blocks
    monkeypatch.setattr(module, "THREADS", 1)
    one = corrupt(x, name, 3, seed=1)
    monkeypatch.setattr(module, "THREADS", 3)
    np.testing.assert_array_equal(corrupt(x, name, 3, seed=1), one)
    np.testing.assert_array_equal(one[:8], module._FUNCTIONS[name](x[:8], PARAMS[name][2], None))


@pytest.mark.parametrize("name", ["glass_blur", "motion_blur", "snow", "frost", "elastic_transform"])
def test_split_corruptions_give_the_same_images_on_threads(name, monkeypatch):
    # Their draws are made block by block on the calling thread, in order: the generator's stream is the
    # serial one, so the images are too.
    import audit.robustness.corruptions as module

    x = structured(24, seed=4)
    monkeypatch.setattr(module, "DEFAULT_BLOCK", 4)
    monkeypatch.setattr(module, "BLOCK", {})
    monkeypatch.setattr(module, "THREADS", 1)
    one = corrupt(x, name, 2, seed=5)
    monkeypatch.setattr(module, "THREADS", 3)
    np.testing.assert_array_equal(corrupt(x, name, 2, seed=5), one)
