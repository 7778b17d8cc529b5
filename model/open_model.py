"""Open any model behind the one predictor signature (uint8 NHWC batch in, scores out): a ``.keras`` file or
``audit train`` folder (Keras), an ``.onnx`` file (onnxruntime) or a Python callable. Each framework's adapter
is imported only when its kind of model is opened: the ONNX and callable paths never import TensorFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from audit.errors import AuditError
from audit.model.model_config import ModelConfig

MSG_TRUST_ONNX = "--trust-model applies to .keras models; an ONNX model runs no Python code when loaded"
MSG_RESCALE_ONNX = "--rescale applies to .keras models; for an ONNX model set scale/mean/std in --model-config"
MSG_DECLARED_LOGITS = ("model config: output = \"logits\" but the model's output comes from {what} (a softmax on top "
                       "would flatten its rows); set output = \"probabilities\" or leave output out")
#: The model's last operation (ONNX ``last_op`` / Keras final activation, lower-cased) that rules out logits.
NOT_LOGITS = {"softmax": "Softmax", "sigmoid": "Sigmoid"}


def is_onnx(model) -> bool:
    """Whether ``model`` names an ONNX file (by its ``.onnx`` suffix)."""
    return isinstance(model, (str, Path)) and Path(model).suffix.lower() == ".onnx"


def open_classifier(model, *, n_classes: int, config: ModelConfig | None = None, trust: bool = False,
                    rescale: str | None = None, input_size: tuple[int, int] | None = None,
                    size_hint: Callable[[], tuple[int, int] | None] | None = None, threads: int | None = None):
    """The adapter of ``model``: :class:`~audit.model.keras_model.Classifier`,
    :class:`~audit.model.onnx_model.OnnxClassifier` or :class:`~audit.model.callable_model.CallableClassifier`.

    Each has ``preprocessing``, ``n_outputs``, ``output``, ``framework``, ``hashes``, ``run_name``, ``path``,
    ``trusted``, ``config``, ``activation()`` and ``runner()`` (uint8 NHWC batch -> the model's outputs).

    ``threads`` sets an ONNX session's intra-op threads (default: every usable core).

    A config declaring ``output = "logits"`` for a model whose output comes from a softmax or sigmoid is
    refused here, before inference.
    """
    clf = _open(model, n_classes=n_classes, config=config, trust=trust, rescale=rescale, input_size=input_size,
                size_hint=size_hint, threads=threads)
    check_declared_output(clf, config)
    return clf


def check_declared_output(clf, config: ModelConfig | None) -> None:
    """Refuse ``output = "logits"`` in the config when the model's last operation is a softmax or sigmoid
    (ONNX ``last_op``, Keras final activation): a softmax over probabilities would be wrong with no error."""
    if config is None or config.output != "logits":
        return
    activation = (clf.activation() or "").lower()
    if activation in NOT_LOGITS:
        what = (f"a {NOT_LOGITS[activation]} node" if clf.framework == "onnxruntime"
                else f"a {activation} activation")
        raise AuditError(MSG_DECLARED_LOGITS.format(what=what), path=config.path or clf.path)


def _open(model, *, n_classes, config, trust, rescale, input_size, size_hint, threads):
    if callable(model) and not isinstance(model, (str, Path)):
        from audit.model.callable_model import load_callable_classifier

        return load_callable_classifier(model, n_classes=n_classes, config=config, input_size=input_size,
                                        size_hint=size_hint)
    if is_onnx(model):
        if trust:
            raise AuditError(MSG_TRUST_ONNX, path=model)
        if rescale is not None:
            raise AuditError(MSG_RESCALE_ONNX, path=model)
        from audit.model.onnx_model import load_onnx_classifier

        if input_size is not None:
            config = _with_size(config, input_size)
        return load_onnx_classifier(model, config=config, size_hint=size_hint, threads=threads)
    from audit.model.keras_model import load_classifier

    if input_size is not None:
        config = _with_size(config, input_size)
    return load_classifier(model, trust=trust, rescale=rescale, config=config)


def _with_size(config: ModelConfig | None, size) -> ModelConfig:
    import dataclasses

    size = tuple(int(v) for v in size)
    if config is not None:
        return dataclasses.replace(config, input_size=size, input_size_given=True)
    return ModelConfig(input_size=size, input_size_given=True)
