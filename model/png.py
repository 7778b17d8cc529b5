"""PNG files read without Pillow: the header from the bytes, the pixels by libpng (imagecodecs).

The streaming decode (:func:`audit.model.images.iter_image_batches`) reads every file's header before
any pixel is decoded. For the common case, a PNG at the model's input size with 8 bits a sample, a few
``struct`` reads here replace Pillow's ``Image.open`` (whose Python chunk parser costs more per image
than decoding the pixels), and :func:`pixels` decodes with libpng through imagecodecs, which releases
the GIL, so the decoding threads run in parallel with each other and with the model. The pixels are
Pillow's (tested mode by mode); every file this path does not take goes to Pillow, which decodes it
or names the problem.
"""

from __future__ import annotations

import functools
import logging
import re
import struct
import zlib
from typing import NamedTuple

import numpy as np
from PIL.PngImagePlugin import MAX_TEXT_MEMORY

from audit.extras import is_installed

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Length (13) and type of the first chunk, which the PNG specification requires to be IHDR.
IHDR_START = b"\x00\x00\x00\x0dIHDR"
#: A chunk type as Pillow accepts it (``is_cid``): four word characters.
CHUNK_TYPE = re.compile(rb"\w{4}")
#: Pillow's image mode for each PNG colour type at 8 bits a sample.
MODES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}
#: Modes whose libpng pixels equal Pillow's ``convert`` to the model's channels (3: RGB, 1: L): grey
#: copied to R, G and B, alpha dropped (not composited), palettes expanded, transparency ignored.
DIRECT = {3: ("RGB", "RGBA", "L", "LA", "P"), 1: ("L",)}
#: imagecodecs (libpng) is installed with the ``train`` extra; without it every PNG goes to Pillow.
AVAILABLE = is_installed("imagecodecs")
#: Shortest content Pillow accepts for the chunks it parses; shorter ones it refuses ("Truncated gAMA chunk").
MIN_LENGTH = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9}
#: tRNS: Pillow refuses fewer than 2 bytes on a grey image, 6 on an RGB one.
TRNS_MIN_LENGTH = {0: 2, 2: 6}
#: Chunks Pillow decompresses (text, ICC profile) or reads as animation: a file with one goes to Pillow.
TO_PILLOW = (b"iCCP", b"zTXt", b"iTXt", b"acTL", b"fcTL", b"fdAT")


class PngHeader(NamedTuple):
    """What a PNG's chunks say, read without decoding any pixel."""

    width: int
    height: int
    bit_depth: int
    color_type: int
    interlaced: bool
    #: every chunk up to IEND is complete and passes the checks Pillow makes of its content, and none
    #: is in ``TO_PILLOW``: Pillow would open and load the file, and its pixels are all in IDAT
    plain: bool

    @property
    def mode(self) -> str | None:
        """Pillow's mode for this image when it has 8 bits a sample (``"RGB"``, ``"P"``...), else None."""
        return MODES.get(self.color_type) if self.bit_depth == 8 else None

    def direct(self, height: int, width: int, channels: int) -> bool:
        """Whether :func:`pixels` gives this image at the model's input size exactly as Pillow would:
        a plain file, no resize, 8 bits a sample, not interlaced."""
        return (AVAILABLE and self.plain and (self.height, self.width) == (height, width) and not self.interlaced
                and self.mode in DIRECT.get(channels, ()))


def read_header(data: bytes) -> PngHeader | None:
    """The header of a PNG file's bytes, or None when they are not a well-formed PNG start.

    Every chunk is walked to IEND. Those before the first IDAT must have a valid type and CRC, as
    Pillow's ``Image.open`` requires, else None: Pillow then reports the problem. A chunk whose
    content Pillow would refuse (too short, text beyond its memory limit), one in ``TO_PILLOW``, a
    chunk running past the end or a missing IEND make the header not ``plain``, so the file is
    decoded by Pillow, which refuses it or reads it its own way.
    """
    if len(data) < 33 or not data.startswith(SIGNATURE) or data[8:16] != IHDR_START:
        return None
    width, height, bit_depth, color_type, _, _, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    pos, end, idat, complete, suspect, text = 8, len(data), False, False, False, 0
    while pos + 12 <= end:
        length, kind = struct.unpack_from(">I4s", data, pos)
        stop = pos + 8 + length
        if stop + 4 > end:  # runs past the end of the file
            if not idat:
                return None
            break
        if not idat and (not CHUNK_TYPE.fullmatch(kind) or (  # Pillow checks no IDAT CRC; libpng does
                kind != b"IDAT" and zlib.crc32(data[pos + 4:stop]) != struct.unpack_from(">I", data, stop)[0])):
            return None
        if kind == b"IEND":
            complete = True
            break
        idat = idat or kind == b"IDAT"
        text += length if kind == b"tEXt" else 0
        suspect = suspect or (kind in TO_PILLOW or length < MIN_LENGTH.get(kind, 0)
                              or (kind == b"tRNS" and length < TRNS_MIN_LENGTH.get(color_type, 0))
                              or (idat and kind in (b"IHDR", b"PLTE")) or text > MAX_TEXT_MEMORY)
        pos = stop + 4
    if not idat:
        return None
    plain = complete and not suspect
    return PngHeader(width, height, bit_depth, color_type, interlace != 0, plain)


def pixels(data: bytes, channels: int) -> np.ndarray:
    """uint8 (height, width, channels) of a PNG whose header passed :meth:`PngHeader.direct`.

    libpng stops at the end of the image data, so the chunks after it are checked by
    :func:`read_header` alone.

    Raises whatever imagecodecs raises for a file damaged past its header (the caller then lets
    Pillow name the problem).
    """
    arr = _png_decode()(data)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if channels == 1 or arr.shape[2] >= 3:
        return arr[:, :, :channels]
    return np.repeat(arr[:, :, :1], 3, axis=2)


@functools.cache
def _png_decode():
    from imagecodecs import png_decode

    return png_decode


# libpng's warnings (logged by imagecodecs) are not the user's concern: a file it cannot decode is
# decoded by Pillow, which names the problem. Kept to errors, as absl's logger (audit.model.quiet).
logging.getLogger("imagecodecs").setLevel(logging.ERROR)
