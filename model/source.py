"""A saved model in the loop: the seed network's folder (trained first when the default folder is empty)
and CIFAR-10 -> a :class:`~audit.sources.prepared.PreparedSource` for :func:`audit.run_audit`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from audit.errors import AuditError
from audit.sources.prepared import PreparedSource
from audit.versions import library_versions

MSG_NO_FOLDER = "model not found: no such folder"
MSG_NOT_A_FOLDER = "--model takes a model folder written by `audit train`; got a file"
MSG_NO_MANIFEST = "not a saved model folder (no manifest.json)"
CALIBRATION_SOURCE = "validation split of the training run"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def saved_model_source(model_dir: str | Path | None = None, data: str | Path | None = None, *,
                       images: bool = True, batch_size: int = 512,
                       notify: Callable[[str], None] = _stderr, client=None) -> PreparedSource:
    """Predictions of a model folder written by ``audit train`` on the CIFAR-10 test images.

    Parameters
    ----------
    model_dir : path, optional
        The model folder; default ``models/cifar10-seed``, where the seed network is trained first
        (20 epochs) if the folder holds no model. A folder named explicitly is never trained into.
    data : path, optional
        CIFAR-10 in the binary layout (folder or .tar.gz); default ``$AUDIT_DATA``, else Keras's downloader.
    images : bool
        Keep the test images for the image-property slices and the mistakes gallery.
    batch_size : int
        Inference batch size.
    notify : callable
        Receives the one line said before an implicit training run.
    client : distributed.Client, optional
        Predict the test and validation images on its workers (each reads CIFAR-10 and the model from
        the same paths) and run each robustness cell as a task (docs/scale.md).

    Returns
    -------
    PreparedSource
        The test-set predictions, the validation split of the training run for the temperature, and
        the provenance (artifact and data hashes, model folder, training record, library versions).
    """
    from audit.extras import require

    require("tensorflow", "keras", what="auditing a saved model (`audit run` without --predictions)")
    from audit.model.artifacts import default_model_dir, load_model, read_manifest
    from audit.model.data import load_cifar10, resolve_data_path
    from audit.model.predict import cifar10_predictions

    given = model_dir is not None
    model_dir = Path(model_dir) if given else default_model_dir()
    data_path = resolve_data_path(data)
    dataset = load_cifar10(data_path)
    if model_dir.exists() and not model_dir.is_dir():
        raise AuditError(MSG_NOT_A_FOLDER, path=model_dir, hint="pass the folder that holds it")
    if given and not model_dir.exists():
        raise AuditError(MSG_NO_FOLDER, path=model_dir,
                         hint="train one with `audit train --out DIR`, or leave --model out to audit the seed model")
    if model_dir.exists() and not (model_dir / "manifest.json").exists():
        raise AuditError(MSG_NO_MANIFEST, path=model_dir, hint="point --model at the folder `audit train` wrote")
    if not (model_dir / "manifest.json").exists():
        notify(f"audit: no saved model in {model_dir}; training the seed network first "
               "(20 epochs, about 6 minutes on 2 cores)")
        from audit.model.train import train

        train(dataset, out_dir=model_dir)
    manifest = read_manifest(model_dir)
    model = load_model(model_dir)
    common = {"batch_size": batch_size, "model": model}
    run_cells = None
    if client is not None:
        from audit.model import dask_inference

        spec = dask_inference.saved_spec(model_dir, manifest, batch_size=batch_size,
                                         n_classes=len(dataset.class_names))
        common["predict_rows"] = dask_inference.cifar_rows(client, spec, data_path)
        run_cells = dask_inference.cell_runner(client, spec, dask_inference.cifar_images(data_path, "test"),
                                               clean_loader=lambda rows: dataset.x_test[rows])
    pred = cifar10_predictions(model_dir, dataset, split="test", images=images, **common)
    calibration = cifar10_predictions(model_dir, dataset, split="validation", images=False, **common)
    provenance = {
        "model_sha256": manifest.get("artifacts", {}),
        "data_sha256": dataset.files,
        "model_dir": str(model_dir),
        "training": {
            "seed": manifest.get("seed"),
            "limit": manifest.get("limit"),
            "hyperparameters": manifest.get("hyperparameters"),
            "test": manifest.get("test"),
            "mean_seconds_per_epoch": manifest.get("mean_seconds_per_epoch"),
            "n_train": (manifest.get("dataset") or {}).get("n_train"),
        },
        "versions": library_versions(with_tf=True),
    }
    if client is not None:
        provenance["dask"] = dask_inference.cluster_provenance(client)
    name = model_dir.name if model_dir.name != "" else "model"
    return PreparedSource(pred=pred, name=name, kind="model", calibration=calibration,
                          calibration_source=CALIBRATION_SOURCE, provenance=provenance,
                          model_inputs={"model": model, "dataset": dataset, "batch_size": batch_size,
                                        "run_cells": run_cells},
                          explainer=saved_model_explainer(model, dataset.x_test, path=model_dir,
                                                          batch_size=batch_size))


def saved_model_explainer(model, x_test, *, path=None, batch_size: int = 512):
    """The seed-style Keras ``model`` (pixels / 255) on the test images ``x_test``, for the gallery's saliency maps."""
    import numpy as np

    from audit.model.explain.section import ExplainModel
    from audit.model.predict import predict

    def preprocess(x):
        return np.asarray(x, dtype=np.float32) / np.float32(255)

    return ExplainModel(predict=lambda x: predict(model, x, batch_size=batch_size, progress=False),
                        load=lambda index: x_test[index], framework="keras", keras_model=model,
                        preprocess=preprocess, path=path)
