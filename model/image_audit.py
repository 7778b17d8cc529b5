"""Any classifier (Keras, ONNX, a Python callable) on labelled image files: model + uint8 images + labels +
preprocessing -> Predictions.

:func:`open_image_inputs` is the entry point for code that needs the model in the loop (the audit, a
robustness study): it gives the loaded classifier, the image set, the preprocessing and a streaming
iterator of uint8 batches. :func:`image_predictions` runs the whole thing for ``audit run`` and
``audit predict``.
"""

from __future__ import annotations

import dataclasses

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from audit.errors import MSG_NUMBER, AuditError, check_int, check_keywords
from audit.predictions import RANGE_TOLERANCE, ROW_SUM_TOLERANCE, Predictions, make_predictions
from audit.model.images import (MAX_PIXELS, RESIZE, DecodeStats, ImageBatch, ImageSet, common_size,
                                conversion, iter_image_batches, load_image_set, read_class_names,
                                thumbnail_uri)
from audit.model.model_config import Preprocessing, as_model_config
from audit.model.open_model import open_classifier

MSG_CLASS_COUNT = ("the model has {k} outputs but the data has {n} classes ({names}){hint}")
HINT_FOLDERS = "; list the model's classes in output order with --class-names FILE"
MSG_SIGMOID = ("model outputs lie in [0, 1] but rows do not sum to 1 (first row {row} sums to {total:.4g}): "
               "neither class probabilities nor logits (a multi-label sigmoid output?)")
MSG_INCONSISTENT = ("model outputs summed to 1 on the first batch but not on image {path!r} (sums to {total:.6g}); "
                    "they are neither consistently probabilities nor logits")
MSG_DECLARED_PROBS = ("model config: output = \"probabilities\" but the model's outputs are not probabilities "
                      "(image {path!r}: row sums to {total:.6g}, values in [{low:.4g}, {high:.4g}]); set "
                      "output = \"logits\" or leave output out")
MSG_NOT_FINITE = "model outputs contain NaN or infinity (first for image {path!r})"
OUTPUTS_PROBS = "probabilities (rows sum to 1 within 1e-3): used as they are"
OUTPUTS_LOGITS = "logits (rows do not sum to 1): softmax applied, computed in float64"
OUTPUTS_PROBS_DECLARED = "probabilities (as the model config declares): used as they are, rows checked to sum to 1"
OUTPUTS_LOGITS_DECLARED = "logits (as the model config declares): softmax applied, computed in float64"
MSG_WIDTH = "the model returned {k} scores per image but the data has {n} classes (first batch with image {path!r})"
MSG_NAMES_TWICE = "class names given twice: by --class-names and by the model config's class_names; give one"


class Predictor:
    """uint8 images -> class probabilities, through the classifier's preprocessing and model.

    Whether the model outputs probabilities or logits is what the model config declares (``output``), else
    decided on the first batch (rows summing to 1 within ``ROW_SUM_TOLERANCE`` with values in [0, 1] mean
    probabilities; other rows are logits, unless the model ends with a sigmoid: then they are refused) and
    checked on every later batch; logits are turned into probabilities with a softmax. ``outputs`` records
    the decision (None before the first call).
    """

    def __init__(self, classifier):
        self.classifier = classifier
        self.outputs: str | None = {"logits": OUTPUTS_LOGITS_DECLARED, "probabilities": OUTPUTS_PROBS_DECLARED}.get(
            getattr(classifier, "output", None))
        self._run = None

    def raw(self, images_uint8: np.ndarray) -> np.ndarray:
        """The model's own outputs (float64) for a uint8 batch (the adapter's ``runner()``, opened on first use)."""
        if self._run is None:
            self._run = self.classifier.runner()
        return np.asarray(self._run(np.ascontiguousarray(images_uint8, dtype=np.uint8)), dtype=np.float64)

    def __call__(self, images_uint8: np.ndarray, paths: Sequence[str] | None = None) -> np.ndarray:
        """Probabilities of shape (n, n_classes), float64."""
        return self.finish(self.raw(images_uint8), paths)

    def finish(self, out: np.ndarray, paths: Sequence[str] | None = None) -> np.ndarray:
        """Probabilities from the model's raw outputs of one batch (computed here by :meth:`raw`, or on a
        Dask worker): checked, the logits/probabilities decision taken on the first batch, softmaxed."""
        out = np.asarray(out, dtype=np.float64)
        paths = paths if paths is not None else [str(i) for i in range(len(out))]
        where = getattr(self.classifier, "path", None)
        k = getattr(self.classifier, "n_outputs", None)
        if out.ndim != 2 or (k is not None and out.shape[1] != k):
            raise AuditError(MSG_WIDTH.format(k=out.shape[-1] if out.ndim else 0, n=k, path=paths[0]), path=where)
        finite = np.isfinite(out).all(axis=1)
        if not finite.all():
            raise AuditError(MSG_NOT_FINITE.format(path=paths[int(np.argmin(finite))]), path=where)
        sums = out.sum(axis=1)
        off = np.abs(sums - 1) > ROW_SUM_TOLERANCE
        in_range = (out.min() >= -RANGE_TOLERANCE) and (out.max() <= 1 + RANGE_TOLERANCE) if len(out) else True
        if self.outputs is None and len(out):
            if not off.any() and in_range:
                self.outputs = OUTPUTS_PROBS
            elif in_range and self._activation() == "sigmoid":
                row = int(np.argmax(off))
                raise AuditError(MSG_SIGMOID.format(row=row, total=sums[row]), path=where)
            else:
                self.outputs = OUTPUTS_LOGITS
        if self.outputs in (OUTPUTS_LOGITS, OUTPUTS_LOGITS_DECLARED):
            return softmax(out)
        if off.any() or not in_range:
            bad = off | (out.min(axis=1) < -RANGE_TOLERANCE) | (out.max(axis=1) > 1 + RANGE_TOLERANCE)
            row = int(np.argmax(bad))
            if self.outputs == OUTPUTS_PROBS_DECLARED:  # the config said so: name it, not the first batch
                config = getattr(self.classifier, "config", None)
                raise AuditError(MSG_DECLARED_PROBS.format(path=paths[row], total=sums[row], low=out[row].min(),
                                                           high=out[row].max()),
                                 path=getattr(config, "path", None) or where)
            raise AuditError(MSG_INCONSISTENT.format(path=paths[row], total=sums[row]), path=where)
        return np.clip(out, 0.0, 1.0)

    def _activation(self) -> str | None:
        if hasattr(self.classifier, "activation"):
            return self.classifier.activation()
        from audit.model.keras_model import output_activation  # a bare Keras model and path

        return output_activation(self.classifier.model)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (max subtracted first, so large logits do not overflow)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class ArrayImages:
    """Labelled uint8 images already in memory (e.g. CIFAR-10 from its binary layout), shaped like an
    :class:`~audit.model.images.ImageSet` for :class:`ImageInputs`.

    Parameters
    ----------
    images : ndarray of shape (n_images, height, width, channels), uint8
        At the model's input size.
    labels : ndarray of shape (n_images,), int
    class_names : tuple of str
    paths : tuple of str
        Sample ids.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    paths: tuple[str, ...]
    source: str = "arrays"
    kind: str = "arrays"

    def __len__(self) -> int:
        return len(self.paths)

    def batches(self, batch_size: int) -> Iterator[ImageBatch]:
        for start in range(0, len(self.paths), batch_size):
            yield ImageBatch(images=self.images[start:start + batch_size],
                             labels=self.labels[start:start + batch_size],
                             paths=self.paths[start:start + batch_size], start=start)


def array_inputs(model, images: np.ndarray, labels, class_names: Sequence[str], *,
                 sample_ids: Sequence[str] | None = None, trust_model: bool = False,
                 rescale: str | None = None, model_config=None) -> "ImageInputs":
    """:class:`ImageInputs` over uint8 arrays in memory (same classifier checks as :func:`open_image_inputs`).

    For example the CIFAR-10 test split: ``array_inputs(model_dir, data.x_test, data.y_test,
    data.class_names)``.
    """
    x = np.asarray(images)
    classifier = open_classifier(model, n_classes=len(class_names), config=as_model_config(model_config),
                                 trust=trust_model,
                                 rescale=rescale, size_hint=lambda: tuple(x.shape[1:3]) if x.ndim == 4 else None)
    p = classifier.preprocessing
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (p.height, p.width, p.channels):
        raise AuditError(f"images must be uint8 of shape (N, {p.height}, {p.width}, {p.channels}) for this model; "
                         f"got {x.dtype} {x.shape}", path=classifier.path)
    if classifier.n_outputs != len(class_names):
        raise AuditError(MSG_CLASS_COUNT.format(k=classifier.n_outputs, n=len(class_names),
                                                names=", ".join(class_names), hint=""), path=classifier.path)
    ids = tuple(sample_ids) if sample_ids is not None else tuple(f"{i:05d}" for i in range(len(x)))
    return ImageInputs(classifier=classifier, images=ArrayImages(x, np.asarray(labels, dtype=np.int64),
                                                                 tuple(class_names), ids))


@dataclass
class ImageInputs:
    """The model in the loop: a classifier, labelled images and how the one is fed to the other.

    Attributes
    ----------
    classifier : Classifier, OnnxClassifier or CallableClassifier
        The adapter (:func:`audit.model.open_model.open_classifier`): ``.path``, ``.hashes``,
        ``.preprocessing``, ``.runner()``.
    images : ImageSet
        ``.paths`` (sample ids), ``.labels`` (int64), ``.class_names``, ``.root``.
    preprocessing : Preprocessing
        uint8 (n, H, W, C) -> float32 model input; ``.describe()`` for provenance.
    predictor : Predictor
        uint8 batch -> probabilities (logits detected and softmaxed).
    max_pixels : int
        Images above this many pixels are refused before decoding.
    """

    classifier: object
    images: ImageSet
    max_pixels: int = MAX_PIXELS
    predictor: Predictor = field(init=False)

    def __post_init__(self):
        self.predictor = Predictor(self.classifier)

    @property
    def preprocessing(self) -> Preprocessing:
        return self.classifier.preprocessing

    def batches(self, *, batch_size: int = 256, stats: DecodeStats | None = None,
                workers: int | None = None, image_set: ImageSet | None = None) -> Iterator[ImageBatch]:
        """uint8 batches at the model's input size (converted and resized), with labels and paths."""
        p = self.preprocessing
        if isinstance(image_set or self.images, ArrayImages):
            return (image_set or self.images).batches(batch_size)
        return iter_image_batches(image_set or self.images, height=p.height, width=p.width, channels=p.channels,
                                  batch_size=batch_size, workers=workers, max_pixels=self.max_pixels, stats=stats)

    def predict(self, *, batch_size: int = 256, image_set: ImageSet | None = None, progress: bool = True,
                stats: DecodeStats | None = None, properties: dict | None = None) -> np.ndarray:
        """Probabilities for every image of ``image_set`` (default: ``images``), shape (n, n_classes).

        With ``properties`` (a dict), it is filled with each image's
        :func:`audit.metrics.slices.image_properties` (of the uint8 model input) as batches pass.
        """
        from audit.metrics.slices import image_properties, store_properties

        image_set = image_set or self.images
        n = len(image_set)
        probs = np.empty((n, self.classifier.n_outputs), dtype=np.float64)
        draw = progress and n > 0 and sys.stderr.isatty()
        for batch in self.batches(batch_size=batch_size, stats=stats, image_set=image_set):
            rows = slice(batch.start, batch.start + len(batch.labels))
            probs[rows] = self.predictor(batch.images, batch.paths)
            if properties is not None:
                store_properties(properties, n, rows, image_properties(batch.images))
            if draw:
                done = batch.start + len(batch.labels)
                sys.stderr.write(f"\rpredicting {done:>{len(str(n))}}/{n}")
                sys.stderr.flush()
        if draw:
            sys.stderr.write("\n")
        return probs


def open_image_inputs(model, data: str | Path, *, class_names_file=None, trust_model: bool = False,
                      rescale: str | None = None, max_pixels: int = MAX_PIXELS,
                      model_config=None,
                      input_size: tuple[int, int] | None = None) -> ImageInputs:
    """Open a model and an image folder or manifest, and check that they fit.

    Parameters
    ----------
    model : path or callable
        A ``.keras`` file or an ``audit train`` folder, an ``.onnx`` file, or a callable taking a uint8
        NHWC batch and returning (n, K) probabilities or logits.
    data : path
        A folder with one subfolder per class, or a CSV/Parquet manifest (``path``, ``label``).
    class_names_file : path or sequence of str, optional
        The model's classes in output order, a file with one per line or the names (default: the model
        config's ``class_names``, else sorted folder names or labels).
    trust_model : bool, default False
        Load a Keras model that needs code (Lambda, custom objects); refused otherwise.
    rescale : str, optional
        Keras pixel scaling override (``1/255``, ``none``, ``1/127.5,-1``).
    model_config : path, mapping or ModelConfig, optional
        How the model wants its pixels (:mod:`audit.model.model_config`): a TOML file, or a mapping with the
        file's keys (checked as the file is: unknown keys and bad values are errors).
    input_size : (int, int), optional
        (height, width) for a callable or a model whose input size is dynamic.

    Returns
    -------
    ImageInputs
        Nothing is decoded yet: iterate ``.batches()`` or call ``.predict()``.
    """
    config = as_model_config(model_config)
    names, source = None, "the data"
    if class_names_file is not None and config is not None and config.class_names is not None:
        raise AuditError(MSG_NAMES_TWICE, path=config.path)
    if isinstance(class_names_file, (str, Path)):
        names, source = read_class_names(class_names_file), f"--class-names {class_names_file}"
    elif class_names_file is not None:
        names, source = tuple(class_names_file), "class_names"
    elif config is not None and config.class_names is not None:
        names, source = config.class_names, f"the model config's class_names ({config.path or 'in Python'})"
    image_set = load_image_set(data, class_names=names, class_names_source=source)
    n = len(image_set.class_names)
    classifier = open_classifier(model, n_classes=n, config=config, trust=trust_model, rescale=rescale,
                                 input_size=input_size,
                                 size_hint=lambda: common_size(image_set, max_pixels=max_pixels))
    k = classifier.n_outputs
    if k is not None and k != n:
        hint = HINT_FOLDERS if names is None else ""
        shown = ", ".join(image_set.class_names[:12]) + (", ..." if n > 12 else "")
        raise AuditError(MSG_CLASS_COUNT.format(k=k, n=n, names=shown, hint=hint), path=image_set.source)
    if k is None:
        classifier.n_outputs = n
    return ImageInputs(classifier=classifier, images=image_set, max_pixels=max_pixels)


@dataclass
class ImageAudit:
    """What ``audit run`` and ``audit predict`` need from a model run on image files."""

    pred: Predictions
    calibration: Predictions | None
    calibration_source: str | None
    name: str
    provenance: dict
    root: Path
    image_properties: dict | None = None
    inputs: "ImageInputs | None" = None
    #: how the model was fed (``provenance.settings.model_input``)
    model_input: dict | None = None
    batch_size: int = 256
    #: on Dask: ``run_cells`` for the robustness cells (:func:`audit.model.dask_inference.cell_runner`)
    run_cells: object = None


def image_predictions(model, data: str | Path, *, class_names_file=None, metadata=None,
                      group_cols: Sequence[str] = (), allow_metadata_gaps: bool = False,
                      calibration_data=None, trust_model: bool = False, rescale: str | None = None,
                      batch_size: int = 256, progress: bool = True, model_config=None,
                      input_size: tuple[int, int] | None = None, client=None) -> ImageAudit:
    """Predictions (sample ids = relative paths, groups from ``metadata``) and their provenance
    (arguments as :func:`open_image_inputs`). With ``client`` (a ``distributed.Client``) the images are
    decoded and predicted on its workers, one task per partition (:mod:`audit.model.dask_inference`)."""
    from audit.hashing import sha256_file

    model_config = as_model_config(model_config)  # read once: the client, the workers and provenance share it
    inputs = open_image_inputs(model, data, class_names_file=class_names_file, trust_model=trust_model,
                               rescale=rescale, model_config=model_config, input_size=input_size)
    on_dask = None
    if client is not None:
        from audit.model import dask_inference

        on_dask = dask_inference.classifier_spec(inputs, batch_size=batch_size, model=model, trust_model=trust_model,
                                                 rescale=rescale, model_config=model_config,
                                                 input_size=input_size)

    def predict(image_set, stats, properties=None):
        if on_dask is None:
            return inputs.predict(batch_size=batch_size, image_set=image_set, progress=progress, stats=stats,
                                  properties=properties)
        return dask_inference.predict_image_set(client, on_dask, inputs, image_set, stats=stats,
                                                properties=properties)
    groups, meta_report = {}, None
    if metadata:
        from audit.model.metadata import load_metadata

        groups, meta_report = load_metadata(metadata, inputs.images, group_cols=group_cols,
                                            allow_gaps=allow_metadata_gaps)
    elif group_cols:
        raise AuditError("--group-col with image data selects columns of --metadata CSV; no --metadata given")
    calibration_set = None
    if calibration_data:
        calibration_set = load_image_set(calibration_data, class_names=inputs.images.class_names,
                                         class_names_source="the audit data's classes")
    stats, props = DecodeStats(), {}
    probs = predict(inputs.images, stats, props)
    images = inputs.images
    pred = make_predictions(images.labels, probs, images.class_names, sample_ids=np.asarray(images.paths),
                            groups=groups, source=images.source)
    calibration, cal_source, cal_stats = None, None, None
    if calibration_set is not None:
        cal_stats = DecodeStats()
        cal_probs = predict(calibration_set, cal_stats)
        calibration = make_predictions(calibration_set.labels, cal_probs, images.class_names,
                                       source=calibration_set.source)
        cal_source = f"calibration images {calibration_data}"

    clf = inputs.classifier
    data_hashes = {"image_set": stats.image_set_sha256()}
    if calibration_set is not None:
        data_hashes["calibration_image_set"] = cal_stats.image_set_sha256()
    if images.kind == "manifest":
        data_hashes[Path(images.source).name] = sha256_file(images.source)
    if metadata:
        data_hashes[Path(metadata).name] = sha256_file(metadata)
    if isinstance(class_names_file, (str, Path)):
        data_hashes[Path(class_names_file).name] = sha256_file(class_names_file)
    config = getattr(clf, "config", None) or model_config
    if config is not None and config.path:
        data_hashes[Path(config.path).name] = config.sha256
    decode = stats.describe()
    names_source = (str(class_names_file) if isinstance(class_names_file, (str, Path)) else
                    "class_names" if class_names_file is not None else
                    "the model config's class_names" if config is not None and config.class_names else
                    "sorted subfolder names" if images.kind == "folder" else "sorted manifest labels")
    prov = {
        "model_sha256": clf.hashes or None,
        "data_sha256": data_hashes,
        "model_path": str(clf.path) if clf.path is not None else f"python callable {clf.run_name}",
        "images": {
            "source": images.source, "kind": images.kind, "n": len(images),
            "class_names_source": names_source,
            "image_set_hash": "SHA-256 of '<relative path>\\t<SHA-256 of the file>\\n' lines sorted by path",
            **clf.preprocessing.describe(),
            "resize": RESIZE, "conversion": conversion(clf.preprocessing.channels), "max_pixels": inputs.max_pixels,
            "decoded": decode,
            "calibration_decoded": None if cal_stats is None else cal_stats.describe(),
            "outputs": inputs.predictor.outputs,
            "trusted_model_code": clf.trusted,
            "metadata": meta_report,
        },
    }
    model_input = {
        "input": f"{clf.preprocessing.height}x{clf.preprocessing.width}x{clf.preprocessing.channels}",
        "scaling": clf.preprocessing.formula, "scaling_source": clf.preprocessing.source,
        "outputs": inputs.predictor.outputs, "resized": decode["resized"],
        "converted": decode["converted"] or "none", "trust_model": bool(trust_model)}
    if clf.framework != "keras" or config is not None:
        extra = {"framework": clf.framework, "layout": clf.preprocessing.layout,
                 "input_dtype": clf.preprocessing.dtype}
        if clf.preprocessing.flat:
            extra["flattened"] = clf.preprocessing.flattened
        if config is not None:
            extra["model_config"] = config.describe()
        model_input.update(extra)
        prov["images"].update(extra)
    if clf.framework == "onnxruntime":
        prov["versions"] = _versions("onnxruntime", "onnx")
    run_cells = None
    if on_dask is not None:
        prov["dask"] = dask_inference.cluster_provenance(client)
        run_cells = dask_inference.cell_runner(client, on_dask, dask_inference.file_images(inputs, images),
                                               finish=lambda raw: inputs.predictor.finish(raw))
    name = clf.run_name
    return ImageAudit(pred=pred, calibration=calibration, calibration_source=cal_source, name=name,
                      provenance=prov, root=images.root, image_properties=props, inputs=inputs,
                      model_input=model_input, batch_size=batch_size, run_cells=run_cells)


def predict_provenance(run: ImageAudit) -> dict:
    """What ``audit predict`` writes beside its predictions file (:func:`audit.sources.save_with_provenance`),
    for a later ``audit run --predictions`` to record: the model's and the images' SHA-256, and
    ``predicted_by`` (the model path, the image conversion and preprocessing, the tool and library versions).
    """
    from audit import __version__
    from audit.versions import library_versions

    prov = run.provenance
    framework = (run.model_input or {}).get("framework", "keras")
    return {"model_sha256": prov["model_sha256"], "data_sha256": prov["data_sha256"],
            "predicted_by": {"command": "audit predict", "tool_version": __version__,
                             "model_path": prov["model_path"], "images": prov["images"],
                             "model_input": run.model_input,
                             "versions": {**library_versions(with_tf=framework == "keras"),
                                          **(prov.get("versions") or {})}}}


def attach_thumbnails(result: dict, root: str | Path, *, size: int = 64) -> None:
    """Fill ``thumbnail`` of each confident mistake from its image file (sample id = path under ``root``)."""
    root = Path(root)
    from audit.engine.data_quality import GALLERY

    found = (result.get("slices") or {}).get("found") or []
    for m in [*(result.get("mistakes") or []), *((result.get("label_quality") or {}).get("flagged") or [])[:GALLERY],
              *(example for entry in found for example in entry.get("examples") or [])]:
        if m.get("sample_id"):
            m["thumbnail"] = thumbnail_uri(root / m["sample_id"], size=size)


def image_source(run: ImageAudit, *, thumbnails: bool = True):
    """The :class:`~audit.sources.prepared.PreparedSource` of a model run on image files, for :func:`audit.run_audit`:
    the predictions, the calibration images' predictions, provenance, the brightness/contrast of the model
    inputs for the image-property slices, and (``thumbnails``) the gallery filled from the image files."""
    from audit.sources.prepared import PreparedSource

    model_inputs = explainer = None
    if run.inputs is not None:
        inputs = run.inputs

        def load_subset(index: np.ndarray) -> np.ndarray:
            """uint8 images (at the model's input size) of the audited samples ``index``, in that order."""
            subset = dataclasses.replace(inputs.images, paths=tuple(inputs.images.paths[i] for i in index),
                                         labels=inputs.images.labels[index])
            return np.concatenate([b.images for b in inputs.batches(image_set=subset)])

        bs = run.batch_size

        def predict_batched(x: np.ndarray) -> np.ndarray:
            """Probabilities of ``x`` fed to the model in batches of the run's batch size from the first image
            (the batches a Dask robustness cell feeds it too)."""
            raw = [inputs.predictor.raw(x[i:i + bs]) for i in range(0, len(x), bs)]
            return inputs.predictor.finish(np.concatenate(raw) if raw else np.zeros((0, inputs.classifier.n_outputs)))

        model_inputs = {"predictor": predict_batched, "subset_loader": load_subset}
        from audit.model.explain.section import ExplainModel

        clf = inputs.classifier
        keras_model = getattr(clf, "model", None) if clf.framework == "keras" else None
        explainer = ExplainModel(predict=predict_batched, load=load_subset, framework=clf.framework,
                                 keras_model=keras_model, preprocess=clf.preprocessing if keras_model is not None
                                 else None, path=clf.path)
        if run.run_cells is not None:
            model_inputs.update(run_cells=run.run_cells, properties=run.image_properties)
    return PreparedSource(pred=run.pred, name=run.name, kind="model", calibration=run.calibration,
                          calibration_source=run.calibration_source, provenance=dict(run.provenance),
                          model_input=run.model_input,
                          image_properties=run.image_properties, model_inputs=model_inputs, explainer=explainer,
                          fill_thumbnails=(lambda result: attach_thumbnails(result, run.root)) if thumbnails else None)


def check_input_size(input_size) -> tuple[int, int] | None:
    """``input_size`` as (height, width), two integers ≥ 1 (None stays None); :class:`AuditError` naming
    the argument otherwise."""
    import numbers

    if input_size is None:
        return None
    if isinstance(input_size, np.ndarray):
        input_size = tuple(input_size.tolist())
    if (isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence) or len(input_size) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in input_size)):
        raise AuditError(MSG_NUMBER.format(name="input_size", expected="(height, width), two integers ≥ 1",
                                           value=input_size))
    return int(input_size[0]), int(input_size[1])


def _versions(*names: str) -> dict[str, str | None]:
    """Installed versions of the model runtime's distributions (metadata only: nothing is imported)."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


@check_keywords
def model_source(model, data: str | Path, *, metadata: str | Path | None = None, class_names=None,
                 calibration_data: str | Path | None = None, model_config=None,
                 input_size: tuple[int, int] | None = None, batch_size: int = 512,
                 group_cols: Sequence[str] = (), trust_model: bool = False, thumbnails: bool = True,
                 progress: bool = False, client=None):
    """A model run on labelled image files, as a source for :func:`audit.run_audit`.

    Parameters
    ----------
    model : path or callable
        A ``.keras`` file or ``audit train`` folder, an ``.onnx`` file, or a callable that takes a uint8
        NHWC batch of shape (n, H, W, 3) and returns (n, K) probabilities or logits (a PyTorch module
        wrapped in a few lines, a JAX function, an sklearn pipeline).
    data : path
        A folder with one subfolder per class, or a CSV/Parquet manifest (``path``, ``label``).
    metadata : path, optional
        Per-image attributes as group columns (``group_cols`` selects among them).
    class_names : path or sequence of str, optional
        The model's classes in output order.
    calibration_data : path, optional
        Held-out images to fit the temperature on.
    model_config : path, mapping or ModelConfig, optional
        How the model wants its pixels (``--model-config``): a TOML file, or a mapping with the file's keys
        (``{"output": "logits", "mean": [...]}``), checked as the file is (unknown keys are errors).
    input_size : (int, int), optional
        (height, width) for a callable, or a model whose input size is dynamic (default: the images'
        own size where they all share one).
    batch_size : int, default 512
    client : distributed.Client, optional
        Decode and predict on its workers, and run each robustness cell as a task (docs/scale.md).

    Returns
    -------
    PreparedSource
        With the model in the loop: the robustness audit, the image-property slices and the gallery
        work for it as for a file.
    """
    check_int("batch_size", batch_size, minimum=1)
    input_size = check_input_size(input_size)
    run = image_predictions(model, data, class_names_file=class_names, metadata=metadata, group_cols=group_cols,
                            calibration_data=calibration_data, trust_model=trust_model, batch_size=batch_size,
                            progress=progress, model_config=model_config, input_size=input_size, client=client)
    return image_source(run, thumbnails=thumbnails)
