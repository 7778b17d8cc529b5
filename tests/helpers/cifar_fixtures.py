"""Helpers for the model tests: synthetic CIFAR-10 binary files and images, the shared dataset path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from audit.model.data import EXPECTED_FILES, META_FILE, RECORD_BYTES, TEST_FILE, TRAIN_FILES, Cifar10

REPO = Path(__file__).resolve().parents[2]
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def shared_archive() -> Path | None:
    """The shared CIFAR-10 archive: $AUDIT_TEST_DATA, else <repo>/../shared/datasets/..., else None."""
    candidate = os.environ.get("AUDIT_TEST_DATA") or REPO.parent / "shared" / "datasets" / "cifar-10-binary.tar.gz"
    candidate = Path(candidate)
    return candidate if candidate.exists() else None


def make_records(labels, seed: int = 0) -> bytes:
    """Binary-layout records with the given label bytes and random pixels."""
    labels = np.asarray(labels, dtype=np.uint8)
    rng = np.random.default_rng(seed)
    records = rng.integers(0, 256, size=(labels.size, RECORD_BYTES), dtype=np.uint8)
    records[:, 0] = labels
    return records.tobytes()


def write_dataset(folder: Path, *, per_file: int = 20, test: int = 20, skip: tuple[str, ...] = ()) -> Path:
    """Write the seven files of the binary layout, small, into ``folder``; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate((*TRAIN_FILES, TEST_FILE)):
        if name in skip:
            continue
        n = test if name == TEST_FILE else per_file
        (folder / name).write_bytes(make_records(np.arange(n) % 10, seed=i))
    if META_FILE not in skip:
        (folder / META_FILE).write_text("\n".join(CLASS_NAMES) + "\n\n")
    assert set(EXPECTED_FILES) - set(skip) == {p.name for p in folder.iterdir()}
    return folder


def synthetic_cifar(n_train: int = 400, n_test: int = 100, seed: int = 0) -> Cifar10:
    """Random images whose labels are learnable (class k images are brighter in a band), in memory."""
    rng = np.random.default_rng(seed)

    def images(n):
        y = rng.integers(0, 10, size=n)
        x = rng.integers(0, 128, size=(n, 32, 32, 3), dtype=np.uint8)
        for k in range(10):
            x[y == k, 3 * k:3 * k + 3] += 120
        return x, y.astype(np.int64)

    x_train, y_train = images(n_train)
    x_test, y_test = images(n_test)
    return Cifar10(x_train, y_train, x_test, y_test, CLASS_NAMES, files={"synthetic": "0" * 64}, source="synthetic")


