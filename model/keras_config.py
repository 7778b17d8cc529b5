"""A Keras model's config read and scanned before Keras deserialises anything, and the messages of a refusal.

The one reader of a ``.keras`` file's ``config.json`` and of a saved folder's architecture JSON, and the one
scan for what needs Python code to load (Lambda layers, custom classes and functions), shared by the seed
folder loader (:mod:`audit.model.artifacts`) and the loader of any classifier (:mod:`audit.model.keras_model`).
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Iterable, Sequence

from audit.errors import AuditError

#: Layer classes whose config carries Python bytecode (``__lambda__`` is the serialised function itself).
LAMBDA_CLASSES = ("Lambda", "TFOpLambda", "SlicingOpLambda", "__lambda__")
#: Modules a function object (an activation) may come from in a safe model.
FUNCTION_MODULES = ("keras.activations", "keras.src.activations")
#: How many of the objects needing code a refusal names before "and N more".
SHOWN = 3

MSG_NOT_KERAS = "not a .keras model file (a .keras file is a zip archive holding config.json; this one is not a zip)"
MSG_CORRUPT = "corrupt model file ({reason})"
MSG_NEEDS_CODE = ("refused: the model needs Python code to load ({what}); loading it would run code stored in or "
                  "named by the file (arbitrary code execution), which Keras safe mode forbids")
MSG_CUSTOM_MISSING = "the model uses {what}, whose code is not available here even with --trust-model ({reason})"
#: Where the command offers ``--trust-model`` (a model on image files, ``audit predict``).
HINT_TRUST = "pass --trust-model to load it anyway, only for a file from a source you trust"
#: The ``.keras`` file inside a model folder written by ``audit train``.
KERAS_FILE = "cifar10.keras"
MSG_MODEL_MISSING = "model not found"
#: Where it does not (a model folder audited on CIFAR-10 in its binary layout).
HINT_REBUILD = ("rebuild the model without Lambda layers or custom objects, or audit a predictions file "
                "exported from it")


def read_keras_config(file: str | Path) -> dict:
    """The parsed ``config.json`` of a ``.keras`` zip archive.

    Raises
    ------
    AuditError
        Not a zip archive (:data:`MSG_NOT_KERAS`); no readable ``config.json``, or one that is not a
        JSON object (:data:`MSG_CORRUPT`).
    """
    file = Path(file)
    if not zipfile.is_zipfile(file):
        raise AuditError(MSG_NOT_KERAS, path=file)
    try:
        with zipfile.ZipFile(file) as zf:
            config = json.loads(zf.read("config.json"))
    except (KeyError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise AuditError(MSG_CORRUPT.format(reason=f"no readable config.json: {first_line(exc)}"),
                         path=file) from None
    return _object(config, file, "config.json")


def read_architecture(file: str | Path) -> dict:
    """The parsed architecture JSON (``model.to_json()``) of a saved model folder.

    Raises
    ------
    AuditError
        Not readable as JSON, or not a JSON object (:data:`MSG_CORRUPT`).
    """
    file = Path(file)
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AuditError(MSG_CORRUPT.format(reason=f"architecture is not JSON: {first_line(exc)}"),
                         path=file) from None
    return _object(config, file, "the architecture")


def _object(config: Any, file: Path, what: str) -> dict:
    if not isinstance(config, dict):
        raise AuditError(MSG_CORRUPT.format(reason=f"{what} is not a JSON object"), path=file)
    return config


def walk_config(node: Any) -> Iterable[dict]:
    """Every mapping in a Keras config, depth first (layers, nested models, their configs)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk_config(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_config(value)


def code_needed(config: Any) -> list[str]:
    """What in a model config needs Python code to load: Lambda layers, custom classes and functions.

    Parameters
    ----------
    config : dict
        A ``.keras`` file's ``config.json`` or an architecture JSON, parsed.

    Returns
    -------
    list of str
        One description per offending object, e.g. ``"a Lambda layer ('sneaky')"``, without repeats;
        empty for a model made of Keras's own layers and functions.
    """
    found = []
    for node in walk_config(config):
        cls = node.get("class_name")
        module = node.get("module")
        name = node["config"].get("name") if isinstance(node.get("config"), dict) else None
        if cls in LAMBDA_CLASSES:
            if cls != "__lambda__":
                found.append(f"a Lambda layer ({name or cls!r})")
        elif cls == "function" and module is not None and module not in FUNCTION_MODULES:
            found.append(f"the function {node.get('config')!r} from module {module!r}")
        elif isinstance(module, str) and module != "keras" and not module.startswith("keras."):
            found.append(f"the custom object {node.get('registered_name') or cls!r} from module {module!r}")
    return list(dict.fromkeys(found))


def check_code(config: Any, file: str | Path, *, trust: bool = False, hint: str = HINT_TRUST) -> list[str]:
    """Refuse a model config that needs code to load, unless ``trust``; return what needs code.

    Parameters
    ----------
    config : dict
        The parsed config (:func:`read_keras_config`, :func:`read_architecture`).
    file : path
        The file it was read from, named in the refusal.
    trust : bool, default False
        The caller trusts the file (``--trust-model``): nothing is refused.
    hint : str, default HINT_TRUST
        :data:`HINT_TRUST` where the command offers ``--trust-model``, else :data:`HINT_REBUILD`.

    Returns
    -------
    list of str
        :func:`code_needed` of the config (empty, unless ``trust``).

    Raises
    ------
    AuditError
        :data:`MSG_NEEDS_CODE`, naming up to three objects.
    """
    needs = code_needed(config)
    if needs and not trust:
        raise needs_code_error(needs, file, hint=hint)
    return needs


def needs_code_error(needs: Sequence[str], file: str | Path, *, hint: str = HINT_TRUST) -> AuditError:
    """The refusal of a model that needs code: :data:`MSG_NEEDS_CODE` naming up to three of ``needs``."""
    shown = "; ".join(needs[:SHOWN]) + (f"; and {len(needs) - SHOWN} more" if len(needs) > SHOWN else "")
    return AuditError(MSG_NEEDS_CODE.format(what=shown), path=file, hint=hint)


def load_error(exc: BaseException, file: str | Path, *, needs: Sequence[str] = (),
               hint: str = HINT_TRUST) -> AuditError:
    """The one-line error for Keras failing to load ``file`` after the config passed :func:`check_code`.

    ``needs`` (what needs code, in a trusted file): its code is missing here (:data:`MSG_CUSTOM_MISSING`).
    Keras's own safe mode refusing something the scan missed: :data:`MSG_NEEDS_CODE`. Anything else:
    :data:`MSG_CORRUPT` with Keras's first line.
    """
    reason = first_line(exc)
    if needs:
        return AuditError(MSG_CUSTOM_MISSING.format(what=needs[0], reason=reason), path=file)
    if "safe_mode" in reason or "Lambda" in reason:
        return AuditError(MSG_NEEDS_CODE.format(what=reason), path=file, hint=hint)
    return AuditError(MSG_CORRUPT.format(reason=reason), path=file)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (its type name when empty), at most 300 characters."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def keras_file_of(path: str | Path) -> Path:
    """The ``.keras`` file of ``path``: itself, or ``cifar10.keras`` inside an ``audit train`` folder."""
    path = Path(path)
    if not path.exists():
        raise AuditError(MSG_MODEL_MISSING, path=path)
    if path.is_dir():
        if not (path / KERAS_FILE).is_file():
            raise AuditError(MSG_MODEL_MISSING + f" ({KERAS_FILE} missing)", path=path)
        return path / KERAS_FILE
    return path
