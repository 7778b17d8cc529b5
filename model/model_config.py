"""How a model wants its pixels, as data: the ``--model-config`` TOML file and the :class:`Preprocessing` every
adapter (Keras, ONNX Runtime, a Python callable) applies to uint8 NHWC images. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from audit.errors import AuditError

#: The keys of a model config file, in the order the docs list them.
CONFIG_KEYS = ("layout", "scale", "mean", "std", "output", "class_names", "input_size")
LAYOUTS = ("NCHW", "NHWC")
OUTPUTS = ("logits", "probabilities")

MSG_SIZE_FIXED = "model config: input_size {size} differs from the model's fixed input size {fixed}"
MSG_SIZE_ARG_FIXED = "input_size={size} differs from the model's fixed input size {fixed}"
MSG_CONFIG = "model config: {problem}"
MSG_UNKNOWN_KEYS = "unknown key(s) {keys}; a model config takes {allowed}"


@dataclass(frozen=True)
class ModelConfig:
    """A parsed ``--model-config`` file; ``None`` where the file does not set the key (defaults apply).

    Parameters
    ----------
    layout : {"NCHW", "NHWC"}, optional
    scale : float, optional
        ``x = pixels * scale`` (default 1/255, computed as a division by 255).
    mean, std : tuple of float, optional
        Per channel, ``(x - mean) / std`` as torchvision's ``Normalize`` (one value or one per channel).
    output : {"logits", "probabilities"}, optional
    class_names : tuple of str, optional
        The model's classes in output order.
    input_size : (int, int), optional
        Height and width, for a model whose input size is dynamic.
    path : str, optional
        The file it was read from; ``sha256`` its hash.
    input_size_given : bool, default False
        True when ``input_size`` came from the caller's ``input_size=`` argument rather than the file.
    """

    layout: str | None = None
    scale: float | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    output: str | None = None
    class_names: tuple[str, ...] | None = None
    input_size: tuple[int, int] | None = None
    path: str | None = None
    sha256: str | None = None
    input_size_given: bool = False

    def check_size(self, fixed, model_path) -> None:
        """Refuse an ``input_size`` that differs from the model's fixed (height, width) — every fixed one: a
        dimension given as None is dynamic and takes any size — naming where it came from: the config file,
        or the ``input_size=`` argument (then the model's file is named)."""
        if self.input_size is None or all(f is None or f == s for f, s in zip(fixed, self.input_size)):
            return
        shown = "[" + ", ".join("dynamic" if f is None else str(f) for f in fixed) + "]"
        if self.input_size_given:
            raise AuditError(MSG_SIZE_ARG_FIXED.format(size=tuple(self.input_size), fixed=shown), path=model_path)
        raise AuditError(MSG_SIZE_FIXED.format(size=list(self.input_size), fixed=shown), path=self.path)

    @property
    def pixel_keys(self) -> list[str]:
        """The keys set that change the pixels (``scale``, ``mean``, ``std``)."""
        return [k for k in ("scale", "mean", "std") if getattr(self, k) is not None]

    def describe(self) -> dict:
        """The keys the file set, with its path and SHA-256 (provenance)."""
        out: dict[str, Any] = {k: _plain_value(getattr(self, k)) for k in CONFIG_KEYS if getattr(self, k) is not None}
        return {"file": self.path, "sha256": self.sha256, **out}


def load_model_config(path: str | Path) -> ModelConfig:
    """Read and check a flat ``--model-config`` TOML file (unknown keys are errors, as in the policy file)."""
    from audit.hashing import sha256_file

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuditError(MSG_CONFIG.format(problem="no such file"), path=path) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AuditError(MSG_CONFIG.format(problem=f"cannot read it as TOML ({exc})"), path=path) from None
    return parse_model_config(data, path=str(path), sha256=sha256_file(path))


def as_model_config(value) -> ModelConfig | None:
    """The :class:`ModelConfig` of a ``model_config=`` argument: a path to a TOML file, a mapping with the
    file's keys (checked as the file is: unknown keys and bad values are errors), a ModelConfig, or None."""
    if value is None or isinstance(value, ModelConfig):
        return value
    if isinstance(value, (str, Path)):
        return load_model_config(value)
    if isinstance(value, Mapping):
        return parse_model_config(value)
    raise AuditError(MSG_CONFIG.format(problem=f"model_config must be a path to a TOML file, a mapping of its keys "
                                               f"or a ModelConfig; got {type(value).__name__}"))


def parse_model_config(data: Mapping, *, path: str | None = None, sha256: str | None = None) -> ModelConfig:
    """A :class:`ModelConfig` from the dict of a TOML file, or a mapping with the same keys written in Python."""
    def fail(problem: str):
        raise AuditError(MSG_CONFIG.format(problem=problem), path=path)

    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        fail(f"a model config is a mapping of key names to values; got {type(data).__name__}")
    data = {key: _plain_value(value) for key, value in data.items()}  # Python's tuples and numpy's numbers too
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        fail(MSG_UNKNOWN_KEYS.format(keys=", ".join(map(repr, unknown)), allowed=", ".join(CONFIG_KEYS)))
    out: dict[str, Any] = {}
    if "layout" in data:
        if str(data["layout"]).upper() not in LAYOUTS:
            fail(f"layout must be 'NCHW' or 'NHWC'; got {data['layout']!r}")
        out["layout"] = str(data["layout"]).upper()
    if "output" in data:
        if data["output"] not in OUTPUTS:
            fail(f"output must be 'logits' or 'probabilities'; got {data['output']!r}")
        out["output"] = data["output"]
    if "scale" in data:
        if not _number(data["scale"]) or data["scale"] <= 0:
            fail(f"scale must be a positive number; got {data['scale']!r}")
        out["scale"] = float(data["scale"])
    for key in ("mean", "std"):
        if key in data:
            value = data[key] if isinstance(data[key], list) else [data[key]]
            if not value or len(value) not in (1, 3) or not all(_number(v) for v in value):
                fail(f"{key} must be a number or a list of 1 or 3 numbers (one per channel); got {data[key]!r}")
            if key == "std" and any(v <= 0 for v in value):
                fail(f"std must be positive; got {data[key]!r}")
            out[key] = tuple(float(v) for v in value)
    if "class_names" in data:
        names = data["class_names"]
        if (not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) and n.strip() for n in names)
                or len(set(names)) != len(names)):
            fail(f"class_names must be a list of at least 2 distinct non-empty strings; got {names!r}")
        out["class_names"] = tuple(names)
    if "input_size" in data:
        size = data["input_size"]
        if (not isinstance(size, list) or len(size) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
            fail(f"input_size must be [height, width], two positive integers; got {size!r}")
        out["input_size"] = (size[0], size[1])
    return ModelConfig(**out, path=path, sha256=sha256)


def _plain_value(value):
    """A value written in Python as the TOML file would hold it: a tuple or an array as a list, numpy numbers as
    Python's (``np.float32(0.5)`` -> 0.5), a numpy string as ``str``."""
    import numbers

    if isinstance(value, (tuple, np.ndarray)):
        value = list(value.tolist() if isinstance(value, np.ndarray) else value)
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Preprocessing:
    """How uint8 images become the model's input, computed in float32 in this order::

        x = pixels * numerator / denominator + offset;  x = (x - mean) / std;  to ``layout``;  to ``dtype``

    ``x / 255`` is computed as a division (as the seed network was trained), so the same pixels give
    bit-identical inputs on every path. A model taking uint8 gets the raw pixels (only ``layout`` applies).

    Parameters
    ----------
    height, width, channels : int
        The model's input size; images are converted and resized to it before scaling.
    numerator, denominator, offset : float
    source : str
        Why this scaling: ``"default"``, ``"model starts with Rescaling"``, ``"--rescale"``, the model config.
    mean, std : tuple of float, optional
        Per channel (or one value for all).
    layout : {"NHWC", "NCHW"}
    dtype : {"float32", "float16", "uint8"}
    """

    height: int
    width: int
    channels: int
    numerator: float = 1.0
    denominator: float = 255.0
    offset: float = 0.0
    source: str = "default"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    layout: str = "NHWC"
    dtype: str = "float32"
    #: a flat (n, height x width x channels) input, as scikit-learn models exported by skl2onnx take: each image
    #: flattened in ``layout`` order (NHWC: numpy's ``reshape(n, -1)`` of the image arrays)
    flat: bool = False

    def __call__(self, images_uint8: np.ndarray) -> np.ndarray:
        """The model input of a uint8 batch of shape (n, height, width, channels)."""
        x = self._scaled(images_uint8)
        return x.reshape(len(x), -1) if self.flat else x

    def _scaled(self, images_uint8: np.ndarray) -> np.ndarray:
        x = np.asarray(images_uint8)
        if self.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        if self.dtype == "uint8":
            return np.ascontiguousarray(x, dtype=np.uint8)
        x = x.astype(np.float32, order="C")
        if self.numerator != 1:
            x *= np.float32(self.numerator)
        if self.denominator != 1:
            x /= np.float32(self.denominator)
        if self.offset:
            x += np.float32(self.offset)
        shape = (-1, 1, 1) if self.layout == "NCHW" else (-1,)
        if self.mean is not None:
            x -= np.asarray(self.mean, dtype=np.float32).reshape(shape)
        if self.std is not None:
            x /= np.asarray(self.std, dtype=np.float32).reshape(shape)
        return x.astype(np.float16) if self.dtype == "float16" else x

    @property
    def formula(self) -> str:
        """The scaling as text, e.g. ``x / 255``, ``(x / 255 - mean) / std`` or ``x (raw 0-255 pixel values)``."""
        if self.dtype == "uint8":
            return "x (raw 0-255 pixel values, uint8)"
        parts = "x"
        if self.numerator != 1:
            parts += f" * {self.numerator:g}"
        if self.denominator != 1:
            parts += f" / {self.denominator:g}"
        if self.offset:
            parts += f" {'+' if self.offset > 0 else '-'} {abs(self.offset):g}"
        if self.mean is not None or self.std is not None:
            inner = f"({parts} - mean)" if self.mean is not None else parts
            parts = f"{inner} / std" if self.std is not None else inner
            parts += "".join(f", {k} = {list(v)}" for k, v in (("mean", self.mean), ("std", self.std)) if v)
        return parts if parts != "x" else "x (raw 0-255 pixel values)"

    def describe(self) -> dict:
        """Provenance record of the input conversion (layout and dtype only where not the Keras default)."""
        out = {"input_size": [self.height, self.width], "channels": self.channels,
               "scaling": self.formula, "scaling_source": self.source}
        if self.layout != "NHWC" or self.dtype != "float32" or self.flat:
            out.update(layout=self.layout, input_dtype=self.dtype)
        if self.flat:
            out["flattened"] = self.flattened
        return out

    @property
    def flattened(self) -> str | None:
        """How a flat input is fed (None for an image tensor): ``each image flattened to 192 values in NHWC order``."""
        if not self.flat:
            return None
        return f"each image flattened to {self.height * self.width * self.channels} values in {self.layout} order"


def scale_fraction(scale: float) -> tuple[float, float]:
    """(numerator, denominator) of a config ``scale``: 1/255 (as a float) becomes a division by 255, as
    torchvision's ``ToTensor`` and the seed network compute it; other values a multiplication."""
    inverse = 1 / scale
    if inverse > 1 and abs(inverse - round(inverse)) < 1e-6:
        return 1.0, float(round(inverse))
    return float(scale), 1.0


def config_preprocessing(config: ModelConfig | None, *, height: int, width: int, channels: int,
                         layout: str = "NHWC", dtype: str = "float32", default_source: str) -> Preprocessing:
    """The :class:`Preprocessing` a model config asks for (scale 1/255, mean 0, std 1 where it says nothing)."""
    num, den, source = 1.0, 255.0, default_source
    mean = std = None
    if config is not None and config.pixel_keys:
        source = f"--model-config {config.path or '(in Python)'}: {', '.join(config.pixel_keys)}"
        if config.scale is not None:
            num, den = scale_fraction(config.scale)
        mean, std = config.mean, config.std
        for key, value in (("mean", mean), ("std", std)):
            if value is not None and len(value) not in (1, channels):
                raise AuditError(MSG_CONFIG.format(problem=f"{key} has {len(value)} values; the model takes "
                                                           f"{channels} channel(s)"), path=config.path)
    return Preprocessing(height, width, channels, num, den, 0.0, source=source, mean=mean, std=std,
                         layout=layout, dtype=dtype)
