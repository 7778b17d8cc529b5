"""Recognise what a file is from its first and last bytes, whatever its name says."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from audit.errors import AuditError

#: How many bytes of a file are read to recognise it.
SNIFF_BYTES = 8192

#: (leading bytes, kind, description); the first match wins.
MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"PK\x03\x04", "zip", "a ZIP archive"),
    (b"PK\x05\x06", "zip", "an empty ZIP archive"),
    (b"\x93NUMPY", "npy", "a single NumPy .npy array"),
    (b"PAR1", "parquet", "a Parquet file"),
    (b"\x1f\x8b", "gzip", "a gzip-compressed file (decompress it first)"),
    (b"BZh", "bzip2", "a bzip2-compressed file (decompress it first)"),
    (b"\xfd7zXZ\x00", "xz", "an xz-compressed file (decompress it first)"),
    (b"\x89HDF\r\n\x1a\n", "hdf5", "an HDF5 file (such as a Keras .h5 model)"),
    (b"\x89PNG\r\n\x1a\n", "png", "a PNG image"),
    (b"\xff\xd8\xff", "jpeg", "a JPEG image"),
)

MSG_NO_SUCH_FILE = "no such file"
MSG_EMPTY_FILE = "the file is empty (0 bytes)"


@dataclass(frozen=True)
class Content:
    """What a file looks like: a short ``kind`` code and a phrase for error messages."""

    kind: str
    description: str


def sniff(path: str | Path) -> Content:
    """Recognise the content of ``path`` from its magic bytes.

    Parameters
    ----------
    path : str or Path
        A file or a folder.

    Returns
    -------
    Content
        ``kind`` is one of ``"directory"``, ``"empty"``, ``"zip"``, ``"npy"``, ``"parquet"``,
        ``"parquet-truncated"``, ``"pickle"``, ``"tar"``, ``"text"``, ``"binary"`` or a compression or
        image format from :data:`MAGIC`.

    Raises
    ------
    AuditError
        If ``path`` does not exist or cannot be read.
    """
    path = Path(path)
    if path.is_dir():
        return Content("directory", "a folder")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
            tail = b""
            if size >= 8:
                fh.seek(-4, 2)
                tail = fh.read(4)
    except FileNotFoundError:
        raise AuditError(MSG_NO_SUCH_FILE, path=path) from None
    except OSError as exc:
        raise AuditError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    if size == 0:
        return Content("empty", MSG_EMPTY_FILE)
    for magic, kind, description in MAGIC:
        if head.startswith(magic):
            if kind == "parquet" and tail != b"PAR1":
                return Content("parquet-truncated", "a truncated Parquet file (its footer is missing)")
            return Content(kind, description)
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return Content("pickle", "a Python pickle (refused: unpickling can run arbitrary code)")
    if head[257:262] == b"ustar":
        return Content("tar", "a tar archive")
    text = _as_text(head)
    if text is None:
        if _looks_like_8bit_text(head):
            return Content("text-not-utf8", "text that is not UTF-8 encoded (save it as UTF-8)")
        return Content("binary", "binary data of an unknown format")
    first_line = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    return Content("text", f"text starting {first_line[:60]!r}")


def _as_text(head: bytes) -> str | None:
    """Decode ``head`` as UTF-8 text, or return None if it is not text."""
    if b"\x00" in head:
        return None
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None


def _looks_like_8bit_text(head: bytes) -> bool:
    """True for text in a legacy 8-bit encoding: no NUL and almost no control bytes."""
    if b"\x00" in head:
        return False
    controls = sum(1 for b in head if b < 0x20 and b not in (0x09, 0x0A, 0x0D))
    return controls <= len(head) // 100
