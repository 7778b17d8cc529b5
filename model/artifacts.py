"""Save a trained model folder (the notebook's files, the ``.keras`` model, history, manifest) and load it back safely.

A folder is written to a temporary sibling and renamed into place, so a failed run leaves nothing
half-written and never destroys the previous model.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from audit.atomic import write_text
from audit.errors import AuditError
from audit.hashing import sha256_file
from audit.model.keras_config import (
    HINT_REBUILD,
    KERAS_FILE,
    MSG_MODEL_MISSING,
    check_code,
    first_line,
    keras_file_of,
    load_error,
    read_architecture,
    read_keras_config,
)
from audit.predictions import ROW_SUM_TOLERANCE

ARCHITECTURE_FILE = "cifar10_architecture.json"
WEIGHTS_FILE = "cifar10.weights.h5"
HISTORY_FILE = "history.json"
VALIDATION_FILE = "validation_indices.npy"
MANIFEST_FILE = "manifest.json"
#: The input every CIFAR-10 model must accept.
CIFAR_INPUT_SHAPE = (None, 32, 32, 3)

MSG_CORRUPT_WEIGHTS = "corrupt or mismatched weights file ({reason})"
MSG_INPUT_SHAPE = "model input shape is {shape}; CIFAR-10 images need (None, 32, 32, 3)"
MSG_NOT_PROBS = (
    "model outputs are not probabilities: on a probe batch {problem} (last layer activation: {activation})"
)
HINT_NOT_PROBS = "end the model with a softmax layer"
MSG_OUT_NOT_MODEL_DIR = "output folder exists, is not empty and holds no {manifest}; refusing to replace it"
MSG_BAD_MANIFEST = "unreadable manifest ({reason})"
MSG_NO_VALIDATION = "the model folder records no validation indices ({file} missing)"


def default_model_dir() -> Path:
    """``<repo>/models/cifar10-seed`` in a source checkout, else ``./models/cifar10-seed``."""
    repo = Path(__file__).resolve().parents[1]
    base = repo if (repo / "pyproject.toml").is_file() else Path.cwd()
    return base / "models" / "cifar10-seed"


def check_out_dir(out_dir: str | Path) -> Path:
    """Fail early (before training) if ``out_dir`` cannot receive a model folder.

    It may be new, empty, or a previous model folder (one holding ``manifest.json``); anything else
    is refused so that no user files are replaced.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not out_dir.is_dir():
            raise AuditError("output path exists and is not a folder", path=out_dir)
        if any(out_dir.iterdir()) and not (out_dir / MANIFEST_FILE).is_file():
            raise AuditError(MSG_OUT_NOT_MODEL_DIR.format(manifest=MANIFEST_FILE), path=out_dir,
                             hint="choose a new folder with --out")
    return out_dir


def save_artifacts(
    model,
    out_dir: str | Path,
    *,
    history: list[dict[str, Any]],
    validation_indices: np.ndarray,
    manifest: dict[str, Any],
) -> dict[str, Any]:
    """Write every artefact of a trained model into ``out_dir`` and return the full manifest.

    Parameters
    ----------
    model : keras.Model
    out_dir : path
        Created, or replaced if it is a previous model folder.
    history : list of dict
        One dict per epoch (epoch, loss, accuracy, val_loss, val_accuracy, seconds).
    validation_indices : ndarray of shape (n_validation,), int
        Indices into the original training arrays of the images held out for validation.
    manifest : dict
        Hyper-parameters, dataset, versions, timings and scores; ``artifacts`` (name -> sha256) is
        added here.
    """
    out_dir = check_out_dir(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    except OSError as exc:
        raise AuditError(f"cannot write here: {exc.strerror or exc}", path=out_dir.parent) from exc
    try:
        write_text(stage / ARCHITECTURE_FILE, model.to_json())
        model.save_weights(stage / WEIGHTS_FILE, overwrite=True)
        model.save(stage / KERAS_FILE, overwrite=True)
        write_text(stage / HISTORY_FILE, json.dumps(history, indent=2) + "\n")
        np.save(stage / VALIDATION_FILE, np.asarray(validation_indices, dtype=np.int64), allow_pickle=False)
        names = (ARCHITECTURE_FILE, WEIGHTS_FILE, KERAS_FILE, HISTORY_FILE, VALIDATION_FILE)
        manifest = {**manifest, "artifacts": {name: sha256_file(stage / name) for name in names}}
        write_text(stage / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
        _apply_umask(stage)
        _swap_in(stage, out_dir)
    except OSError as exc:
        raise AuditError(f"cannot write the model folder: {exc.strerror or exc}", path=out_dir) from exc
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(stage)
    return manifest


def _apply_umask(folder: Path) -> None:
    # mkdtemp/mkstemp create private (0700/0600) entries; give the model folder ordinary permissions.
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for file in folder.iterdir():
        file.chmod(0o666 & ~umask)


def _swap_in(stage: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.replace(stage, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
    try:
        os.replace(out_dir, old / out_dir.name)
        os.replace(stage, out_dir)
    except BaseException:  # includes Ctrl-C between the two renames: put the previous model back
        if (old / out_dir.name).exists() and not out_dir.exists():
            os.replace(old / out_dir.name, out_dir)
        raise
    finally:
        if not (old / out_dir.name).exists() or out_dir.exists():
            shutil.rmtree(old, ignore_errors=True)


def read_manifest(model_dir: str | Path) -> dict[str, Any]:
    """The parsed ``manifest.json`` of a model folder."""
    path = _folder_of(model_dir) / MANIFEST_FILE
    if not path.is_file():
        raise AuditError(MSG_MODEL_MISSING + f" ({MANIFEST_FILE} missing)", path=path.parent)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AuditError(MSG_BAD_MANIFEST.format(reason=exc), path=path) from exc
    if not isinstance(manifest, dict):
        raise AuditError(MSG_BAD_MANIFEST.format(reason="not a JSON object"), path=path)
    return manifest


def load_validation_indices(model_dir: str | Path) -> np.ndarray:
    """The recorded validation indices (into the original training arrays), shape (n_validation,)."""
    path = _folder_of(model_dir) / VALIDATION_FILE
    if not path.is_file():
        raise AuditError(MSG_NO_VALIDATION.format(file=VALIDATION_FILE), path=path.parent)
    try:
        indices = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise AuditError(f"unreadable validation indices ({exc})", path=path) from exc
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
        raise AuditError(f"validation indices must be a 1-D integer array; got {indices.dtype} {indices.shape}",
                         path=path)
    return indices


def load_model(model_dir_or_file: str | Path, *, via: str = "keras", check: bool = True):
    """Load a saved model with Keras safe mode on, and check that it fits CIFAR-10.

    The config is read and scanned first (:mod:`audit.model.keras_config`): a model that needs Python
    code to load (a Lambda layer, a custom class or function) is refused before Keras reads the file.

    Parameters
    ----------
    model_dir_or_file : path
        A folder written by ``audit train``, a ``.keras`` file, or an architecture ``.json`` (its
        ``*.weights.h5`` beside it).
    via : {"keras", "json"}
        Load the full ``.keras`` model, or rebuild from the architecture JSON and load the weights.
        Both give identical predictions.
    check : bool, default True
        Check the input shape (None, 32, 32, 3) and that outputs are probabilities.

    Returns
    -------
    keras.Model
        Uncompiled; ready for ``predict``.
    """
    if via not in ("keras", "json"):
        raise AuditError(f"via must be 'keras' or 'json'; got {via!r}")
    path = Path(model_dir_or_file)
    if not path.exists():
        raise AuditError(MSG_MODEL_MISSING, path=path, hint="train one with `audit train` or pass its folder")
    if via == "json" or path.suffix == ".json":
        model, source = _load_from_json(path)
    else:
        model, source = _load_from_keras(path)
    if check:
        check_model(model, source=source)
    return model


def _load_from_keras(path: Path):
    from audit.model.quiet import import_keras, quiet_stderr

    file = keras_file_of(path)
    check_code(read_keras_config(file), file, hint=HINT_REBUILD)
    keras = import_keras()
    try:
        with quiet_stderr():
            model = keras.models.load_model(file, compile=False, safe_mode=True)
    except Exception as exc:  # keras raises ValueError, OSError, TypeError... for a damaged file
        raise load_error(exc, file, hint=HINT_REBUILD) from exc
    return model, file


def _load_from_json(path: Path):
    from audit.model.quiet import import_keras, quiet_stderr

    if path.is_dir():
        arch, weights = path / ARCHITECTURE_FILE, path / WEIGHTS_FILE
    else:
        arch = path
        weights = path.parent / WEIGHTS_FILE
        if not weights.is_file():
            candidates = sorted(path.parent.glob("*.weights.h5"))
            weights = candidates[0] if len(candidates) == 1 else weights
    for needed in (arch, weights):
        if not needed.is_file():
            raise AuditError(MSG_MODEL_MISSING + f" ({needed.name} missing)", path=needed.parent)
    config = read_architecture(arch)
    check_code(config, arch, hint=HINT_REBUILD)
    keras = import_keras()
    from keras.src.saving.serialization_lib import SafeModeScope

    try:
        with quiet_stderr(), SafeModeScope(True):
            model = keras.models.model_from_json(json.dumps(config))
    except Exception as exc:
        raise load_error(exc, arch, hint=HINT_REBUILD) from exc
    try:
        with quiet_stderr():
            model.load_weights(weights)
    except Exception as exc:
        raise AuditError(MSG_CORRUPT_WEIGHTS.format(reason=first_line(exc)), path=weights) from exc
    return model, arch


def check_model(model, *, source: str | Path | None = None, probe_size: int = 8) -> None:
    """Refuse a model whose input is not (None, 32, 32, 3) or whose outputs are not probabilities.

    The probabilities check runs the model on a seeded probe batch of random images: every output
    row must be finite, within [0, 1] and sum to 1 (tolerance ``ROW_SUM_TOLERANCE``).
    """
    shape = getattr(model, "input_shape", None)
    if shape is None or tuple(shape) != CIFAR_INPUT_SHAPE:
        raise AuditError(MSG_INPUT_SHAPE.format(shape=shape), path=source)
    out_shape = getattr(model, "output_shape", None)
    if out_shape is None or len(out_shape) != 2:
        raise AuditError(f"model output shape is {out_shape}; expected (None, n_classes)", path=source)
    probe = np.random.default_rng(0).integers(0, 256, size=(probe_size, 32, 32, 3)).astype(np.float32) / 255
    out = np.asarray(model.predict_on_batch(probe), dtype=np.float64)
    problem = None
    if not np.all(np.isfinite(out)):
        problem = "they contain NaN or infinity"
    elif out.min() < -1e-6 or out.max() > 1 + 1e-6:
        problem = f"values range over [{out.min():.4g}, {out.max():.4g}], outside [0, 1]"
    elif np.any(np.abs(out.sum(axis=1) - 1) > ROW_SUM_TOLERANCE):
        sums = out.sum(axis=1)
        worst = sums[np.argmax(np.abs(sums - 1))]
        problem = f"rows sum to {worst:.4g}, not 1"
    if problem:
        activation = _last_activation(model)
        raise AuditError(MSG_NOT_PROBS.format(problem=problem, activation=activation), path=source,
                         hint=HINT_NOT_PROBS)


def _last_activation(model) -> str:
    layer = model.layers[-1] if getattr(model, "layers", None) else None
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) or str(activation or "unknown")


def _folder_of(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_dir() else path.parent
