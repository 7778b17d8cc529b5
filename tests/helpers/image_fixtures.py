"""Small labelled image folders, metadata files and tiny Keras classifiers for the image-audit tests."""

from __future__ import annotations

import csv
import struct
import zlib
from pathlib import Path

import numpy as np

CLASSES = ("bird", "cat", "dog")
SIZE = 8


def write_image_folder(root: Path, *, per_class: int = 12, classes=CLASSES, size: int = SIZE, seed: int = 0,
                       odd_sizes: bool = True) -> Path:
    """One subfolder per class of PNG images (each class has its own mean colour, so a model can
    tell them apart); with ``odd_sizes`` a few images are 12 x 10 (to be resized) and one is
    grey-scale and one RGBA (to be converted). Returns ``root``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for c, name in enumerate(classes):
        (root / name).mkdir(exist_ok=True)
        for i in range(per_class):
            h, w = (10, 12) if odd_sizes and i == 1 else (size, size)
            base = rng.integers(0, 256, size=(h, w, 3))
            base[..., c % 3] = np.clip(base[..., c % 3] // 2 + 128, 0, 255)
            img = Image.fromarray(base.astype(np.uint8), "RGB")
            if odd_sizes and c == 0 and i == 2:
                img = img.convert("L")
            if odd_sizes and c == 1 and i == 3:
                img = img.convert("RGBA")
            img.save(root / name / f"{i:03d}.png")
    return root


def write_metadata(folder: Path, path: Path, *, rows=None) -> Path:
    """A metadata CSV with columns path, site (a/b alternating) and camera; ``rows`` overrides."""
    if rows is None:
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
        rows = [{"path": f, "site": "north" if i % 2 else "south", "camera": f"cam{i % 3}"}
                for i, f in enumerate(files)]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def build_models(root: Path, *, size: int = SIZE, n_classes: int = len(CLASSES)) -> dict[str, Path]:
    """Tiny classifiers saved as ``.keras`` files: {name: path}.

    sequential (softmax), functional-logits, rescaling (starts with Rescaling(1/255), logits),
    two-outputs, vector-input, five-classes.
    """
    from audit.model.quiet import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(3)
    layers = keras.layers
    root.mkdir(parents=True, exist_ok=True)
    shape = (size, size, 3)
    out = {}

    seq = keras.Sequential([keras.Input(shape), layers.Flatten(), layers.Dense(n_classes, activation="softmax")])
    seq.save(root / "sequential.keras")
    out["sequential"] = root / "sequential.keras"

    inp = keras.Input(shape)
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = layers.GlobalAveragePooling2D()(x)
    logits = layers.Dense(n_classes)(x)
    keras.Model(inp, logits).save(root / "functional-logits.keras")
    out["functional-logits"] = root / "functional-logits.keras"

    inp = keras.Input(shape)
    x = layers.Rescaling(1 / 255)(inp)
    x = layers.Flatten()(x)
    keras.Model(inp, layers.Dense(n_classes)(x)).save(root / "rescaling.keras")
    out["rescaling"] = root / "rescaling.keras"

    inp = keras.Input(shape)
    x = layers.Flatten()(inp)
    two = keras.Model(inp, [layers.Dense(n_classes, activation="softmax")(x), layers.Dense(1)(x)])
    two.save(root / "two-outputs.keras")
    out["two-outputs"] = root / "two-outputs.keras"

    vec = keras.Sequential([keras.Input((20,)), layers.Dense(n_classes, activation="softmax")])
    vec.save(root / "vector-input.keras")
    out["vector-input"] = root / "vector-input.keras"

    five = keras.Sequential([keras.Input(shape), layers.Flatten(), layers.Dense(5, activation="softmax")])
    five.save(root / "five-classes.keras")
    out["five-classes"] = root / "five-classes.keras"
    return out


def build_lambda_model(path: Path, witness: Path, *, size: int = SIZE, n_classes: int = len(CLASSES)) -> Path:
    """A model whose Lambda layer writes ``witness`` whenever its code runs; the witness written
    while building is deleted, so its existence afterwards proves the code ran again."""
    from audit.model.quiet import import_keras

    keras = import_keras()
    layers = keras.layers
    fn = eval(f"lambda t: (__import__('pathlib').Path({str(witness)!r}).write_text('ran'), t)[1]")  # noqa: S307
    model = keras.Sequential([keras.Input((size, size, 3)), layers.Lambda(fn, name="writes_a_file"),
                              layers.Flatten(), layers.Dense(n_classes, activation="softmax")])
    model.save(path)
    witness.unlink(missing_ok=True)
    return path


def load_uint8_folder(folder: Path, paths, size: int = SIZE, *, channels: int = 3) -> np.ndarray:
    """The images at ``paths`` (relative), converted to RGB (``channels`` 1: Pillow's grey "L") and resized
    exactly as the pipeline does; shape (n, size, size, channels)."""
    from PIL import Image

    out = []
    for rel in paths:
        with Image.open(folder / rel) as im:
            im = im.convert("RGB" if channels == 3 else "L")
            if im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR)
            out.append(np.asarray(im).reshape(size, size, channels))
    return np.stack(out)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path: Path, width: int, height: int, idat: bytes, *, color_type: int = 2, interlace: int = 0) -> Path:
    """An 8-bit PNG with the header given and ``idat`` (uncompressed scanlines) as its image data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, interlace)
    path.write_bytes(PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(idat))
                     + png_chunk(b"IEND", b""))
    return path
