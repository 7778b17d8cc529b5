"""Train the seed network exactly as the notebook does (seeded, shuffled, validation indices recorded) and save it;
optionally in the fast mode (mixed bfloat16 and a ``tf.data`` pipeline from the uint8 images)."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from audit.errors import AuditError
from audit.versions import library_versions
from audit.model.artifacts import check_out_dir, default_model_dir, save_artifacts
from audit.model.data import Cifar10
from audit.model.network import make_model
from audit.model.optimizer import FUSED_UPDATE, KERAS_UPDATE, fuse_rmsprop, make_optimizer
from audit.model.quiet import import_keras, quiet_stderr

NB_CLASSES = 10
LOSS = "categorical_crossentropy"
#: Keras precision policies of the default and the fast mode.
POLICY_DEFAULT = "float32"
POLICY_FAST = "mixed_bfloat16"
#: How the images reach ``model.fit``, as recorded in the manifest.
PIPELINE_DEFAULT = "numpy float32 arrays, Keras validation_split"
PIPELINE_FAST = ("tf.data from uint8 arrays: seeded shuffle, batch, cast/scale to float32 in the pipeline, "
                 "prefetch 2 batches; one private pipeline thread, autotuning off")
#: Fast mode's ``tf.data`` pipeline: threads of its private pool, and batches prefetched.
PIPELINE_THREADS = 1
PIPELINE_PREFETCH = 2
MSG_TOO_FEW = (
    "{n} training image(s) with validation_split={split} leave {train} for training and {val} for "
    "validation; both need at least one"
)


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced.

    Parameters
    ----------
    model : keras.Model
        The trained network.
    history : list of dict
        Per epoch: epoch (1-based), loss, accuracy, val_loss, val_accuracy, seconds.
    test_loss, test_accuracy : float
        ``model.evaluate`` on the test images, as the notebook prints them.
    validation_indices : ndarray of shape (n_validation,), int64
        Indices into the original training arrays of the held-out validation images.
    out_dir : Path
        The model folder written.
    manifest : dict
        The contents of ``manifest.json``.
    """

    model: Any
    history: list[dict[str, Any]]
    test_loss: float
    test_accuracy: float
    validation_indices: np.ndarray
    out_dir: Path
    manifest: dict[str, Any]


def split_order(n_train: int, *, seed: int, limit: int | None, validation_split: float) -> tuple[np.ndarray, int]:
    """The shuffled training order and where Keras's ``validation_split`` cuts it.

    Returns ``(order, split_at)``: ``order`` (shape (n,), indices into the original training arrays,
    n = min(limit, n_train)) is a seeded permutation; Keras trains on ``order[:split_at]`` and
    validates on ``order[split_at:]`` (it takes the *last* ``validation_split`` of the arrays, cut at
    ``floor(n * (1 - validation_split))``).
    """
    order = np.random.default_rng(seed).permutation(n_train)
    if limit is not None:
        order = order[:limit]
    n = order.shape[0]
    split_at = int(math.floor(n * (1.0 - validation_split)))  # keras array_slicing.train_validation_split
    if split_at <= 0 or split_at >= n:
        raise AuditError(MSG_TOO_FEW.format(n=n, split=validation_split, train=split_at, val=n - split_at),
                         hint="raise --limit")
    return order, split_at


def train(
    data: Cifar10,
    *,
    epochs: int = 20,
    batch_size: int = 128,
    seed: int = 42,
    limit: int | None = None,
    validation_split: float = 0.2,
    out_dir: str | Path | None = None,
    verbose: int | None = None,
    fast: bool = False,
) -> TrainResult:
    """Train the seed network on ``data`` as the notebook does and save every artefact.

    Inputs are scaled to [0, 1] float32, labels one-hot; categorical cross-entropy, RMSprop with
    Keras defaults, accuracy metric, ``model.fit(..., validation_split=validation_split)``. The
    training set is first put in a seeded random order (``validation_split`` takes the last part),
    and the validation images' original indices are recorded.

    Parameters
    ----------
    data : Cifar10
    epochs, batch_size : int, default 20 and 128
    seed : int, default 42
        Seeds Python, numpy and TensorFlow (``keras.utils.set_random_seed``) and the shuffle.
    limit : int, optional
        Train on a seeded random ``limit`` of the training images (validation split included) and
        evaluate on the first ``min(limit, n_test)`` test images: for quick runs and tests.
    validation_split : float, default 0.2
    out_dir : path, optional
        Model folder; default ``models/cifar10-seed`` in the repository.
    verbose : int, optional
        Keras verbosity: 1 prints the progress bar per epoch, 2 one line per epoch (for logs), 0
        nothing (the summary and test score are printed when ``verbose`` > 0). Default: 1 when stdout
        is a terminal, else 2 (:func:`progress_verbosity`).
    fast : bool, default False
        Opt-in fast mode, same network and same data split: the ``mixed_bfloat16`` precision policy
        (bfloat16 compute, float32 weights and float32 output probabilities) and a ``tf.data``
        pipeline that batches the uint8 images and scales them inside the pipeline (no float32 copy
        of the training set; one pipeline thread, so it does not compete with the training step),
        and RMSprop's update through TensorFlow's fused kernel (:func:`model.optimizer.fuse_rmsprop`,
        same update up to rounding). The global policy is restored afterwards. Weights differ from
        a float32 run with the same seed; see BENCHMARKS.md for the measured speed and accuracy.

    Returns
    -------
    TrainResult
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("limit", limit)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 1):
            raise AuditError(f"{name} must be an integer >= 1; got {value!r}")
    if not 0.0 < validation_split < 1.0:
        raise AuditError(f"validation_split must lie in (0, 1); got {validation_split!r}")
    out_dir = check_out_dir(default_model_dir() if out_dir is None else out_dir)
    order, split_at = split_order(len(data.y_train), seed=seed, limit=limit, validation_split=validation_split)
    n_test = len(data.y_test) if limit is None else min(limit, len(data.y_test))

    if verbose is None:
        verbose = progress_verbosity()
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    say = print if verbose else (lambda *a, **k: None)
    say("X_train shape:", (len(order), *data.x_train.shape[1:]))
    say(len(order), "train samples")
    say(n_test, "test samples")

    policy = POLICY_FAST if fast else POLICY_DEFAULT
    timer = epoch_timer(keras)
    with precision_policy(policy):
        model = make_model(data.x_train.shape[1:], NB_CLASSES)
        if verbose:
            model.summary()
        optimizer = make_optimizer(keras)
        model.compile(loss=LOSS, optimizer=optimizer, metrics=["accuracy"])
        if fast:
            fuse_rmsprop(optimizer, model.trainable_variables)
        with quiet_stderr():
            if fast:
                fitted, score = _fit_pipeline(model, data, order, split_at, n_test, epochs=epochs,
                                              batch_size=batch_size, seed=seed, verbose=verbose, timer=timer)
            else:
                fitted, score = _fit_arrays(keras, model, data, order, n_test, epochs=epochs, batch_size=batch_size,
                                            validation_split=validation_split, verbose=verbose, timer=timer)
    say("Test score:", score[0])
    say("Test accuracy:", score[1])

    history = [
        {"epoch": i + 1, **{k: float(v[i]) for k, v in fitted.history.items()}, "seconds": timer.seconds[i]}
        for i in range(len(timer.seconds))
    ]
    validation_indices = order[split_at:].astype(np.int64)
    manifest = _manifest(
        keras, model, data, optimizer,
        epochs=epochs, batch_size=batch_size, seed=seed, limit=limit, validation_split=validation_split,
        n_train=split_at, n_validation=len(validation_indices), n_test=n_test,
        history=history, test_loss=float(score[0]), test_accuracy=float(score[1]), fast=fast, policy=policy,
    )
    manifest = save_artifacts(model, out_dir, history=history, validation_indices=validation_indices,
                              manifest=manifest)
    return TrainResult(model=model, history=history, test_loss=float(score[0]),
                       test_accuracy=float(score[1]), validation_indices=validation_indices,
                       out_dir=Path(out_dir), manifest=manifest)


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Set Keras's global dtype policy to ``name`` inside the block and restore the previous one after."""
    keras = import_keras()
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _fit_arrays(keras, model, data: Cifar10, order, n_test, *, epochs, batch_size, validation_split, verbose, timer):
    """The notebook's way: float32 arrays in memory, ``validation_split`` (nothing added per batch)."""
    x_train = data.x_train[order].astype("float32")
    x_train /= 255
    x_test = data.x_test[:n_test].astype("float32")
    x_test /= 255
    y_train = keras.utils.to_categorical(data.y_train[order], NB_CLASSES)
    y_test = keras.utils.to_categorical(data.y_test[:n_test], NB_CLASSES)
    fitted = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs,
                       validation_split=validation_split, verbose=verbose, callbacks=[timer])
    score = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=verbose)
    return fitted, score


def _fit_pipeline(model, data: Cifar10, order, split_at, n_test, *, epochs, batch_size, seed, verbose, timer):
    """Fast mode: ``tf.data`` from the uint8 arrays; the same train/validation rows as ``validation_split``."""
    train_rows, val_rows = order[:split_at], order[split_at:]
    train_ds = image_dataset(data.x_train[train_rows], data.y_train[train_rows], batch_size=batch_size,
                             shuffle_seed=seed)
    val_ds = image_dataset(data.x_train[val_rows], data.y_train[val_rows], batch_size=batch_size)
    test_ds = image_dataset(data.x_test[:n_test], data.y_test[:n_test], batch_size=batch_size)
    fitted = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=verbose, callbacks=[timer],
                       shuffle=False)  # the pipeline reshuffles every epoch
    score = model.evaluate(test_ds, verbose=verbose)
    return fitted, score


def image_dataset(x_uint8: np.ndarray, labels: np.ndarray, *, batch_size: int, shuffle_seed: int | None = None):
    """A ``tf.data.Dataset`` of (images scaled to [0, 1] float32, one-hot labels float32) batches.

    Parameters
    ----------
    x_uint8 : ndarray of shape (n_samples, height, width, channels), uint8
    labels : ndarray of shape (n_samples,), int
    batch_size : int
    shuffle_seed : int, optional
        Reshuffle every epoch with this seed (whole-set buffer); None keeps the order.

    Returns
    -------
    tf.data.Dataset
        Batches ``(x, y)`` of shapes (b, height, width, channels) and (b, 10), b <= ``batch_size``;
        scaling and one-hot encoding run in the pipeline, prefetched.
    """
    import_keras()
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x_uint8, np.asarray(labels, dtype=np.int32)))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(labels), seed=shuffle_seed, reshuffle_each_iteration=True)

    def scale(x, y):
        return tf.cast(x, tf.float32) / 255.0, tf.one_hot(y, NB_CLASSES, dtype=tf.float32)

    # Scaling a batch costs microseconds, so one pipeline thread and a fixed two-batch prefetch are plenty.
    # tf.data's autotuner and its default thread pool (one thread per core) compete with the training
    # step's own threads: on a 2-core CPU about half the epochs then ran at half speed (BENCHMARKS.md).
    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = PIPELINE_THREADS
    return ds.batch(batch_size).map(scale).prefetch(PIPELINE_PREFETCH).with_options(options)


def progress_verbosity(stream=None) -> int:
    """Keras ``verbose`` for ``fit``: 1 (animated bar) on a terminal, 2 (one line per epoch) otherwise."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return 1 if isatty is not None and isatty() else 2


def epoch_timer(keras):
    class EpochTimer(keras.callbacks.Callback):
        """Wall seconds per epoch (training and validation); no per-batch hooks, so no extra syncs."""

        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def _manifest(keras, model, data: Cifar10, optimizer, *, epochs, batch_size, seed, limit, validation_split,
              n_train, n_validation, n_test, history, test_loss, test_accuracy, fast,
              policy) -> dict[str, Any]:
    import tensorflow as tf

    seconds = [row["seconds"] for row in history]
    opt_config = {k: v for k, v in optimizer.get_config().items() if isinstance(v, (int, float, str, bool))}
    return {
        "format": "audit-model/1",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {
            "name": model.name,
            "params": int(model.count_params()),
            "input_shape": list(model.input_shape[1:]),
            "num_classes": NB_CLASSES,
        },
        "dataset": {
            "source": data.source,
            "archive_sha256": data.archive_sha256,
            "files": dict(data.files),
            "class_names": list(data.class_names),
            "n_train": n_train,
            "n_validation": n_validation,
            "n_test": n_test,
        },
        "hyperparameters": {
            "epochs": epochs,
            "batch_size": batch_size,
            "validation_split": validation_split,
            "loss": LOSS,
            "metrics": ["accuracy"],
            "optimizer": opt_config,
            "input_scaling": "uint8 / 255 as float32",
        },
        "fast": bool(fast),
        "precision_policy": policy,
        "input_pipeline": PIPELINE_FAST if fast else PIPELINE_DEFAULT,
        "optimizer_update": FUSED_UPDATE if fast else KERAS_UPDATE,
        "seed": seed,
        "limit": limit,
        "shuffle": "numpy.random.default_rng(seed).permutation(n_train_images)[:limit]; "
                   "validation = the last validation_split of it (Keras validation_split)",
        "validation_indices": {
            "file": "validation_indices.npy",
            "count": n_validation,
            "indexes": "rows of the original training arrays (data_batch_1..5 in order)",
        },
        "versions": library_versions(with_tf=True),
        "devices": [d.device_type for d in tf.config.list_logical_devices()],
        "seconds_per_epoch": seconds,
        "mean_seconds_per_epoch": float(np.mean(seconds)) if seconds else None,
        "test": {"loss": test_loss, "accuracy": test_accuracy, "n": n_test},
    }
