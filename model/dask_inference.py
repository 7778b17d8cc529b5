"""The model in the loop on a Dask cluster: image decoding, inference and the robustness cells as tasks.

What travels to the workers is paths, index ranges and small specs (:class:`ModelSpec`, :class:`FileImages`,
:class:`CifarImages`); what comes back is the model's raw outputs (float64, n x K), each image's SHA-256 and
decode bookkeeping, and its image properties. Never a model, an onnxruntime session or the image set's
pixels: each worker opens the model once from its path (:func:`worker_model`, a per-process cache keyed by
path, SHA-256 and how the model is fed, counted in :data:`LOADS`) and reads the images itself, so the files must be readable by
every worker under the same paths (a shared filesystem; docs/scale.md).

Same numbers as one process: partitions are whole multiples of the batch size, so the model sees the same
batches; the raw outputs are turned into probabilities on the client by the run's own
:class:`~audit.model.image_audit.Predictor`, batch by batch in image order (the logits/probabilities decision
on the first batch, the checks on every later one); a robustness cell is corrupted block by block from one
generator (:func:`audit.robustness.corruptions.corrupt_blocks`, equal to corrupting the whole subset) and
predicted in the same batches. Tasks are pure functions of their arguments: one lost with its worker is
recomputed elsewhere with the same result.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from audit.errors import AuditError

#: Batches per partition of the image set (one task each): at most this many, fewer where that gives every
#: worker at least TASKS_PER_WORKER partitions (so that 8 or 32 workers all get work on 10,000 images).
PARTITION_BATCHES = 4
TASKS_PER_WORKER = 4
#: Robustness subsets of up to this many images are sent inside every cell task; larger ones once.
EMBED_MAX = 20_000
#: Models kept open per worker process (the least recently opened is dropped beyond it).
MAX_MODELS = 2
#: onnxruntime intra-op threads of a session opened on a worker: one per task, and a worker runs one task per
#: thread, so a worker with T threads uses T cores (its share), not T x every core.
WORKER_SESSION_THREADS = 1
MSG_CALLABLE = ("--dask opens the model from its file on every worker; a Python callable cannot be sent "
                "(give a .keras or .onnx file, or an `audit train` folder)")
MSG_CLUSTER = "the Dask cluster failed to run {task}: {reason}"
MSG_OTHER_MODEL = ("the model file on worker {worker} has SHA-256 {got}, not the client's {want}: every worker "
                   "must read the same file under the same path (a shared filesystem)")

#: Times each model (path, SHA-256, how it is fed: the cache key) was opened in this process: once each.
LOADS: Counter = Counter()
_MODELS: dict = {}
_DATASETS: dict = {}
_LOCK = threading.Lock()


# ---------------------------------------------------------------------------------------------
# What is sent: specs of picklable plain values


@dataclass(frozen=True)
class ModelSpec:
    """How a worker opens the model: ``kind`` "classifier" (a .keras or .onnx file through
    :func:`audit.model.open_model.open_classifier`) or "saved" (an ``audit train`` folder, the seed network)."""

    kind: str
    path: str
    hashes: str  # JSON of {file name: SHA-256}, the cache key with the path
    n_classes: int
    batch_size: int
    config: object = None
    trust: bool = False
    rescale: str | None = None
    input_size: tuple[int, int] | None = None
    size: tuple[int, int] | None = None


@dataclass(frozen=True)
class FileImages:
    """Image files under ``root`` (relative ``paths``), decoded on the worker at the model's input size."""

    root: str
    paths: tuple[str, ...]
    height: int
    width: int
    channels: int
    max_pixels: int

    def image_set(self, paths: Sequence[str]):
        from audit.model.images import ImageSet

        return ImageSet(root=Path(self.root), paths=tuple(paths), labels=np.zeros(len(paths), dtype=np.int64),
                        class_names=(), source=self.root, kind="folder")

    def blocks(self, index: np.ndarray, size: int):
        """uint8 blocks of ``size`` images (the images ``index``, in order), decoded on a bounded pool."""
        from audit.model.images import iter_image_batches

        sub = self.image_set([self.paths[i] for i in index])
        for batch in iter_image_batches(sub, height=self.height, width=self.width, channels=self.channels,
                                        batch_size=size, max_pixels=self.max_pixels):
            yield batch.images


@dataclass(frozen=True)
class CifarImages:
    """A CIFAR-10 split read on the worker from the binary layout at ``data`` (None: Keras's cache)."""

    data: str | None
    split: str  # "test" or "train"

    def array(self) -> np.ndarray:
        ds = worker_dataset(self.data)
        return ds.x_test if self.split == "test" else ds.x_train

    def blocks(self, index: np.ndarray, size: int):
        x = self.array()
        for i in range(0, len(index), size):
            yield x[index[i:i + size]]


# ---------------------------------------------------------------------------------------------
# Worker side: the per-process caches


@dataclass(frozen=True)
class Opened:
    """A model open in a worker: ``run(uint8 batch) -> raw outputs``; ``model`` the Keras model of a saved folder."""

    run: object
    model: object = None
    #: the adapter (:func:`audit.model.open_model.open_classifier`) of a .keras or .onnx file
    classifier: object = None


def worker_model(spec: ModelSpec) -> Opened:
    """The model of ``spec`` in this worker process, opened on first use. Never pickled; opened once per
    process and ``(path, hashes)`` and the way it is fed (model config, ``--rescale``, input size, trust): the
    same file opened with another config is another model."""
    key = cache_key(spec)
    with _LOCK:
        found = _MODELS.get(key)
        if found is None:
            found = _open(spec)
            while len(_MODELS) >= MAX_MODELS:
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[key] = found
            LOADS[key] += 1
        return found


def cache_key(spec: ModelSpec) -> tuple:
    """The key of ``spec``'s model in a worker's cache: the file (path, hashes) and how it is fed."""
    return (spec.path, spec.hashes, spec.config, spec.rescale, spec.input_size, spec.size, spec.trust)


def _open(spec: ModelSpec):
    if spec.kind == "saved":
        from audit.model.artifacts import load_model, read_manifest
        from audit.robustness.evaluate import keras_predictor

        _check_same(json.dumps(read_manifest(spec.path).get("artifacts", {}), sort_keys=True), spec)
        model = load_model(spec.path)
        return Opened(keras_predictor(model, batch_size=spec.batch_size), model)
    from audit.model.open_model import open_classifier

    size = spec.size
    # one intra-op thread per ONNX session: each of the worker's threads runs a task of its own, so the worker
    # uses its threads' share of the cores (every core per session would oversubscribe them workers x threads times)
    clf = open_classifier(spec.path, n_classes=spec.n_classes, config=spec.config, trust=spec.trust,
                          rescale=spec.rescale, input_size=spec.input_size, size_hint=lambda: size,
                          threads=WORKER_SESSION_THREADS)
    if clf.n_outputs is None:
        clf.n_outputs = spec.n_classes
    _check_same(json.dumps(clf.hashes, sort_keys=True), spec)
    runner = clf.runner()

    def raw(images_uint8: np.ndarray) -> np.ndarray:  # as Predictor.raw: the client's Predictor.finish does the rest
        return np.asarray(runner(np.ascontiguousarray(images_uint8, dtype=np.uint8)), dtype=np.float64)

    return Opened(raw, classifier=clf)


def _check_same(hashes: str, spec: ModelSpec) -> None:
    """Refuse a model whose files on this worker are not the client's (no shared filesystem, a stale copy)."""
    if hashes != spec.hashes:
        import socket

        raise AuditError(MSG_OTHER_MODEL.format(worker=socket.gethostname(), got=hashes, want=spec.hashes),
                         path=spec.path)


def worker_dataset(data: str | None):
    """CIFAR-10 loaded once per worker process from ``data``."""
    with _LOCK:
        if data not in _DATASETS:
            from audit.model.data import load_cifar10

            _DATASETS.clear()
            _DATASETS[data] = load_cifar10(None if data is None else Path(data))
        return _DATASETS[data]


def session_threads() -> list[int]:
    """onnxruntime intra-op threads of each ONNX session open in this worker (``client.run(session_threads)``)."""
    with _LOCK:
        opened = list(_MODELS.values())
    return [o.classifier.session.get_session_options().intra_op_num_threads for o in opened
            if getattr(o.classifier, "framework", None) == "onnxruntime"]


def loads() -> dict:
    """``{"path sha how-fed": times opened}`` of this process (for ``client.run(loads)`` in tests and benchmarks)."""
    return {f"{p} {h} {tuple(fed)!r}": n for (p, h, *fed), n in LOADS.items()}


# ---------------------------------------------------------------------------------------------
# Tasks: plain functions of picklable arguments


def predict_files(model: ModelSpec, images: FileImages, *, properties: bool) -> dict:
    """Decode and predict the images of one partition (``images`` holds its paths) in batches of
    ``model.batch_size``.

    Returns raw outputs (float64), per image the file's raw SHA-256 and decode flags, and (``properties``)
    :func:`audit.metrics.slices.image_properties` of the uint8 model input (brightness, contrast, saturation,
    edge density, dominant colour), as one process computes them."""
    from audit.metrics.slices import image_properties
    from audit.model.images import DecodeStats, iter_image_batches

    run = worker_model(model).run
    sub = images.image_set(images.paths)
    stats = DecodeStats()
    raw, props = [], {}
    for batch in iter_image_batches(sub, height=images.height, width=images.width, channels=images.channels,
                                    batch_size=model.batch_size, max_pixels=images.max_pixels, stats=stats):
        raw.append(run(batch.images))
        if properties:
            for name, values in image_properties(batch.images).items():
                props.setdefault(name, []).append(values)
    return {"raw": np.concatenate(raw) if raw else np.zeros((0, model.n_classes)),
            "digests": stats.digests if stats.digests is not None else np.zeros((0, 32), np.uint8),
            "n": stats.n, "resized": stats.resized, "animated": stats.animated, "converted": dict(stats.converted),
            "properties": {k: np.concatenate(v) for k, v in props.items()} if properties and raw else None}


def predict_rows_task(model: ModelSpec, images: CifarImages, rows: np.ndarray) -> np.ndarray:
    """Probabilities (float32, as :func:`audit.model.predict.predict`) of the seed network on CIFAR-10 rows."""
    from audit.model.predict import predict

    return predict(worker_model(model).model, images.array()[rows], batch_size=model.batch_size, progress=False)


def _hold(images, index: np.ndarray):
    return images, index


def run_cell(model: ModelSpec, held: tuple, name: str, severity: int, seed: int, example: int | None) -> dict:
    """One robustness cell: the images ``index`` corrupted as ``corrupt(images[index], name, severity,
    seed)`` but block by block (one block of decoded images held at a time), predicted in batches of
    ``model.batch_size`` from the first image. Returns the raw outputs and the corrupted example image."""
    from audit.robustness.corruptions import block_images, corrupt_blocks

    images, index = held
    run = worker_model(model).run
    height, width = _size(images)
    step = block_images(name, height, width)
    outputs, pending, shown, done = [], [], None, 0
    bs = model.batch_size

    def flush(final: bool):
        nonlocal pending
        held = np.concatenate(pending) if len(pending) > 1 else (pending[0] if pending else None)
        if held is None:
            return
        cut = len(held) if final else len(held) // bs * bs
        for i in range(0, cut, bs):
            outputs.append(np.asarray(run(held[i:i + bs]), dtype=np.float64))
        pending = [held[cut:]] if cut < len(held) else []

    for block in corrupt_blocks(images.blocks(index, step), name, severity, seed):
        if example is not None and done <= example < done + len(block):
            shown = block[example - done].copy()
        done += len(block)
        pending.append(block)
        if sum(len(p) for p in pending) >= bs:
            flush(False)
    flush(True)
    return {"raw": np.concatenate(outputs) if outputs else np.zeros((0, model.n_classes)), "example": shown}


def _size(images) -> tuple[int, int]:
    if isinstance(images, FileImages):
        return images.height, images.width
    return tuple(images.array().shape[1:3])


# ---------------------------------------------------------------------------------------------
# Client side


def result(future):
    """The result of a task; the cluster's own failures (a task whose workers kept dying, a lost
    connection) as one :class:`AuditError` line. Errors raised by the task itself (an unreadable image
    named by its path) come through as they are."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker

    try:
        return future.result()
    except (KilledWorker, CancelledError, TimeoutError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise AuditError(MSG_CLUSTER.format(task=str(future.key).split("-")[0], reason=reason)) from None


def partitions(n: int, batch_size: int, per_partition: int = PARTITION_BATCHES,
               workers: int | None = None) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive partitions of ``per_partition`` whole batches (the last may be short);
    with ``workers``, fewer batches a partition where needed for ``TASKS_PER_WORKER`` partitions a worker.
    Partitions never change the numbers: the model sees the same batches whatever their grouping."""
    if workers:
        batches = -(-n // batch_size)
        per_partition = min(per_partition, max(1, batches // (TASKS_PER_WORKER * workers)))
    size = batch_size * max(1, per_partition)
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def _workers(client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


def classifier_spec(inputs, *, batch_size: int, model, trust_model: bool = False, rescale: str | None = None,
                    model_config=None, input_size=None) -> ModelSpec:
    """The :class:`ModelSpec` of an :class:`~audit.model.image_audit.ImageInputs` opened on the client.

    ``model_config`` is the parsed :class:`~audit.model.model_config.ModelConfig` the client opened the model
    with (or None): the workers open the model with the same one, so a ``.keras`` model gets the same
    scale/mean/std and an ONNX model the same layout and input size as in one process."""
    if callable(model) and not isinstance(model, (str, Path)):
        raise AuditError(MSG_CALLABLE)
    clf = inputs.classifier
    p = clf.preprocessing
    return ModelSpec(kind="classifier", path=str(Path(model).resolve()),
                     hashes=json.dumps(clf.hashes, sort_keys=True), n_classes=len(inputs.images.class_names),
                     batch_size=batch_size, config=model_config, trust=trust_model, rescale=rescale,
                     input_size=tuple(input_size) if input_size is not None else None, size=(p.height, p.width))


def saved_spec(model_dir, manifest: dict, *, batch_size: int, n_classes: int) -> ModelSpec:
    """The :class:`ModelSpec` of an ``audit train`` folder (keyed by its artifacts' SHA-256)."""
    return ModelSpec(kind="saved", path=str(Path(model_dir).resolve()),
                     hashes=json.dumps(manifest.get("artifacts", {}), sort_keys=True), n_classes=n_classes,
                     batch_size=batch_size)


def cifar_images(data_path, split: str) -> CifarImages:
    return CifarImages(data=None if data_path is None else str(Path(data_path).resolve()), split=split)


def cifar_rows(client, spec: ModelSpec, data_path, *, per_partition: int = PARTITION_BATCHES):
    """``predict_rows(split, rows)`` for :func:`audit.model.predict.cifar10_predictions`: one task per
    partition of ``rows``, gathered in order."""

    def predict_rows(split: str, rows: np.ndarray) -> np.ndarray:
        images = cifar_images(data_path, split)
        parts = partitions(len(rows), spec.batch_size, per_partition, workers=_workers(client))
        futures = [client.submit(predict_rows_task, spec, images, np.asarray(rows[a:b]), pure=False)
                   for a, b in parts]
        try:
            out = [result(f) for f in futures]
        finally:
            client.cancel(futures)
        return np.concatenate(out) if out else np.zeros((0, spec.n_classes), dtype=np.float32)

    return predict_rows


def file_images(inputs, image_set) -> FileImages:
    p = inputs.preprocessing
    return FileImages(root=str(Path(image_set.root).resolve()), paths=tuple(image_set.paths), height=p.height,
                      width=p.width, channels=p.channels, max_pixels=inputs.max_pixels)


def predict_image_set(client, spec: ModelSpec, inputs, image_set, *, stats, properties: dict | None = None,
                      per_partition: int = PARTITION_BATCHES) -> np.ndarray:
    """Probabilities of every image of ``image_set`` computed on the cluster, one task per partition,
    gathered in order; ``stats`` (a :class:`~audit.model.images.DecodeStats`) and ``properties`` filled
    as :meth:`~audit.model.image_audit.ImageInputs.predict` fills them."""
    from audit.metrics.slices import store_properties

    images = file_images(inputs, image_set)
    n = len(image_set)
    parts = partitions(n, spec.batch_size, per_partition, workers=_workers(client))
    # each task carries its own paths (never scattered: data scattered to a worker dies with it, a task's
    # arguments stay with the scheduler and are sent again when the task is retried elsewhere)
    futures = [client.submit(predict_files, spec, replace(images, paths=images.paths[a:b]),
                             properties=properties is not None, pure=False) for a, b in parts]
    probs = np.empty((n, inputs.classifier.n_outputs), dtype=np.float64)
    stats.digests = np.zeros((n, 32), dtype=np.uint8)
    stats.paths = tuple(image_set.paths)
    bs = spec.batch_size
    try:
        for (a, b), fut in zip(parts, futures):
            r = result(fut)
            for i in range(a, b, bs):  # the client's Predictor, batch by batch in order, as in one process
                j = min(i + bs, b)
                probs[i:j] = inputs.predictor.finish(r["raw"][i - a:j - a], image_set.paths[i:j])
            stats.digests[a:b] = r["digests"]
            stats.n += r["n"]
            stats.resized += r["resized"]
            stats.animated += r["animated"]
            stats.converted.update(r["converted"])
            if properties is not None and r["properties"]:
                store_properties(properties, n, slice(a, b), r["properties"])
    finally:
        client.cancel(futures)
    return probs


def cell_runner(client, spec: ModelSpec, images, *, finish=None, clean_loader=None):
    """A ``run_cells`` for :func:`audit.robustness.evaluate.evaluate_robustness`: one task per
    (corruption, severity) cell on ``images`` (:class:`FileImages` or :class:`CifarImages`); ``finish``
    turns a cell's raw outputs into probabilities (default: as they are); ``clean_loader(indices)`` reads
    the clean example image on the client."""

    def run_cells(idx, cells, example, seed):
        idx = np.asarray(idx)
        if isinstance(images, FileImages):  # only the subset's paths travel
            subset, index = replace(images, paths=tuple(images.paths[i] for i in idx)), np.arange(len(idx))
        else:
            subset, index = images, idx
        # a subset of up to EMBED_MAX images rides in every cell task (no task depends on another worker's
        # data); a larger one is sent once as the argument of a task, whose result the cells read (recomputed
        # if its worker is lost; data scattered to a worker would be lost with it)
        held = (subset, index) if len(index) <= EMBED_MAX else client.submit(_hold, subset, index, pure=False)
        futures = [client.submit(run_cell, spec, held, name, int(s), int(seed), example, pure=False)
                   for name, s in cells]
        try:
            out = [result(f) for f in futures]
        finally:
            client.cancel([*futures, *([] if isinstance(held, tuple) else [held])])
        probs = [finish(r["raw"]) if finish is not None else r["raw"] for r in out]
        clean = None
        if example is not None and clean_loader is not None:
            clean = clean_loader(np.asarray([idx[example]]))[0]
        return probs, [r["example"] for r in out], clean

    return run_cells


def cluster_provenance(client) -> dict:
    """``provenance.dask``: where the run went: ``local:N`` for a LocalCluster (its address changes from run to
    run), else the scheduler's address; the number of workers and threads; batches per partition."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    local = type(getattr(client, "cluster", None)).__name__ == "LocalCluster"
    return {"scheduler": f"local:{len(workers)}" if local else str(info.get("address")),
            "workers": len(workers), "threads": int(sum(w.get("nthreads", 0) for w in workers.values())),
            "partition_batches": PARTITION_BATCHES}
