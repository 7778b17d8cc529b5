"""Read the released CIFAR-10-C files (Hendrycks & Dietterich 2019), for numbers comparable with
published ones.

Layout: one folder with ``<corruption>.npy`` per corruption, uint8 of shape (5·n, H, W, 3) holding the
n test images at severity 1, then 2, ... 5 (n = 10,000 for CIFAR-10-C), and ``labels.npy`` of shape
(5·n,) with the test labels repeated for each severity block. Files are memory-mapped (never pickled),
and each block's labels are checked against the audited test labels, so rows stay paired with the images
the audit sampled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audit.errors import AuditError

LABELS_FILE = "labels.npy"
N_SEVERITIES = 5
MSG_NO_FOLDER = "--corruption-data folder not found"
MSG_MISSING = "missing {name}: the released CIFAR-10-C layout has <corruption>.npy and labels.npy"
MSG_NOT_NPY = "not a readable .npy array ({reason})"
MSG_SHAPE = "expected a uint8 array of shape {want}; got {dtype} {shape}"
MSG_LABELS = ("labels of severity block {severity} differ from the audited test labels (first at row {row}: "
              "{got} here, {want} in the test set); the files must hold the test set in its order")
HINT = "download CIFAR-10-C (Zenodo record 2535967) and pass the folder that holds the .npy files"


class ReleasedCorruptions:
    """The released corrupted test sets in ``folder``, checked against the audited test set.

    Parameters
    ----------
    folder : path
    test_labels : ndarray of shape (n,), int
        Labels of the audited test set; every severity block of ``labels.npy`` must equal them.
    image_shape : tuple (H, W, 3)
        Shape of the audited test images.
    """

    def __init__(self, folder: str | Path, test_labels: np.ndarray, image_shape: tuple[int, ...]):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise AuditError(MSG_NO_FOLDER, path=self.folder, hint=HINT)
        self.n = int(len(test_labels))
        self.image_shape = tuple(image_shape)
        labels = self._load(LABELS_FILE)
        if labels.shape != (N_SEVERITIES * self.n,) or labels.dtype.kind not in "iu":
            raise AuditError(MSG_SHAPE.format(want=(N_SEVERITIES * self.n,), dtype=labels.dtype, shape=labels.shape)
                             .replace("uint8 array", "integer array"), path=self.folder / LABELS_FILE)
        want = np.asarray(test_labels).astype(np.int64)
        for s in range(1, N_SEVERITIES + 1):
            got = np.asarray(labels[(s - 1) * self.n:s * self.n]).astype(np.int64)
            bad = np.flatnonzero(got != want)
            if bad.size:
                raise AuditError(MSG_LABELS.format(severity=s, row=int(bad[0]), got=int(got[bad[0]]),
                                                   want=int(want[bad[0]])), path=self.folder / LABELS_FILE)

    def _load(self, name: str) -> np.ndarray:
        path = self.folder / name
        if not path.is_file():
            raise AuditError(MSG_MISSING.format(name=name), path=self.folder, hint=HINT)
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise AuditError(MSG_NOT_NPY.format(reason=str(exc).splitlines()[0] if str(exc) else type(exc).__name__),
                             path=path) from None

    def check(self, corruptions) -> None:
        """Open every ``<corruption>.npy`` named, checking its shape and dtype (before any inference)."""
        for name in corruptions:
            self.images(name)

    def images(self, name: str) -> np.ndarray:
        """The memory-mapped (5·n, H, W, 3) uint8 array of one corruption."""
        arr = self._load(f"{name}.npy")
        want = (N_SEVERITIES * self.n, *self.image_shape)
        if arr.dtype != np.uint8 or arr.shape != want:
            raise AuditError(MSG_SHAPE.format(want=want, dtype=arr.dtype, shape=arr.shape), path=self.folder / f"{name}.npy")
        return arr

    def block(self, name: str, severity: int, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (indices into the test set) of one severity block, read into memory."""
        arr = self.images(name)
        return np.ascontiguousarray(arr[(severity - 1) * self.n + np.asarray(rows)])
