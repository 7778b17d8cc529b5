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
import struct
import zlib
from typing import NamedTuple

import numpy as np

from audit.extras import is_installed

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Length (13) and type of the first chunk, which the PNG specification requires to be IHDR.
IHDR_START = b"\x00\x00\x00\x0dIHDR"
#: Pillow's image mode for each PNG colour type at 8 bits a sample.
MODES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}
#: Modes whose libpng pixels equal Pillow's ``convert`` to the model's channels (3: RGB, 1: L): grey
#: copied to R, G and B, alpha dropped (not composited), palettes expanded, transparency ignored.
DIRECT = {3: ("RGB", "RGBA", "L", "LA", "P"), 1: ("L",)}
#: imagecodecs (libpng) is installed with the ``train`` extra; without it every PNG goes to Pillow.
AVAILABLE = is_installed("imagecodecs")


class PngHeader(NamedTuple):
    """What the chunks before the image data say."""

    width: int
    height: int
    bit_depth: int
    color_type: int
    interlaced: bool
    #: an acTL chunk (animated PNG) precedes the image data
    apng: bool

    @property
    def mode(self) -> str | None:
        """Pillow's mode for this image when it has 8 bits a sample (``"RGB"``, ``"P"``...), else None."""
        return MODES.get(self.color_type) if self.bit_depth == 8 else None

    def direct(self, height: int, width: int, channels: int) -> bool:
        """Whether :func:`pixels` gives this image at the model's input size exactly as Pillow would:
        no resize, 8 bits a sample, not interlaced, not animated."""
        return (AVAILABLE and (self.height, self.width) == (height, width) and not self.interlaced
                and not self.apng and self.mode in DIRECT[channels])


def read_header(data: bytes) -> PngHeader | None:
    """The header of a PNG file's bytes, or None when they are not a well-formed PNG start.

    Every chunk before the first IDAT is walked and its CRC checked, as Pillow's ``Image.open`` does,
    so a file is accepted here only where Pillow would open it. None (not a PNG, a bad CRC, a chunk
    running past the end, no image data) sends the file to Pillow, which reports the problem.
    """
    if len(data) < 33 or not data.startswith(SIGNATURE) or data[8:16] != IHDR_START:
        return None
    width, height, bit_depth, color_type, _, _, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    apng, pos, end = False, 8, len(data)
    while pos + 12 <= end:
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IDAT":
            return PngHeader(width, height, bit_depth, color_type, interlace != 0, apng)
        stop = pos + 8 + length
        if stop + 4 > end or zlib.crc32(data[pos + 4:stop]) != struct.unpack_from(">I", data, stop)[0]:
            return None
        apng = apng or kind == b"acTL"
        pos = stop + 4
    return None


def pixels(data: bytes, channels: int) -> np.ndarray:
    """uint8 (height, width, channels) of a PNG whose header passed :meth:`PngHeader.direct`.

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
