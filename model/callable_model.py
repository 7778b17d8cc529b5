"""A Python callable as the model: it takes a uint8 NHWC batch and returns (n, K) probabilities or logits (a
PyTorch module wrapped in a few lines, a JAX function, an sklearn pipeline). Its pixel handling is its own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from audit.errors import AuditError
from audit.model.model_config import ModelConfig, Preprocessing

MSG_SIZE_NEEDED = ("a callable model needs its input size: pass input_size=(H, W) or set input_size in the model "
                   "config (the images differ in size)")
MSG_CALLABLE_PIXELS = ("model config: {keys} {verb} not apply to a callable model, which takes uint8 pixels and "
                       "scales them itself")
MSG_LAYOUT = "model config: layout {layout!r} does not apply to a callable model, which takes uint8 NHWC batches"
MSG_NOT_ARRAY = "the model callable {name} returned {what}; expected an array of shape (n_images, n_classes)"


@dataclass
class CallableClassifier:
    """A callable behind the predictor signature. ``n_outputs`` is the number of classes; every batch's
    output width is checked against it."""

    fn: Callable[[np.ndarray], object]
    preprocessing: Preprocessing
    n_outputs: int
    name: str
    output: str | None = None
    trusted: bool = False
    framework: str = "python callable"
    path: Path | None = None
    sha256: str | None = None
    config: ModelConfig | None = None

    @property
    def hashes(self) -> dict[str, str]:
        return {}

    @property
    def run_name(self) -> str:
        return self.name

    def activation(self) -> str | None:
        return None

    def runner(self) -> Callable[[np.ndarray], np.ndarray]:
        fn, name = self.fn, self.name

        def run(images: np.ndarray) -> np.ndarray:
            out = fn(images)
            if hasattr(out, "detach"):  # a torch tensor returned as it is
                out = out.detach().cpu().numpy()
            try:
                arr = np.asarray(out, dtype=np.float64)
            except (TypeError, ValueError):
                raise AuditError(MSG_NOT_ARRAY.format(name=name, what=type(out).__name__)) from None
            if arr.ndim != 2 or arr.shape[0] != len(images):
                raise AuditError(MSG_NOT_ARRAY.format(name=name, what=f"shape {arr.shape} for {len(images)} images"))
            return arr
        return run


def callable_name(fn) -> str:
    """A readable name of a callable for the run name and provenance (``module.qualname``)."""
    qual = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    module = getattr(fn, "__module__", None) or type(fn).__module__
    return f"{module}.{qual}" if module not in (None, "__main__", "builtins") else qual


def load_callable_classifier(fn, *, n_classes: int, config: ModelConfig | None = None,
                             input_size: tuple[int, int] | None = None,
                             size_hint: Callable[[], tuple[int, int] | None] | None = None) -> CallableClassifier:
    """Wrap ``fn`` (uint8 NHWC batch -> (n, K) scores) with its input size: ``input_size``, else the config's,
    else the images' own size where they all share one."""
    if config is not None and config.pixel_keys:
        keys = config.pixel_keys
        raise AuditError(MSG_CALLABLE_PIXELS.format(keys="/".join(keys), verb="does" if len(keys) == 1 else "do"),
                         path=config.path)
    if config is not None and config.layout not in (None, "NHWC"):
        raise AuditError(MSG_LAYOUT.format(layout=config.layout), path=config.path)
    size = input_size or (config.input_size if config is not None else None) or (size_hint() if size_hint else None)
    if size is None:
        raise AuditError(MSG_SIZE_NEEDED)
    height, width = (int(v) for v in size)
    prep = Preprocessing(height, width, 3, 1.0, 1.0, 0.0, source="the callable takes uint8 pixels",
                         dtype="uint8")
    return CallableClassifier(fn=fn, preprocessing=prep, n_outputs=n_classes, name=callable_name(fn),
                              output=config.output if config is not None else None, config=config)
