"""Load any Keras 3 image classifier from a ``.keras`` file safely, and read what it expects as input.

Safety: ``config.json`` is read from the zip and scanned *before* Keras deserialises anything
(:mod:`audit.model.keras_config`). A model that needs Python code to load (a Lambda layer, a custom class
or function) is refused unless the caller trusts the file (``--trust-model``); Keras's own safe mode stays
on as a second guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from audit.errors import AuditError
from audit.model.keras_config import HINT_TRUST, check_code, keras_file_of, load_error, read_keras_config
from audit.model.model_config import ModelConfig, Preprocessing, config_preprocessing

#: Layers that scale pixels themselves: a model starting with one gets raw 0-255 values.
SCALING_LAYERS = ("Rescaling", "Normalization")
#: Layers that do nothing at inference and may precede the scaling layer.
INFERENCE_NO_OPS = ("InputLayer", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
                    "RandomContrast", "RandomBrightness", "RandomCrop", "Dropout", "GaussianNoise")

MSG_INPUTS = "the model has {n} inputs; an image classifier takes one image tensor"
MSG_OUTPUTS = "the model has {n} outputs; an image classifier has one (N, n_classes) output"
MSG_INPUT_SHAPE = ("the model input shape is {shape}; an image classifier takes (None, height, width, "
                   "channels) with a fixed height and width and 1 or 3 channels (channels last)")
MSG_OUTPUT_SHAPE = "the model output shape is {shape}; expected (None, n_classes) with n_classes >= 2"
MSG_RESCALE = "--rescale must be 'none', a number or a fraction (1/255), optionally ',OFFSET'; got {value!r}"


@dataclass(frozen=True)
class Classifier:
    """A loaded classifier and what it expects.

    Parameters
    ----------
    model : keras.Model
    path : Path
        The ``.keras`` file it was loaded from.
    sha256 : str
        Of that file.
    preprocessing : Preprocessing
    n_outputs : int
    trusted : bool
        Loaded with ``--trust-model`` (Keras safe mode off).
    """

    model: Any
    path: Path
    sha256: str
    preprocessing: Preprocessing
    n_outputs: int
    trusted: bool = False
    #: ``"logits"`` or ``"probabilities"`` as the model config declares it (None: decided on the first batch)
    output: str | None = None
    framework: str = "keras"
    #: the model config it was opened with (None: none given)
    config: ModelConfig | None = None

    @property
    def hashes(self) -> dict[str, str]:
        """``{file name: SHA-256}`` of the files the model was read from."""
        return {self.path.name: self.sha256}

    @property
    def run_name(self) -> str:
        return self.path.stem if self.path.name != "cifar10.keras" else self.path.parent.name

    def activation(self) -> str | None:
        """The activation the model ends with (:func:`output_activation`)."""
        return output_activation(self.model)

    def runner(self):
        """uint8 NHWC batch -> the model's outputs: preprocessing and model as one compiled TensorFlow graph
        fed the uint8 pixels (a quarter of the bytes of float32); its input equals ``preprocessing(images)``
        bit for bit: the same float32 operations in the same order."""
        return _inference_graph(self)


def _inference_graph(classifier: Classifier):
    import tensorflow as tf

    p, model = classifier.preprocessing, classifier.model

    @tf.function(input_signature=[tf.TensorSpec([None, p.height, p.width, p.channels], tf.uint8)])
    def run(images):
        x = tf.cast(images, tf.float32)
        if p.numerator != 1:
            x = x * tf.constant(p.numerator, tf.float32)
        if p.denominator != 1:
            x = x / tf.constant(p.denominator, tf.float32)
        if p.offset:
            x = x + tf.constant(p.offset, tf.float32)
        if p.mean is not None:
            x = x - tf.constant(p.mean, tf.float32)
        if p.std is not None:
            x = x / tf.constant(p.std, tf.float32)
        return model(x, training=False)

    return lambda images: run(images).numpy()


def load_classifier(path: str | Path, *, trust: bool = False, rescale: str | None = None,
                    config: ModelConfig | None = None) -> Classifier:
    """Load a ``.keras`` classifier safely and work out its input size and pixel scaling.

    Parameters
    ----------
    path : path
        A ``.keras`` file, or a folder written by ``audit train``.
    trust : bool, default False
        Load a model that needs code (Lambda, custom objects) with Keras safe mode off. Without it
        such a model is refused before Keras reads anything but ``config.json``.
    rescale : str, optional
        Override the pixel scaling (see :func:`parse_rescale`).
    config : ModelConfig, optional
        ``scale``/``mean``/``std`` (instead of ``rescale``) and ``output`` apply; ``layout`` must be NHWC.

    Returns
    -------
    Classifier
    """
    from audit.hashing import sha256_file
    from audit.model.quiet import import_keras, quiet_stderr

    file = keras_file_of(path)
    needs = check_code(read_keras_config(file), file, trust=trust, hint=HINT_TRUST)
    keras = import_keras()
    try:
        with quiet_stderr():
            model = keras.models.load_model(file, compile=False, safe_mode=not trust)
    except Exception as exc:  # keras raises ValueError, TypeError, OSError... for a damaged file
        raise load_error(exc, file, needs=needs, hint=HINT_TRUST) from None
    height, width, channels, n_out = check_classifier(model, source=file)
    check_keras_config(config, rescale, height, width, model_path=file)
    scaling = model_scaling_layer(model)
    if config is not None and config.pixel_keys:
        prep = config_preprocessing(config, height=height, width=width, channels=channels, default_source="")
    elif rescale is not None:
        num, den, off = parse_rescale(rescale)
        prep = Preprocessing(height, width, channels, num, den, off, source=f"--rescale {rescale}")
    elif scaling is not None:
        prep = Preprocessing(height, width, channels, 1.0, 1.0, 0.0,
                             source=f"model starts with a {scaling} layer: raw 0-255 pixel values")
    else:
        prep = Preprocessing(height, width, channels, source="default (pixels / 255, as the seed network)")
    return Classifier(model=model, path=file, sha256=sha256_file(file), preprocessing=prep,
                      n_outputs=n_out, trusted=bool(trust and needs), output=config.output if config else None,
                      config=config)


MSG_KERAS_LAYOUT = "model config: layout {layout!r} does not apply to a Keras model, which takes NHWC (channels last)"
MSG_RESCALE_AND_CONFIG = "--rescale and the model config's {keys} both set the pixel scaling; give one"


def check_keras_config(config: ModelConfig | None, rescale: str | None, height: int, width: int, *,
                       model_path=None) -> None:
    """The keys of a model config that cannot apply to a Keras model with this input size."""
    if config is None:
        return
    if config.layout not in (None, "NHWC"):
        raise AuditError(MSG_KERAS_LAYOUT.format(layout=config.layout), path=config.path)
    if rescale is not None and config.pixel_keys:
        raise AuditError(MSG_RESCALE_AND_CONFIG.format(keys="/".join(config.pixel_keys)), path=config.path)
    config.check_size((height, width), model_path)


def check_classifier(model, *, source: str | Path | None = None) -> tuple[int, int, int, int]:
    """(height, width, channels, n_outputs) of a single-input image classifier with one output.

    Raises
    ------
    AuditError
        Two inputs or outputs; an input that is not (None, H, W, 1|3) with fixed H, W; an output
        that is not (None, K >= 2).
    """
    inputs = getattr(model, "inputs", None) or []
    outputs = getattr(model, "outputs", None) or []
    if len(inputs) != 1:
        raise AuditError(MSG_INPUTS.format(n=len(inputs)), path=source)
    if len(outputs) != 1:
        raise AuditError(MSG_OUTPUTS.format(n=len(outputs)), path=source)
    shape = tuple(inputs[0].shape)
    if (len(shape) != 4 or shape[3] not in (1, 3) or not all(isinstance(d, int) and d > 0 for d in shape[1:3])):
        raise AuditError(MSG_INPUT_SHAPE.format(shape=_shape_text(shape)), path=source)
    out = tuple(outputs[0].shape)
    if len(out) != 2 or not isinstance(out[1], int) or out[1] < 2:
        raise AuditError(MSG_OUTPUT_SHAPE.format(shape=_shape_text(out)), path=source)
    return int(shape[1]), int(shape[2]), int(shape[3]), int(out[1])


def output_activation(model) -> str | None:
    """Name of the activation the model ends with (``softmax``, ``sigmoid``, ``linear``...), if known."""
    layers = list(_leading_layers(model)) if getattr(model, "layers", None) else []
    if not layers:
        return None
    last = layers[-1]
    if type(last).__name__ == "Softmax":
        return "softmax"
    activation = getattr(last, "activation", None)
    return getattr(activation, "__name__", None)


def model_scaling_layer(model) -> str | None:
    """Class name of the Rescaling or Normalization layer the model starts with, else None.

    Layers that do nothing at inference (input, random augmentation, dropout) are skipped, and a
    nested model at the start is looked into.
    """
    for layer in _leading_layers(model):
        kind = type(layer).__name__
        if kind in INFERENCE_NO_OPS:
            continue
        return kind if kind in SCALING_LAYERS else None
    return None


def _leading_layers(model) -> Iterable:
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "layers") and type(layer).__name__ in ("Sequential", "Functional", "Model"):
            yield from _leading_layers(layer)
        else:
            yield layer


def parse_rescale(value: str) -> tuple[float, float, float]:
    """(numerator, denominator, offset) of a ``--rescale`` value.

    ``none`` → raw pixels; ``1/255`` → x / 255; ``1/127.5,-1`` → x / 127.5 − 1; ``0.5`` → x * 0.5.
    """
    text = str(value).strip().lower()
    if text in ("none", "1", "raw"):
        return 1.0, 1.0, 0.0
    scale, _, offset = text.partition(",")
    try:
        off = float(offset) if offset.strip() else 0.0
        if "/" in scale:
            num, _, den = scale.partition("/")
            num_f, den_f = float(num), float(den)
        else:
            frac = Fraction(scale.strip())
            num_f, den_f = (1.0, float(1 / frac)) if frac.numerator == 1 and frac else (float(frac), 1.0)
    except (ValueError, ZeroDivisionError):
        raise AuditError(MSG_RESCALE.format(value=value)) from None
    if not all(np.isfinite([num_f, den_f, off])) or den_f == 0 or num_f == 0:
        raise AuditError(MSG_RESCALE.format(value=value))
    return num_f, den_f, off


def _shape_text(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
