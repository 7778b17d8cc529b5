"""PNG headers read from the bytes (audit.model.png): they agree with Pillow, or send the file to it."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from helpers.image_fixtures import png_chunk
from PIL import Image

from audit.errors import AuditError
from audit.model import png
from audit.model.images import decode_image

RGB = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3)).astype(np.uint8)


def _png(mode: str = "RGB", **kw) -> bytes:
    out = io.BytesIO()
    img = Image.fromarray(RGB).convert(mode) if mode != "I;16" else Image.fromarray(
        np.full((5, 7), 40000, dtype=np.uint16))
    img.save(out, format="PNG", **kw)
    return out.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "I;16"])
def test_header_agrees_with_pillow(mode):
    data = _png(mode)
    head = png.read_header(data)
    with Image.open(io.BytesIO(data)) as img:
        assert (head.width, head.height) == img.size == (7, 5)
        assert head.mode == (img.mode if mode in png.MODES.values() else None)
    assert head.plain and not head.interlaced


def test_pixel_counts_by_hand():
    head = png.read_header(png.SIGNATURE + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 300, 2, 8, 6, 0, 0, 0))
                           + png_chunk(b"IDAT", b""))
    assert (head.width, head.height, head.bit_depth, head.color_type, head.mode) == (300, 2, 8, 6, "RGBA")
    assert not head.plain  # no IEND


def test_bad_crc_before_the_image_data_is_left_to_pillow():
    data = _png("RGB", pnginfo=None)
    text = png_chunk(b"tEXt", b"comment\0hello")
    good = data[:33] + text + data[33:]
    assert png.read_header(good) is not None
    bad = bytearray(good)
    bad[33 + 8 + 3] ^= 0xFF  # a byte of the tEXt data: its CRC no longer matches
    assert png.read_header(bytes(bad)) is None


def test_bad_crc_is_refused_by_pillow_naming_the_file(tmp_path):
    data = _png("RGB")
    bad = bytearray(data[:33] + png_chunk(b"tEXt", b"comment\0hello") + data[33:])
    bad[33 + 8 + 3] ^= 0xFF
    path = tmp_path / "broken.png"
    path.write_bytes(bytes(bad))
    with pytest.raises(AuditError, match="unreadable or truncated image") as info:
        decode_image(path, height=5, width=7)
    assert info.value.path == str(path)


@pytest.mark.parametrize("cut", [8, 20, 33, 40])
def test_truncated_or_foreign_bytes_give_none(cut):
    assert png.read_header(_png("RGB")[:cut]) is None
    assert png.read_header(b"\xff\xd8\xff\xe0" + b"\0" * 64) is None  # a JPEG start
    ihdr_not_first = png.SIGNATURE + png_chunk(b"gAMA", b"\0\0\xb1\x8f") + png_chunk(b"IHDR", b"\0" * 13)
    assert png.read_header(ihdr_not_first) is None


def test_animated_png_is_decoded_by_pillow(tmp_path):
    frames = [Image.fromarray(RGB), Image.fromarray(255 - RGB)]
    path = tmp_path / "anim.png"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert not png.read_header(path.read_bytes()).plain
    got, _, _, _, animated = decode_image(path, height=5, width=7)
    np.testing.assert_array_equal(got, RGB)
    assert animated


def _outcome(path, monkeypatch, *, fast: bool):
    """The pixels, or the kind of error, of decode_image on ``path`` with or without the libpng path."""
    monkeypatch.setattr(png, "AVAILABLE", fast)
    try:
        return decode_image(path, height=5, width=7)[0]
    except AuditError as exc:
        return str(exc).split(": ", 1)[-1].split(" (")[0]


GREY = _png("L")
PLAIN = _png("RGB")
IDAT_AND_IEND = PLAIN[33:]
# (chunks after IHDR, chunks after IDAT, whether the libpng path takes the file); base image RGB unless said
CASES = {
    "gAMA sRGB pHYs cHRM": (png_chunk(b"gAMA", b"\0\0\xb1\x8f") + png_chunk(b"sRGB", b"\0")
                            + png_chunk(b"pHYs", b"\0\0\x0b\x13\0\0\x0b\x13\x01")
                            + png_chunk(b"cHRM", b"\1" * 32), b"", True),
    "tEXt before and after": (png_chunk(b"tEXt", b"k\0v"), png_chunk(b"tEXt", b"after\0v"), True),
    "truncated gAMA": (png_chunk(b"gAMA", b"\0\1"), b"", False),
    "empty sRGB": (png_chunk(b"sRGB", b""), b"", False),
    "short pHYs": (png_chunk(b"pHYs", b"\0" * 5), b"", False),
    "short cHRM": (png_chunk(b"cHRM", b"\0" * 30), b"", False),
    "short tRNS on RGB": (png_chunk(b"tRNS", b"\0" * 4), b"", False),
    "iCCP, bad method": (png_chunk(b"iCCP", b"name\0\x05xyz"), b"", False),
    "zTXt, bad method": (png_chunk(b"zTXt", b"k\0\x05xyz"), b"", False),
    "fcTL without acTL": (png_chunk(b"fcTL", b"\0" * 10), b"", False),
    "truncated gAMA after the image": (b"", png_chunk(b"gAMA", b"\0\1"), False),
    "chunk past the end after the image": (b"", struct.pack(">I", 1000) + b"tEXtabc", False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_libpng_path_takes_a_file_only_where_pillow_reads_it_the_same(tmp_path, monkeypatch, case):
    before, after, taken = CASES[case]
    idat, iend = IDAT_AND_IEND[:-12], IDAT_AND_IEND[-12:]
    path = tmp_path / "x.png"
    path.write_bytes(PLAIN[:33] + before + idat + after + (iend if not after.startswith(struct.pack(">I", 1000))
                                                             else b""))
    assert png.read_header(path.read_bytes()).direct(5, 7, 3) == taken
    fast, slow = _outcome(path, monkeypatch, fast=True), _outcome(path, monkeypatch, fast=False)
    if isinstance(slow, str):
        assert fast == slow  # both refuse, with Pillow's message
    else:
        np.testing.assert_array_equal(fast, slow)


def test_short_trns_on_grey_and_missing_iend_go_to_pillow(tmp_path, monkeypatch):
    short_trns = GREY[:33] + png_chunk(b"tRNS", b"\0") + GREY[33:]
    assert not png.read_header(short_trns).plain
    assert not png.read_header(PLAIN[:-12]).plain  # no IEND: Pillow reads it
    assert png.read_header(PLAIN + b"garbage after IEND").plain
    path = tmp_path / "no-iend.png"
    path.write_bytes(PLAIN[:-12])
    np.testing.assert_array_equal(_outcome(path, monkeypatch, fast=True), _outcome(path, monkeypatch, fast=False))


def test_other_channel_counts_never_take_the_libpng_path():
    assert not png.read_header(PLAIN).direct(5, 7, 2)
