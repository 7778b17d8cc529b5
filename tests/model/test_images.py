"""Image folders and manifests, and their streaming decode (Pillow and libpng; no TensorFlow)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from helpers.image_fixtures import CLASSES, load_uint8_folder, write_image_folder, write_png
from PIL import Image, ImageFile

from audit.errors import AuditError
from audit.model import images as im
from audit.model import png
from audit.model.images import (DecodeStats, decode_image, is_image_data, iter_image_batches, load_image_set,
                                read_class_names)


@pytest.fixture
def folder(tmp_path) -> Path:
    return write_image_folder(tmp_path / "imgs", per_class=5)


def test_folder_follows_image_dataset_from_directory(folder):
    s = load_image_set(folder)
    assert s.class_names == CLASSES and s.kind == "folder"
    assert s.paths[:2] == ("bird/000.png", "bird/001.png") and len(s) == 15
    assert s.labels.tolist() == [0] * 5 + [1] * 5 + [2] * 5


def test_files_found_recursively_other_files_skipped(folder):
    (folder / "cat" / "sub").mkdir()
    Image.new("RGB", (8, 8)).save(folder / "cat" / "sub" / "x.JPG")
    (folder / "cat" / "notes.txt").write_text("not an image")
    (folder / "cat" / ".hidden.png").write_bytes(b"")
    s = load_image_set(folder)
    assert "cat/sub/x.JPG" in s.paths and len(s) == 16


def test_class_names_file_gives_the_output_order(folder, tmp_path):
    names = tmp_path / "classes.txt"
    names.write_text("dog\ncat\nbird\n")
    s = load_image_set(folder, class_names=read_class_names(names))
    assert s.class_names == ("dog", "cat", "bird")
    assert s.labels[s.paths.index("dog/000.png")] == 0 and s.labels[s.paths.index("bird/000.png")] == 2


def test_class_folder_not_among_the_class_names(folder):
    with pytest.raises(AuditError, match="class folder 'dog' is not among the 2 class names"):
        load_image_set(folder, class_names=("bird", "cat"))


def test_empty_class_folder(folder):
    (folder / "emu").mkdir()
    (folder / "emu" / "readme.txt").write_text("x")
    with pytest.raises(AuditError, match="class folder 'emu' holds no image files") as info:
        load_image_set(folder)
    assert info.value.path.endswith("emu")


def test_manifest_paths_relative_to_the_manifest(folder, tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,label\nimgs/cat/000.png,cat\n./imgs/dog/001.png,dog\n")
    s = load_image_set(manifest)
    assert s.paths == ("imgs/cat/000.png", "imgs/dog/001.png") and s.class_names == ("cat", "dog")
    assert s.kind == "manifest" and is_image_data(manifest)


def test_parquet_manifest(folder, tmp_path):
    import pandas as pd

    pd.DataFrame({"path": ["imgs/cat/000.png"], "label": ["cat"]}).to_parquet(tmp_path / "m.parquet")
    s = load_image_set(tmp_path / "m.parquet", class_names=("bird", "cat"))
    assert s.labels.tolist() == [1]


@pytest.mark.parametrize("bad", ["../outside.png", "/etc/passwd", "imgs/../../x.png", "C:/x.png"])
def test_manifest_path_escaping_its_folder(folder, tmp_path, bad):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"path,label\nimgs/cat/000.png,cat\n{bad},cat\n")
    with pytest.raises(AuditError, match="escapes the manifest's folder") as info:
        load_image_set(manifest)
    assert "row 1" in str(info.value) and info.value.path == str(manifest)


def test_manifest_symlink_escaping_its_folder(folder, tmp_path):
    outside = tmp_path / "outside.png"
    Image.new("RGB", (8, 8)).save(outside)
    (folder / "link.png").symlink_to(outside)
    manifest = folder / "manifest.csv"
    manifest.write_text("path,label\nlink.png,cat\n")
    with pytest.raises(AuditError, match="escapes the manifest's folder"):
        load_image_set(manifest)


def test_manifest_missing_and_duplicate_images_listed(folder, tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,label\nimgs/cat/000.png,cat\nimgs/cat/nope.png,cat\nimgs/cat/gone.png,cat\n")
    with pytest.raises(AuditError, match=r"2 image\(s\) listed in the manifest do not exist, first: "
                                         r"imgs/cat/nope.png, imgs/cat/gone.png"):
        load_image_set(manifest)
    manifest.write_text("path,label\nimgs/cat/000.png,cat\nimgs/cat/000.png,cat\n")
    with pytest.raises(AuditError, match="listed more than once in the manifest, first: imgs/cat/000.png"):
        load_image_set(manifest)


def test_manifest_bad_columns_and_labels(folder, tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,class\nimgs/cat/000.png,cat\n")
    with pytest.raises(AuditError, match="columns 'path' and 'label'; columns present: 'file', 'class'"):
        load_image_set(manifest)
    manifest.write_text("path,label\nimgs/cat/000.png,kat\n")
    with pytest.raises(AuditError, match="label in row 0 'kat' is not among the 2 class names"):
        load_image_set(manifest, class_names=("cat", "dog"))


def test_decode_converts_grey_and_rgba_and_counts_them(folder):
    s = load_image_set(folder)
    stats = DecodeStats()
    batches = list(iter_image_batches(s, height=8, width=8, batch_size=4, stats=stats))
    got = np.concatenate([b.images for b in batches])
    assert got.dtype == np.uint8 and got.shape == (15, 8, 8, 3)
    np.testing.assert_array_equal(got, load_uint8_folder(folder, s.paths))
    assert stats.describe()["converted"] == {"L->RGB": 1, "RGBA->RGB": 1}
    assert stats.resized == 3 and stats.n == 15
    assert [b.start for b in batches] == [0, 4, 8, 12]
    assert np.concatenate([b.labels for b in batches]).tolist() == s.labels.tolist()


def test_greyscale_model_gets_one_channel(folder):
    arr, _, converted, _, _ = decode_image(folder / "cat" / "000.png", height=8, width=8, channels=1)
    assert arr.shape == (8, 8, 1) and converted == "RGB"


def test_image_set_hash_is_one_hash_over_sorted_paths_and_file_hashes(folder):
    s = load_image_set(folder)
    stats = DecodeStats()
    for _ in iter_image_batches(s, height=8, width=8, batch_size=7, stats=stats):
        pass
    lines = "".join(f"{p}\t{hashlib.sha256((folder / p).read_bytes()).hexdigest()}\n" for p in sorted(s.paths))
    assert stats.image_set_sha256() == hashlib.sha256(lines.encode()).hexdigest()


def test_truncated_image_named(folder):
    bad = folder / "cat" / "002.png"
    bad.write_bytes(bad.read_bytes()[:60])
    with pytest.raises(AuditError, match="unreadable or truncated image") as info:
        list(iter_image_batches(load_image_set(folder), height=8, width=8, batch_size=4))
    assert info.value.path == str(folder.resolve() / "cat" / "002.png")


def test_not_an_image_named(folder):
    (folder / "dog" / "fake.jpg").write_text("this is text")
    with pytest.raises(AuditError, match="unreadable or truncated image") as info:
        list(iter_image_batches(load_image_set(folder), height=8, width=8))
    assert info.value.path.endswith("fake.jpg")


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares ``width`` x ``height`` pixels and holds (almost) no data."""
    return write_png(path, width, height, b"\0" * 10)


@pytest.mark.parametrize("side", [10_000, 50_000])  # above our limit; the second above Pillow's own
def test_decompression_bomb_refused_before_decoding(tmp_path, monkeypatch, side):
    bomb = _png_header_only(tmp_path / "bomb.png", side, side)
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(1))
    with pytest.raises(AuditError, match="refused before decoding") as info:
        decode_image(bomb, height=8, width=8)
    assert info.value.path == str(bomb) and not decoded


def test_pixel_limit_is_checked_from_the_header(folder, monkeypatch):
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    with pytest.raises(AuditError, match=r"8 x 8 = 64 pixels, above the limit of 63"):
        decode_image(folder / "cat" / "000.png", height=8, width=8, max_pixels=63)


def test_sixteen_bit_images_refused(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((4, 4), 40000, dtype=np.uint16)).save(path)
    with pytest.raises(AuditError, match="16-bit or floating-point"):
        decode_image(path, height=4, width=4)


def test_jpeg_bmp_gif_decoded(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, size=(16, 16, 3)).astype(np.uint8)
    for ext in ("jpg", "bmp", "gif"):
        Image.fromarray(rgb).save(tmp_path / f"x.{ext}")
        arr, *_ = decode_image(tmp_path / f"x.{ext}", height=16, width=16)
        assert arr.shape == (16, 16, 3)
    bmp, *_ = decode_image(tmp_path / "x.bmp", height=16, width=16)
    np.testing.assert_array_equal(bmp, rgb)


def test_streaming_decodes_a_bounded_number_of_batches_ahead(folder, monkeypatch):
    s = load_image_set(folder)
    decoded = []
    real = im.decode_image
    monkeypatch.setattr(im, "decode_image", lambda *a, **k: (decoded.append(1), real(*a, **k))[1])
    it = iter_image_batches(s, height=8, width=8, batch_size=1, workers=2, prefetch=1)
    next(it)
    import time

    time.sleep(0.3)
    assert len(decoded) <= 1 + 2 + 1  # the batch yielded + workers + prefetch
    assert sum(1 for _ in it) == 14


def test_thumbnail_fits_the_box(folder):
    import base64
    import io

    uri = im.thumbnail_uri(folder / "bird" / "001.png", size=64)
    png = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert png.size == (64, 64)


PNG_CASES = ["RGB", "RGBA", "L", "LA", "P", "P-transparent", "RGB-transparent", "L-transparent", "1", "optimized"]


def _png_case(path: Path, case: str) -> Path:
    """An 8 x 6 PNG of one colour type / transparency / encoder setting."""
    img = Image.fromarray(np.random.default_rng(1).integers(0, 256, size=(6, 8, 3)).astype(np.uint8))
    kw = {}
    if case.endswith("-transparent"):
        case, kw["transparency"] = case.split("-")[0], {"P": 3, "L": 5, "RGB": (1, 2, 3)}[case.split("-")[0]]
    if case == "optimized":
        case, kw["optimize"] = "P", True
    img.convert(case).save(path, **kw)
    return path


@pytest.mark.parametrize("case", PNG_CASES)
@pytest.mark.parametrize("channels", [3, 1])
def test_libpng_path_gives_pillows_pixels(tmp_path, monkeypatch, case, channels):
    path = _png_case(tmp_path / "x.png", case)
    with Image.open(path) as img:
        img = img.convert("RGBA") if img.mode == "P" and "transparency" in img.info else img
        want = np.asarray(img.convert("RGB" if channels == 3 else "L")).reshape(6, 8, channels)
    direct = png.read_header(path.read_bytes()).direct(6, 8, channels)
    assert direct == (case != "1" and (channels == 3 or case in ("L", "L-transparent")))
    if direct:  # prove it: Pillow would fail
        monkeypatch.setattr(im.Image, "open", lambda *a, **k: pytest.fail("Pillow opened a libpng-path PNG"))
    got, *_ = decode_image(path, height=6, width=8, channels=channels)
    np.testing.assert_array_equal(got, want)


def test_without_imagecodecs_every_png_goes_to_pillow(folder, monkeypatch):
    s = load_image_set(folder)
    fast = next(iter_image_batches(s, height=8, width=8, batch_size=64)).images
    monkeypatch.setattr(png, "AVAILABLE", False)
    opened = []
    real_open = im.Image.open
    monkeypatch.setattr(im.Image, "open", lambda *a, **k: (opened.append(1), real_open(*a, **k))[1])
    plain = next(iter_image_batches(s, height=8, width=8, batch_size=64)).images
    np.testing.assert_array_equal(fast, plain)
    assert len(opened) == len(s) == len(fast)


def _interlaced_png(path: Path, rgb: np.ndarray) -> Path:
    """An Adam7-interlaced 8-bit RGB PNG (Pillow does not write them), every row with filter 0."""
    raw = b""
    for y0, x0, dy, dx in [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2),
                           (1, 0, 2, 1)]:
        for row in rgb[y0::dy, x0::dx]:
            raw += b"\0" + row.tobytes() if row.size else b""
    h, w = rgb.shape[:2]
    return write_png(path, w, h, raw, interlace=1)


def test_interlaced_png_goes_to_pillow_silently(tmp_path, capfd):
    rgb = np.random.default_rng(2).integers(0, 256, size=(9, 7, 3)).astype(np.uint8)
    path = _interlaced_png(tmp_path / "adam7.png", rgb)
    assert png.read_header(path.read_bytes()).interlaced
    got, *_ = decode_image(path, height=9, width=7)
    np.testing.assert_array_equal(got, rgb)
    assert capfd.readouterr().err == ""


def test_damaged_png_data_falls_back_to_pillow_naming_the_file(folder):
    bad = folder / "dog" / "004.png"
    raw = bytearray(bad.read_bytes())
    data = raw.index(b"IDAT") + 4
    raw[data + 2:data + 42] = b"\0" * 40  # every chunk intact but the image data
    bad.write_bytes(bytes(raw))
    assert png.read_header(bytes(raw)).direct(8, 8, 3)
    with pytest.raises(AuditError, match="unreadable or truncated image") as info:
        list(iter_image_batches(load_image_set(folder), height=8, width=8))
    assert info.value.path.endswith("dog/004.png")
