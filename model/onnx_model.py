"""An ONNX image classifier run with onnxruntime (CPU execution provider), behind the same predictor signature
as a Keras model: uint8 NHWC batch in, the model's outputs out.

Safety: ONNX is protobuf and runs no Python when loaded. Before onnxruntime reads the file it is size-checked,
hashed and scanned (:mod:`audit.model.onnx_scan`): operators from a custom domain, and external-data files that
are missing or lie outside the model's folder, are refused; no custom-op library is ever registered. Nothing
here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from audit.errors import AuditError
from audit.model.model_config import ModelConfig, Preprocessing, config_preprocessing
from audit.model.onnx_scan import BUILTIN_DOMAINS, NotOnnx, scan_model

#: Largest model accepted: the .onnx file and its external-data files together, checked before reading.
MAX_MODEL_BYTES = 2 * 1024**3
#: onnxruntime input types accepted -> the dtype the pixels are fed as.
INPUT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(uint8)": "uint8"}

MSG_NOT_ONNX = "not an ONNX model (the file does not parse as an ONNX ModelProto: {reason})"
MSG_TOO_LARGE = ("the model is {size:,} bytes (with its external data), above the limit of {limit:,}: refused "
                 "before reading")
MSG_CUSTOM_OPS = ("refused: the model uses operators from custom domains ({ops}); onnxruntime would need a "
                  "custom-op library (native code), which is never loaded; built-in domains: {builtin}")
MSG_EXTERNAL_MISSING = "refused: external data file {location!r} named by the model does not exist beside it"
MSG_EXTERNAL_OUTSIDE = ("refused: external data location {location!r} points outside the model's folder "
                        "(absolute path or '..')")
MSG_INPUTS = ("the model has {n} inputs ({names}); an image classifier takes one image input "
              "(other inputs must have initializers)")
MSG_INPUT_TYPE = "the model input {name!r} is {type}; supported input types: float32, float16, uint8"
MSG_INPUT_SHAPE = ("the model input {name!r} has shape {shape}; an image classifier takes (N, C, H, W) or "
                   "(N, H, W, C) with 1 or 3 channels, or flat (N, H x W x C) images as skl2onnx writes")
MSG_FLAT_SIZE = ("the model takes a flat (N, features) input (as skl2onnx writes) and the images differ in size: set "
                 "input_size = [H, W] in --model-config, the size its training images were flattened at")
MSG_FLAT_WIDTH = ("the model input {name!r} has shape {shape}: a flat input holds H x W x 3 ({rgb}) or H x W ({grey}) "
                  "values for images of {h} x {w}; set input_size = [H, W] in --model-config to the size its "
                  "training images were flattened at")
MSG_ZIPMAP = ("the model output {name!r} is a sequence of maps (skl2onnx's ZipMap): export the classifier with "
              "options={{'zipmap': False}} so that its probabilities are one (N, n_classes) tensor")
MSG_LAYOUT = ("cannot tell the layout of input shape {shape} (1 or 3 at both ends, or a dynamic channel "
              "dimension): set layout = \"NCHW\" or \"NHWC\" in --model-config")
MSG_LAYOUT_CONFLICT = "model config: layout {layout} does not fit the model input shape {shape}"
MSG_OUTPUTS = ("the model has {n} outputs ({names}); an image classifier has one (N, n_classes) output, or one "
               "beside (N,) class labels as skl2onnx writes")
MSG_OUTPUT_SHAPE = "the model output {name!r} has shape {shape}; expected (N, n_classes)"
MSG_SIZE_NEEDED = ("the model's input height or width is dynamic and the images differ in size: set "
                   "input_size = [H, W] in --model-config")
MSG_UINT8_SCALING = "model config: {keys} {verb} not apply: the model takes uint8 pixels and scales them itself"
MSG_LOAD = "onnxruntime cannot load the model: {reason}"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it, else the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def session_options(threads: int | None = None):
    """Session options for batch inference on this machine's CPUs: every usable core (``threads`` where given:
    a Dask worker gives one per worker thread) for one operator at a time (intra-op), sequential execution, the CPU memory arena and memory-pattern reuse on (batches are the same
    shape), all graph optimisations, and worker threads that sleep instead of spinning between batches (the
    decode threads need those cores)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or usable_cores()
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.enable_cpu_mem_arena = True
    so.enable_mem_pattern = True
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


@dataclass
class OnnxClassifier:
    """An ONNX model checked and opened, and what it expects.

    Parameters
    ----------
    path : Path
    sha256 : str
        Of the ``.onnx`` file; ``external_sha256`` of its external-data files.
    preprocessing : Preprocessing
    n_outputs : int or None
        The output width, None where dynamic (checked on every batch).
    input_name : str
    output : {"logits", "probabilities"} or None
        As the model config declares it.
    last_op : str
        The operator producing the output (``Softmax``, ``Sigmoid``, ``Gemm``...).
    """

    path: Path
    sha256: str
    preprocessing: Preprocessing
    n_outputs: int | None
    input_name: str
    output: str | None = None
    last_op: str = ""
    external_sha256: dict[str, str] = field(default_factory=dict)
    config: ModelConfig | None = None
    session: object | None = field(default=None, repr=False)
    #: a fixed batch dimension (models exported with batch 1): batches are fed in pieces of this size
    fixed_batch: int | None = None
    trusted: bool = False
    framework: str = "onnxruntime"
    #: the output read: the only one, or the (N, K) probabilities beside skl2onnx's (N,) labels
    output_name: str | None = None

    @property
    def hashes(self) -> dict[str, str]:
        return {self.path.name: self.sha256, **self.external_sha256}

    @property
    def run_name(self) -> str:
        return self.path.stem

    def activation(self) -> str | None:
        return {"Softmax": "softmax", "Sigmoid": "sigmoid", "LogSoftmax": "log_softmax"}.get(self.last_op)

    def runner(self) -> Callable[[np.ndarray], np.ndarray]:
        """uint8 NHWC batch -> outputs, through the preprocessing and the session (opened here if not yet)."""
        session = self.session if self.session is not None else open_session(self.path)
        prep, name, step = self.preprocessing, self.input_name, self.fixed_batch
        wanted = [self.output_name] if self.output_name else None

        def run(images: np.ndarray) -> np.ndarray:
            if step is None or len(images) == step:
                return session.run(wanted, {name: prep(images)})[0]
            n = len(images)
            padded = np.concatenate([images, np.repeat(images[-1:], -n % step, axis=0)])  # last piece filled up
            return np.concatenate([session.run(wanted, {name: prep(padded[i:i + step])})[0]
                                   for i in range(0, len(padded), step)])[:n]
        return run


def open_session(path: Path, data: bytes | None = None, threads: int | None = None):
    """An onnxruntime session on the CPU execution provider (from ``data`` where given: the bytes checked)."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(data if data is not None else str(path), sess_options=session_options(threads),
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise AuditError(MSG_LOAD.format(reason=reason), path=path) from None


def load_onnx_classifier(path: str | Path, *, config: ModelConfig | None = None,
                         size_hint: Callable[[], tuple[int, int] | None] | None = None,
                         max_bytes: int | None = None, threads: int | None = None) -> OnnxClassifier:
    """Check an ``.onnx`` file and open it with onnxruntime; nothing is run.

    Parameters
    ----------
    path : path
    config : ModelConfig, optional
        Layout, scale, mean/std, output, input size.
    size_hint : callable, optional
        The images' own (height, width) when they all share one, else None: the input size of a model
        whose height and width are dynamic and which the config does not size.
    max_bytes : int, default MAX_MODEL_BYTES
    threads : int, optional
        onnxruntime's intra-op threads (default: every usable core).

    Raises
    ------
    AuditError
        Every refusal of docs/bad-input.md's ONNX rows, before inference.
    """
    from audit.extras import require

    require("onnxruntime", what="an .onnx model")
    path = Path(path)
    if not path.is_file():
        raise AuditError("model not found", path=path)
    limit = MAX_MODEL_BYTES if max_bytes is None else max_bytes
    size = path.stat().st_size
    if size > limit:
        raise AuditError(MSG_TOO_LARGE.format(size=size, limit=limit), path=path)
    data = path.read_bytes()
    try:
        scan = scan_model(data)
    except NotOnnx as exc:
        raise AuditError(MSG_NOT_ONNX.format(reason=exc), path=path) from None
    if scan.custom_ops:
        ops = ", ".join(f"{d}::{op}" for d, op in scan.custom_ops[:3]) + (" ..." if len(scan.custom_ops) > 3 else "")
        raise AuditError(MSG_CUSTOM_OPS.format(ops=ops, builtin=", ".join(repr(d) for d in BUILTIN_DOMAINS)),
                         path=path)
    external = _check_external(path, scan.external_data, size, limit)
    session = open_session(path, None if external else data, threads)
    prep, input_name, n_out, output_name = _check_io(session, path, config, size_hint)
    batch = session.get_inputs()[0].shape[0]
    return OnnxClassifier(path=path, sha256=hashlib.sha256(data).hexdigest(), preprocessing=prep, n_outputs=n_out,
                          input_name=input_name, output=config.output if config else None,
                          last_op=scan.output_ops.get(output_name, ""), external_sha256=external, config=config,
                          session=session, fixed_batch=batch if isinstance(batch, int) and batch > 0 else None,
                          output_name=output_name)


def _check_external(path: Path, locations: list[str], size: int, limit: int) -> dict[str, str]:
    from audit.hashing import sha256_file

    folder = path.parent.resolve()
    hashes, total = {}, size
    for location in dict.fromkeys(locations):
        target = (folder / location).resolve()
        if os.path.isabs(location) or (target != folder and folder not in target.parents):
            raise AuditError(MSG_EXTERNAL_OUTSIDE.format(location=location), path=path)
        if not target.is_file():
            raise AuditError(MSG_EXTERNAL_MISSING.format(location=location), path=path)
        total += target.stat().st_size
        if total > limit:
            raise AuditError(MSG_TOO_LARGE.format(size=total, limit=limit), path=path)
        hashes[target.relative_to(folder).as_posix()] = sha256_file(target)
    return hashes


def _check_io(session, path: Path, config: ModelConfig | None, size_hint):
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise AuditError(MSG_INPUTS.format(n=len(inputs), names=", ".join(i.name for i in inputs)), path=path)
    inp = inputs[0]
    if inp.type not in INPUT_TYPES:
        raise AuditError(MSG_INPUT_TYPE.format(name=inp.name, type=inp.type), path=path)
    dtype = INPUT_TYPES[inp.type]
    shape = list(inp.shape)
    shown = "(" + ", ".join(str(d) if isinstance(d, int) else (d or "?") for d in shape) + ")"
    output = _probability_output(outputs, path)
    if len(shape) == 2:  # a flat (N, features) input: a scikit-learn model exported by skl2onnx
        height, width, channels, layout = _flat_input(shape, config, shown, inp.name, path, size_hint)
    elif len(shape) != 4:
        raise AuditError(MSG_INPUT_SHAPE.format(name=inp.name, shape=shown), path=path)
    else:
        height, width, channels, layout = _image_input(shape, config, shown, inp.name, path, size_hint)
    out_shape = list(output.shape)
    if len(out_shape) != 2 or (isinstance(out_shape[1], int) and out_shape[1] < 2):
        raise AuditError(MSG_OUTPUT_SHAPE.format(name=output.name, shape=out_shape), path=path)
    n_out = out_shape[1] if isinstance(out_shape[1], int) else None
    if dtype == "uint8" and config is not None and config.pixel_keys:
        keys = config.pixel_keys
        raise AuditError(MSG_UINT8_SCALING.format(keys="/".join(keys), verb="does" if len(keys) == 1 else "do"),
                         path=config.path)
    default = ("raw uint8 pixels: the model scales them itself" if dtype == "uint8"
               else "default (pixels / 255, mean 0, std 1)")
    prep = config_preprocessing(config if dtype != "uint8" else None, height=height, width=width,
                                channels=channels, layout=layout, dtype=dtype, default_source=default)
    if len(shape) == 2:
        prep = dataclasses.replace(prep, flat=True)
    return prep, inp.name, n_out, output.name


def _probability_output(outputs, path: Path):
    """The output holding the scores: the only one, or the one (N, K) float tensor beside (N,) class labels (what
    skl2onnx writes for a classifier exported with ``zipmap=False``)."""
    if len(outputs) == 1:
        return outputs[0]
    maps = [o for o in outputs if str(o.type).startswith(("seq(", "map("))]
    if maps:
        raise AuditError(MSG_ZIPMAP.format(name=maps[0].name), path=path)
    scores = [o for o in outputs if o.type in ("tensor(float)", "tensor(double)", "tensor(float16)")
              and len(o.shape) == 2]
    labels = [o for o in outputs if o not in scores and str(o.type).startswith("tensor(") and len(o.shape) == 1]
    if len(scores) == 1 and len(scores) + len(labels) == len(outputs):
        return scores[0]
    raise AuditError(MSG_OUTPUTS.format(n=len(outputs), names=", ".join(o.name for o in outputs)), path=path)


def _flat_input(shape: list, config: ModelConfig | None, shown: str, name: str, path: Path, size_hint):
    """(height, width, channels, layout) of a flat (N, features) input: the config's input_size or the images'
    common size; 3 channels where features = H x W x 3, 1 where H x W (3 when dynamic); flattened in the config's
    layout order (NHWC by default: numpy's ``reshape(n, -1)`` of image arrays)."""
    layout = config.layout if config is not None and config.layout is not None else "NHWC"
    if config is not None and config.input_size is not None:
        height, width = config.input_size
    else:
        size = size_hint() if size_hint else None
        if size is None:
            raise AuditError(MSG_FLAT_SIZE, path=path)
        height, width = size
    features = shape[1]
    if not isinstance(features, int) or features <= 0:
        return height, width, 3, layout
    for channels in (3, 1):
        if features == height * width * channels:
            return height, width, channels, layout
    raise AuditError(MSG_FLAT_WIDTH.format(name=name, shape=shown, rgb=height * width * 3, grey=height * width,
                                           h=height, w=width), path=path)


def _image_input(shape: list, config: ModelConfig | None, shown: str, name: str, path: Path, size_hint):
    """(height, width, channels, layout) of a rank-4 image input (NCHW or NHWC)."""
    layout = _layout(shape, config, shown, path)
    channels = shape[1] if layout == "NCHW" else shape[3]
    if not isinstance(channels, int) or channels <= 0:  # a dynamic channel dimension: fed RGB, as images decode
        channels = 3
    if channels not in (1, 3):
        raise AuditError(MSG_INPUT_SHAPE.format(name=name, shape=shown), path=path)
    hw = shape[2:4] if layout == "NCHW" else shape[1:3]
    fixed = [d if isinstance(d, int) and d > 0 else None for d in hw]  # None: dynamic
    if None not in fixed:
        height, width = fixed
        if config is not None:
            config.check_size(fixed, path)
    elif config is not None and config.input_size is not None:
        config.check_size(fixed, path)  # a half-dynamic input: its fixed dimension must match too
        height, width = config.input_size
    else:
        size = size_hint() if size_hint else None
        if size is None:
            raise AuditError(MSG_SIZE_NEEDED, path=path)
        # the images' own size fills the dynamic dimension(s); a fixed one stays (the images are resized to it)
        height, width = (f if f is not None else s for f, s in zip(fixed, size))
    return height, width, channels, layout


def _layout(shape: list, config: ModelConfig | None, shown: str, path: Path) -> str:
    first, last = shape[1] in (1, 3), shape[3] in (1, 3)
    if config is not None and config.layout is not None:
        if (config.layout == "NCHW" and not first and isinstance(shape[1], int)) or (
                config.layout == "NHWC" and not last and isinstance(shape[3], int)):
            raise AuditError(MSG_LAYOUT_CONFLICT.format(layout=config.layout, shape=shown), path=config.path)
        return config.layout
    if first and not last:
        return "NCHW"
    if last and not first:
        return "NHWC"
    raise AuditError(MSG_LAYOUT.format(shape=shown), path=path)
