"""Labelled image files (a folder of class subfolders, or a CSV/Parquet manifest) and their streaming decode.

Each image is size-checked from its header before any pixel is decoded (decompression bombs are
refused), converted to the model's channels, resized to its input size and yielded in uint8 batches by
a bounded pool of threads, so memory does not grow with the number of images.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

from audit.errors import AuditError
from audit.model import png

#: File extensions read as images (lower case), as Keras's ``image_dataset_from_directory``.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
#: Pillow formats allowed to open a file (no other decoder is ever tried).
PIL_FORMATS = ("PNG", "JPEG", "BMP", "GIF")
MANIFEST_EXTENSIONS = (".csv", ".parquet", ".pq")
#: Largest image accepted, width x height in pixels, checked from the header before decoding.
MAX_PIXELS = 64_000_000
#: Modes converted without loss of meaning; others (16-bit, float) are refused.
CONVERTIBLE_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "La", "RGBa")
RESIZE = ("Pillow bilinear resize (antialiased when shrinking), aspect ratio not kept, applied only to "
          "images whose size differs from the model input; JPEGs are first decoded at the smallest "
          "1/2, 1/4 or 1/8 scale not below the input size (libjpeg draft mode)")
_DECODED = "decoded by Pillow, or by libpng for 8-bit PNGs at the input size (same pixels)"
_OTHER_MODES = "alpha dropped (not composited); palette expanded; animated GIFs: first frame"
CONVERSION = f"{_DECODED}; grey-scale copied to R, G and B; {_OTHER_MODES}"
#: The same for a 1-channel (grey-scale) model: images are converted to Pillow's "L", not copied to RGB.
CONVERSION_GREY = (f"{_DECODED}; colour converted to grey-scale L by Pillow (ITU-R 601-2 luma: L = R * 299/1000 + "
                   f"G * 587/1000 + B * 114/1000); {_OTHER_MODES}")


def conversion(channels: int) -> str:
    """What decoding does to the pixels for a model with ``channels`` (1 or 3) input channels (provenance)."""
    return CONVERSION_GREY if channels == 1 else CONVERSION

MSG_NOT_FOUND = "image data not found"
MSG_NOT_IMAGE_DATA = ("not an image folder or manifest: --data takes a folder with one subfolder per class, "
                      "or a .csv/.parquet manifest with columns path and label")
MSG_NO_CLASS_FOLDERS = "no class subfolders: an image folder holds one subfolder of images per class"
MSG_EMPTY_CLASS = "class folder {name!r} holds no image files ({exts})"
MSG_UNKNOWN_CLASS = "{what} {name!r} is not among the {n} class names of {source}: {names}"
MSG_BAD_CLASS_NAMES = "class names file: {problem}"
MSG_MANIFEST_COLUMNS = "a manifest needs columns 'path' and 'label'; columns present: {present}"
MSG_ESCAPES = "manifest path {value!r} in row {row} escapes the manifest's folder (absolute path or '..')"
MSG_MISSING_IMAGES = "{n} image(s) listed in the manifest do not exist, first: {first}"
MSG_DUPLICATE_PATHS = "{n} path(s) listed more than once in the manifest, first: {first}"
MSG_EMPTY_SET = "no images: the manifest has no rows"
MSG_MISSING_CELL = "column {column!r} has {n} empty cell(s), first in row {row}"
MSG_UNREADABLE = "unreadable or truncated image ({reason})"
MSG_BOMB = ("image is {width} x {height} = {pixels:,} pixels, above the limit of {limit:,}: refused before "
            "decoding (a decompression bomb, or an image far larger than a classifier's input)")
MSG_MODE = "image mode {mode!r} (16-bit or floating-point pixels) is not supported; save it as 8-bit RGB or grey-scale"


@dataclass(frozen=True)
class ImageSet:
    """Labelled image files under one root folder.

    Parameters
    ----------
    root : Path
        The data folder (or the manifest's folder); ``paths`` are relative to it.
    paths : tuple of str
        POSIX relative paths, the sample ids (``cat/0001.png``).
    labels : ndarray of shape (n_images,), int64
        Index into ``class_names``.
    class_names : tuple of str
        In the model's output order.
    source : str
        The folder or manifest given.
    kind : {"folder", "manifest"}
    """

    root: Path
    paths: tuple[str, ...]
    labels: np.ndarray
    class_names: tuple[str, ...]
    source: str
    kind: str

    def __len__(self) -> int:
        return len(self.paths)

    def files(self) -> list[str]:
        """Absolute paths, in order (``str``: each is opened once per decode, 10,000s of times)."""
        root = str(self.root)
        return [os.path.join(root, p) for p in self.paths]


@dataclass
class DecodeStats:
    """What decoding did to the images, for provenance: counted over every image decoded."""

    n: int = 0
    resized: int = 0
    converted: Counter = field(default_factory=Counter)
    animated: int = 0
    #: raw SHA-256 of each file, row i for image i (32 bytes an image, allocated on first use)
    digests: np.ndarray | None = None
    paths: tuple[str, ...] = ()

    def describe(self) -> dict:
        return {"images": self.n, "resized": self.resized,
                "converted": {f"{mode}->{target}": n for (mode, target), n in sorted(self.converted.items())},
                "animated_gifs_first_frame": self.animated}

    def image_set_sha256(self) -> str:
        """One SHA-256 over ``"<relative path>\\t<sha256 of the file>\\n"`` lines, sorted by path."""
        digest = hashlib.sha256()
        for i in sorted(range(len(self.paths)), key=self.paths.__getitem__):
            digest.update(f"{self.paths[i]}\t{self.digests[i].tobytes().hex()}\n".encode("utf-8"))
        return digest.hexdigest()


@dataclass(frozen=True)
class ImageBatch:
    """One decoded batch: uint8 images at the model's input size, their labels and relative paths."""

    images: np.ndarray
    labels: np.ndarray
    paths: tuple[str, ...]
    start: int


def is_image_data(path: str | Path | None) -> bool:
    """True when ``path`` is a manifest or a folder that is not a CIFAR-10 binary folder."""
    if path in (None, ""):
        return False
    path = Path(path)
    if path.suffix.lower() in MANIFEST_EXTENSIONS:
        return True
    if not path.is_dir():
        return False
    from audit.model.data import SUBFOLDER, TEST_FILE, TRAIN_FILES

    return not any((path / name).exists() for name in (SUBFOLDER, TEST_FILE, TRAIN_FILES[0]))


def read_class_names(path: str | Path) -> tuple[str, ...]:
    """Class names from a text file, one per line in the model's output order (blank lines skipped)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AuditError(MSG_BAD_CLASS_NAMES.format(problem="no such file"), path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(MSG_BAD_CLASS_NAMES.format(problem=f"cannot read it as UTF-8 text ({exc})"),
                         path=path) from None
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) < 2:
        raise AuditError(MSG_BAD_CLASS_NAMES.format(problem=f"need at least 2 names, one per line; got {len(names)}"),
                         path=path)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise AuditError(MSG_BAD_CLASS_NAMES.format(problem=f"repeated name(s) {', '.join(repeated)}"), path=path)
    return names


def load_image_set(path: str | Path, *, class_names: Sequence[str] | None = None,
                   class_names_source: str = "--class-names") -> ImageSet:
    """Read a folder of class subfolders or a CSV/Parquet manifest (no pixel is decoded here).

    Parameters
    ----------
    path : path
        A folder with one subfolder per class (``image_dataset_from_directory``: class names are the
        subfolder names, sorted; files found recursively, hidden files and other extensions
        skipped), or a manifest with columns ``path`` (relative to the manifest) and ``label``
        (class name).
    class_names : sequence of str, optional
        The model's classes in output order; a folder or label not among them is an error.

    Returns
    -------
    ImageSet
    """
    path = Path(path)
    if not path.exists():
        raise AuditError(MSG_NOT_FOUND, path=path)
    if path.is_dir():
        return _from_folder(path, class_names, class_names_source)
    if path.suffix.lower() in MANIFEST_EXTENSIONS:
        return _from_manifest(path, class_names, class_names_source)
    raise AuditError(MSG_NOT_IMAGE_DATA, path=path)


def _from_folder(folder: Path, class_names, names_source) -> ImageSet:
    subfolders = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subfolders:
        raise AuditError(MSG_NO_CLASS_FOLDERS, path=folder)
    names = tuple(class_names) if class_names is not None else tuple(subfolders)
    index = {name: i for i, name in enumerate(names)}
    paths, labels = [], []
    root = folder.resolve()
    for sub in subfolders:
        if sub not in index:
            raise AuditError(MSG_UNKNOWN_CLASS.format(what="class folder", name=sub, n=len(names),
                                                      source=names_source, names=", ".join(names)), path=folder)
        found = []
        for dirpath, dirnames, filenames in os.walk(folder / sub):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if name.startswith(".") or Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                    continue
                found.append((Path(dirpath) / name).relative_to(folder).as_posix())
        if not found:
            raise AuditError(MSG_EMPTY_CLASS.format(name=sub, exts="/".join(e[1:] for e in IMAGE_EXTENSIONS)),
                             path=folder / sub)
        found.sort()
        paths += found
        labels += [index[sub]] * len(found)
    return ImageSet(root=root, paths=tuple(paths), labels=np.asarray(labels, dtype=np.int64),
                    class_names=names, source=str(folder), kind="folder")


def _from_manifest(manifest: Path, class_names, names_source) -> ImageSet:
    frame = read_text_table(manifest)
    missing = [c for c in ("path", "label") if c not in frame.columns]
    if missing:
        present = ", ".join(repr(c) for c in frame.columns) or "none"
        raise AuditError(MSG_MANIFEST_COLUMNS.format(present=present), path=manifest)
    if len(frame) == 0:
        raise AuditError(MSG_EMPTY_SET, path=manifest)
    for column in ("path", "label"):
        empty = frame[column].str.strip() == ""
        if empty.any():
            raise AuditError(MSG_MISSING_CELL.format(column=column, n=int(empty.sum()), row=int(np.argmax(empty))),
                             path=manifest)
    root = manifest.parent.resolve()
    rel = [normalise_relative(value, row, manifest, root) for row, value in enumerate(frame["path"])]
    counts = Counter(rel)
    dupes = [p for p in rel if counts[p] > 1]
    if dupes:
        shown = list(dict.fromkeys(dupes))
        raise AuditError(MSG_DUPLICATE_PATHS.format(n=len(shown), first=", ".join(shown[:5])), path=manifest)
    absent = [p for p in rel if not (root / p).is_file()]
    if absent:
        raise AuditError(MSG_MISSING_IMAGES.format(n=len(absent), first=", ".join(absent[:5])), path=manifest)
    labels_text = [str(v).strip() for v in frame["label"]]
    names = tuple(class_names) if class_names is not None else tuple(sorted(set(labels_text)))
    index = {name: i for i, name in enumerate(names)}
    for row, label in enumerate(labels_text):
        if label not in index:
            raise AuditError(MSG_UNKNOWN_CLASS.format(what=f"label in row {row}", name=label, n=len(names),
                                                      source=names_source, names=", ".join(names)), path=manifest)
    return ImageSet(root=root, paths=tuple(rel), labels=np.asarray([index[x] for x in labels_text], dtype=np.int64),
                    class_names=names, source=str(manifest), kind="manifest")


def read_text_table(path: Path):
    """A CSV or Parquet file as a DataFrame of strings (an empty CSV cell is ``""``, never NaN)."""
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise AuditError("no such file", path=path) from None
    except Exception as exc:  # pandas/pyarrow raise many types for a malformed table
        raise AuditError(f"cannot read the table: {type(exc).__name__}: {_first_line(exc)}", path=path) from None
    return frame.astype(object).where(frame.notna(), "").astype(str)


def normalise_relative(value: str, row: int, table: Path, root: Path) -> str:
    """``value`` as a clean POSIX path relative to ``root``; absolute or escaping paths are refused."""
    text = str(value).strip().replace("\\", "/")
    pure = PurePosixPath(text)
    if pure.is_absolute() or (len(text) > 1 and text[1] == ":") or ".." in pure.parts:
        raise AuditError(MSG_ESCAPES.format(value=value, row=row), path=table)
    clean = PurePosixPath(*[p for p in pure.parts if p not in ("", ".")]).as_posix()
    resolved = (root / clean).resolve()
    if resolved != root and root not in resolved.parents:
        raise AuditError(MSG_ESCAPES.format(value=value, row=row), path=table)
    return clean


def decode_image(path: Path, *, height: int, width: int, channels: int = 3,
                 max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, str, str | None, bool, bool]:
    """Read, check and decode one image file to uint8 (height, width, channels).

    The file's width x height is read from its header and checked against ``max_pixels`` before any
    pixel is decoded. Only PNG, JPEG, BMP and GIF decoders are tried.

    Returns
    -------
    (image, sha256 of the file bytes, original mode if converted else None, resized, animated)
    """
    return _decode(path, height=height, width=width, channels=channels, max_pixels=max_pixels)


def check_pixel_limit(width: int, height: int, max_pixels: int, path) -> None:
    """Refuse an image of more than ``max_pixels`` pixels, from its header, before anything is decoded."""
    if width * height > max_pixels:
        raise AuditError(MSG_BOMB.format(width=width, height=height, pixels=width * height, limit=max_pixels),
                         path=path)


def _decode(path: Path, *, height: int, width: int, channels: int, max_pixels: int):
    """As :func:`decode_image`. A PNG whose header (:func:`audit.model.png.read_header`) shows it at the
    input size with 8 bits a sample is decoded by libpng (:func:`audit.model.png.pixels`), with the GIL
    released; every other file, and a PNG libpng cannot decode, is opened by Pillow."""
    try:
        with open(path, "rb", buffering=0) as fh:
            data = fh.readall()
    except OSError as exc:
        raise AuditError(MSG_UNREADABLE.format(reason=exc.strerror or exc), path=path) from None
    digest = hashlib.sha256(data).hexdigest()
    target_mode = "RGB" if channels == 3 else "L"
    head = png.read_header(data)
    if head is not None:
        check_pixel_limit(head.width, head.height, max_pixels, path)
        if head.direct(height, width, channels):
            try:
                arr = png.pixels(data, channels)
            except Exception:  # noqa: BLE001 - damaged past its header: Pillow below names the problem
                pass
            else:
                return arr, digest, (head.mode if head.mode != target_mode else None), False, False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=PIL_FORMATS)
        with im:
            w, h = im.size
            check_pixel_limit(w, h, max_pixels, path)
            animated = bool(getattr(im, "is_animated", False))
            if im.mode not in CONVERTIBLE_MODES:
                raise AuditError(MSG_MODE.format(mode=im.mode), path=path)
            original = im.mode
            if im.format == "JPEG" and (w, h) != (width, height):
                im.draft(target_mode, (width, height))
            im.load()
            if im.mode != target_mode:
                if im.mode == "P" and "transparency" in im.info:
                    im = im.convert("RGBA")
                im = im.convert(target_mode)
            resized = im.size != (width, height)
            if resized:
                im = im.resize((width, height), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except AuditError:
        raise
    except Image.DecompressionBombError as exc:
        raise AuditError(f"refused before decoding: {_first_line(exc)}", path=path) from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.UnidentifiedImageError) as exc:
        raise AuditError(MSG_UNREADABLE.format(reason=_first_line(exc)), path=path) from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    converted = original if original != target_mode else None
    return arr, digest, converted, resized, animated


def iter_image_batches(image_set: ImageSet, *, height: int, width: int, channels: int = 3,
                       batch_size: int = 256, workers: int | None = None, prefetch: int = 2,
                       max_pixels: int = MAX_PIXELS, stats: DecodeStats | None = None) -> Iterator[ImageBatch]:
    """Decode ``image_set`` into uint8 batches, in order, on a bounded pool of threads.

    At most ``workers + prefetch`` batches are decoded ahead of the consumer, so memory is bounded by
    the batch size, not by the number of images. libpng (PNGs at the input size, see
    :mod:`audit.model.png`) and Pillow release the GIL while they decode and resize, so the threads
    overlap with each other and with the model.

    Parameters
    ----------
    image_set : ImageSet
    height, width, channels : int
        The model's input size.
    batch_size : int, default 256
    workers : int, optional
        Decoding threads (default: the number of CPUs, at most 8).
    prefetch : int, default 2
    max_pixels : int, default MAX_PIXELS
    stats : DecodeStats, optional
        Filled in as batches are yielded (conversions, resizes, per-file hashes).

    Yields
    ------
    ImageBatch
    """
    if batch_size < 1:
        raise AuditError(f"batch_size must be >= 1; got {batch_size}")
    workers = workers or min(8, os.cpu_count() or 1)
    files = image_set.files()
    starts = list(range(0, len(files), batch_size))

    kw = {"height": height, "width": width, "channels": channels, "max_pixels": max_pixels}

    def decode(start: int):
        out = np.empty((min(batch_size, len(files) - start), height, width, channels), dtype=np.uint8)
        meta = []
        for i in range(out.shape[0]):
            out[i], *rest = _decode(files[start + i], **kw)
            meta.append(rest)
        return start, out, meta

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="audit-decode") as pool:
        pending = []
        try:
            ahead = iter(starts)
            for start in ahead:
                pending.append(pool.submit(decode, start))
                if len(pending) >= workers + prefetch:
                    break
            while pending:
                start, images, meta = pending.pop(0).result()
                nxt = next(ahead, None)
                if nxt is not None:
                    pending.append(pool.submit(decode, nxt))
                paths = image_set.paths[start:start + len(images)]
                if stats is not None:
                    _count(stats, image_set.paths, start, meta, channels)
                yield ImageBatch(images=images, labels=image_set.labels[start:start + len(images)],
                                 paths=paths, start=start)
        finally:
            for fut in pending:
                fut.cancel()


def _count(stats: DecodeStats, paths: tuple[str, ...], start: int, meta, channels: int) -> None:
    target = "RGB" if channels == 3 else "L"
    if stats.digests is None:
        stats.digests = np.zeros((len(paths), 32), dtype=np.uint8)
        stats.paths = paths
    for i, (digest, converted, resized, animated) in enumerate(meta, start=start):
        stats.n += 1
        stats.digests[i] = np.frombuffer(bytes.fromhex(digest), dtype=np.uint8)
        stats.resized += bool(resized)
        stats.animated += bool(animated)
        if converted:
            stats.converted[(converted, target)] += 1


def thumbnail_uri(path: Path, *, size: int = 64, max_pixels: int = MAX_PIXELS) -> str:
    """A PNG data URI of the image at ``path``, fitted into ``size`` x ``size`` (aspect kept, padded).

    The file goes through the same header check as for the model before it is decoded.
    """
    from PIL import ImageOps

    from audit.thumbnails import png_data_uri

    with Image.open(path, formats=PIL_FORMATS) as im:
        check_pixel_limit(*im.size, max_pixels, path)
        im.draft("RGB", (size, size))
        rgb = im.convert("RGBA").convert("RGB") if im.mode in ("P", "PA") else im.convert("RGB")
    method = Image.NEAREST if max(rgb.size) <= size else Image.LANCZOS
    thumb = ImageOps.pad(rgb, (size, size), method=method, color=(255, 255, 255))
    return png_data_uri(np.asarray(thumb))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def common_size(image_set: ImageSet, *, max_pixels: int = MAX_PIXELS) -> tuple[int, int] | None:
    """(height, width) shared by every image of ``image_set`` (read from the headers, nothing decoded), else
    None: the input size of a model whose height and width are dynamic."""
    size = None
    for file in image_set.files():
        try:
            with Image.open(file, formats=PIL_FORMATS) as im:
                w, h = im.size
        except (OSError, SyntaxError, ValueError, Image.UnidentifiedImageError) as exc:
            raise AuditError(MSG_UNREADABLE.format(reason=_first_line(exc)), path=file) from None
        check_pixel_limit(w, h, max_pixels, file)
        if size is None:
            size = (h, w)
        elif size != (h, w):
            return None
    return size
