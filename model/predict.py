"""Batched inference, and a saved CIFAR-10 model turned into :class:`audit.predictions.Predictions`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from audit.errors import AuditError
from audit.predictions import Predictions, make_predictions
from audit.model.artifacts import load_model, load_validation_indices, read_manifest
from audit.model.data import Cifar10

SPLITS = ("test", "validation")
MSG_DATASET_MISMATCH = (
    "the validation indices were recorded on a different dataset: {name} has sha256 {got} here but "
    "{want} when the model was trained"
)


def predict(model, x_uint8: np.ndarray, *, batch_size: int = 512, progress: bool = True,
            stream: TextIO | None = None) -> np.ndarray:
    """Class probabilities of ``model`` for uint8 images, in batches.

    Parameters
    ----------
    model : keras.Model
        Takes float32 images scaled to [0, 1], as the seed network was trained.
    x_uint8 : ndarray of shape (n_samples, 32, 32, 3), uint8
    batch_size : int, default 512
    progress : bool, default True
        Draw a progress bar on ``stream`` (default stderr) when it is a terminal.

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float32
    """
    x = np.asarray(x_uint8)
    if x.ndim != 4 or x.dtype != np.uint8:
        raise AuditError(f"images must be a uint8 array of shape (N, height, width, channels); "
                         f"got {x.dtype} {x.shape}")
    if batch_size < 1:
        raise AuditError(f"batch_size must be >= 1; got {batch_size}")
    n = x.shape[0]
    stream = sys.stderr if stream is None else stream
    draw = progress and n > 0 and hasattr(stream, "isatty") and stream.isatty()
    chunks = []
    for start in range(0, n, batch_size):
        batch = x[start:start + batch_size].astype(np.float32)
        batch /= 255
        chunks.append(np.asarray(model.predict_on_batch(batch), dtype=np.float32))
        if draw:
            _bar(stream, min(start + batch_size, n), n)
    if draw:
        stream.write("\n")
        stream.flush()
    if not chunks:
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float32)
    return np.concatenate(chunks)


def _bar(stream: TextIO, done: int, total: int, width: int = 30) -> None:
    filled = int(width * done / total)
    stream.write(f"\rpredicting {done:>{len(str(total))}}/{total} [{'=' * filled}{'.' * (width - filled)}]")
    stream.flush()


def cifar10_predictions(
    model_dir: str | Path,
    data: Cifar10,
    *,
    split: str = "test",
    images: bool = True,
    batch_size: int = 512,
    progress: bool = True,
    model=None,
    predict_rows=None,
) -> Predictions:
    """Run a saved model on a CIFAR-10 split and return validated :class:`Predictions`.

    Parameters
    ----------
    model_dir : path
        Folder written by ``audit train`` (or its ``.keras`` file).
    data : Cifar10
    split : {"test", "validation"}
        ``test``: all test images, ids ``test/00042``. ``validation``: the training images held out
        while training (indices from the model folder), ids ``train/01234`` (original row).
    images : bool, default True
        Attach the uint8 images (for image-property slices and the gallery).
    model : keras.Model, optional
        The model already loaded from ``model_dir`` (saves loading it again for a second split).
    predict_rows : callable, optional
        ``predict_rows(split, rows) -> probabilities`` of the images ``rows`` of ``data``'s ``"test"`` or
        ``"train"`` arrays computed elsewhere (on Dask workers, :mod:`audit.model.dask_inference`), in
        place of ``predict(model, x)``.

    Returns
    -------
    Predictions
        ``source`` is ``model_dir``.
    """
    if split not in SPLITS:
        raise AuditError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    if split == "test":
        x, y = data.x_test, data.y_test
        rows, part = np.arange(len(y)), "test"
        ids = np.array([f"test/{i:05d}" for i in range(len(y))])
    else:
        indices = load_validation_indices(model_dir)
        _check_same_dataset(model_dir, data)
        if indices.size and (indices.min() < 0 or indices.max() >= len(data.y_train)):
            raise AuditError(f"validation index {int(indices.max())} is outside the {len(data.y_train)} "
                             f"training images", path=model_dir)
        x, y = data.x_train[indices], data.y_train[indices]
        rows, part = indices, "train"
        ids = np.array([f"train/{i:05d}" for i in indices])
    if model is None:
        model = load_model(model_dir)
    n_out = int(model.output_shape[-1])
    if n_out != len(data.class_names):
        raise AuditError(f"model has {n_out} outputs but the dataset has {len(data.class_names)} classes",
                         path=model_dir)
    probs = (predict(model, x, batch_size=batch_size, progress=progress) if predict_rows is None
             else predict_rows(part, rows))
    return make_predictions(y, probs, data.class_names, sample_ids=ids, images=x if images else None,
                            source=str(model_dir))


def _check_same_dataset(model_dir: str | Path, data: Cifar10) -> None:
    recorded = (read_manifest(model_dir).get("dataset") or {}).get("files") or {}
    for name, want in recorded.items():
        got = data.files.get(name)
        if got is not None and got != want:
            raise AuditError(MSG_DATASET_MISMATCH.format(name=name, got=got[:12], want=want[:12]),
                             path=model_dir)
