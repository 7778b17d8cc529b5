"""The provenance of a predictions file written by ``audit predict``: a ``<file>.provenance.json`` sidecar
written with the file as a pair, and read back by ``audit run --predictions`` into the audit's provenance.

The sidecar holds the predictions file's own SHA-256, so a sidecar left beside a file replaced later is
known to be stale and is not merged. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

from audit.atomic import atomic_paths
from audit.errors import AuditError
from audit.hashing import sha256_file
from audit.predictions import Predictions

#: ``preds.npz`` -> ``preds.npz.provenance.json``.
SIDECAR_SUFFIX = ".provenance.json"
#: The ``format`` and ``format_version`` a sidecar states.
FORMAT = "audit-predict-provenance"
FORMAT_VERSION = 1
#: Keys of a sidecar: the first four are merged into the audit's provenance (``predicted_by`` with
#: ``provenance_file`` added), the others check it.
KEYS = ("model_sha256", "data_sha256", "predicted_by", "format", "format_version", "predictions_file",
        "predictions_sha256")
#: ``predicted_by`` keys every sidecar has (text), and those it may have (objects): as declared by
#: ``PredictedBy`` in :mod:`audit.result.schema`, less ``provenance_file``, which the reader adds.
PREDICTED_BY_KEYS = ("command", "tool_version", "model_path")
PREDICTED_BY_OBJECTS = ("images", "model_input", "versions")
SHA256 = re.compile(r"[0-9a-f]{64}")

MSG_SIDECAR_UNREADABLE = "unreadable provenance file of `audit predict` ({reason})"
MSG_SIDECAR_SHAPE = "not a provenance file of `audit predict`: {problem}"
HINT_SIDECAR = "write the predictions again with `audit predict`, or delete the file to audit them without it"
MSG_SIDECAR_STALE = ("audit: warning: {sidecar}: written for another version of {predictions} (its SHA-256 "
                     "differs); the model and image hashes it holds are not recorded")


def sidecar_path(predictions_path: str | Path) -> Path:
    """``<predictions_path>.provenance.json``, beside the predictions file."""
    path = Path(predictions_path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def is_sidecar(path: str | Path) -> bool:
    """Whether ``path`` is named as a provenance sidecar (so a glob of predictions shards leaves it out)."""
    return Path(path).name.endswith(SIDECAR_SUFFIX)


def save_with_provenance(path: str | Path, pred: Predictions, provenance: Mapping[str, Any]) -> Path:
    """Write ``pred`` to ``path`` (``.npz``, ``.csv``, ``.parquet``) and its sidecar, as a pair.

    Both are written under temporary names, then renamed into place together: a failure leaves the
    previous pair (or nothing), and a crash between the two renames leaves a sidecar whose
    ``predictions_sha256`` does not match, which :func:`read_provenance` refuses to merge.

    Parameters
    ----------
    path : path
        The predictions file.
    pred : Predictions
    provenance : mapping
        ``model_sha256``, ``data_sha256`` and ``predicted_by`` (:func:`audit.model.image_audit.predict_provenance`).

    Returns
    -------
    Path
        ``path``.
    """
    from audit.sources.npz import write_npz
    from audit.sources.table import table_suffix, write_table

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix != ".npz":
        table_suffix(path)  # refused before anything is created
    with atomic_paths(path, sidecar_path(path)) as (tmp, tmp_sidecar):
        if suffix == ".npz":
            write_npz(tmp, pred)
        else:
            write_table(tmp, pred, suffix=suffix)
        record = {"format": FORMAT, "format_version": FORMAT_VERSION, "predictions_file": path.name,
                  "predictions_sha256": sha256_file(tmp), "model_sha256": provenance["model_sha256"],
                  "data_sha256": provenance["data_sha256"], "predicted_by": provenance["predicted_by"]}
        problem = _shape_problem(record)
        if problem:  # a bug of the caller: never write a sidecar the reader would refuse
            raise ValueError(f"provenance sidecar would be malformed: {problem}")
        with open(tmp_sidecar, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(json.dumps(record, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return path


def read_provenance(predictions_path: str | Path, predictions_sha256: str, *,
                    warn: Callable[[str], None] | None = None) -> dict | None:
    """The provenance ``audit predict`` wrote beside a predictions file, to merge into an audit's.

    Parameters
    ----------
    predictions_path : path
        The predictions file audited.
    predictions_sha256 : str
        Its SHA-256 (computed once by the caller for ``provenance.predictions_sha256``).
    warn : callable, optional
        Receives the one-line warning for a stale sidecar; default: standard error.

    Returns
    -------
    dict or None
        ``{"model_sha256", "data_sha256", "predicted_by"}`` (``predicted_by`` with ``provenance_file``,
        the sidecar's path); None when there is no sidecar, or when it was written for another version of
        the file (then ``warn`` is told).

    Raises
    ------
    AuditError
        A sidecar that is not JSON or not shaped as ``audit predict`` writes it, naming the sidecar.
    """
    sidecar = sidecar_path(predictions_path)
    if not sidecar.is_file():
        return None
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AuditError(MSG_SIDECAR_UNREADABLE.format(reason=reason), path=sidecar, hint=HINT_SIDECAR) from None
    problem = _shape_problem(record)
    if problem:
        raise AuditError(MSG_SIDECAR_SHAPE.format(problem=problem), path=sidecar, hint=HINT_SIDECAR)
    if record["predictions_sha256"] != predictions_sha256:
        (warn or _stderr)(MSG_SIDECAR_STALE.format(sidecar=sidecar, predictions=Path(predictions_path).name))
        return None
    return {"model_sha256": record["model_sha256"], "data_sha256": record["data_sha256"],
            "predicted_by": {**record["predicted_by"], "provenance_file": str(sidecar)}}


def _shape_problem(record: Any) -> str | None:
    """What is wrong with a sidecar's parsed JSON, or None."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    missing = [k for k in KEYS if k not in record]
    if missing:
        return f"missing key(s) {', '.join(missing)}"
    unknown = sorted(set(record) - set(KEYS))
    if unknown:
        return f"unknown key(s) {', '.join(unknown)}"
    if record["format"] != FORMAT:
        return f"format is {record['format']!r}, expected {FORMAT!r}"
    if record["format_version"] != FORMAT_VERSION or isinstance(record["format_version"], bool):
        return f"format_version {record['format_version']!r}; this tool reads version {FORMAT_VERSION}"
    if not isinstance(record["predictions_file"], str):
        return "predictions_file must be a file name"
    if not _is_sha256(record["predictions_sha256"]):
        return "predictions_sha256 must be a SHA-256 (64 lower-case hex digits)"
    for key in ("model_sha256", "data_sha256"):
        value = record[key]
        if not isinstance(value, dict) or not value or not all(isinstance(k, str) and _is_sha256(v)
                                                               for k, v in value.items()):
            return f"{key} must map file names to SHA-256 digests"
    by = record["predicted_by"]
    if not isinstance(by, dict):
        return "predicted_by must be an object"
    absent = [k for k in PREDICTED_BY_KEYS if not isinstance(by.get(k), str)]
    if absent:
        return f"predicted_by needs text {', '.join(absent)}"
    unknown = sorted(set(by) - set(PREDICTED_BY_KEYS) - set(PREDICTED_BY_OBJECTS))
    if unknown:
        return f"unknown key(s) {', '.join(unknown)} in predicted_by"
    not_objects = [k for k in PREDICTED_BY_OBJECTS if k in by and not isinstance(by[k], dict)]
    if not_objects:
        return f"predicted_by {', '.join(not_objects)} must be object(s)"
    if not all(v is None or isinstance(v, str) for v in by.get("versions", {}).values()):
        return "predicted_by versions must map names to version text or null"
    return None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")  # audit.json holds no NaN or infinity


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and SHA256.fullmatch(value) is not None


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)
