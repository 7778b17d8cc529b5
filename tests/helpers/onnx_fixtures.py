"""Tiny ONNX image classifiers built with ``onnx.helper`` (no torch, no download) for the ONNX tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: torchvision's CIFAR-10 normalisation, as a PyTorch team would export with.
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


def _save(nodes, inputs, outputs, inits, path: Path, *, opset: int = 18, domains=()) -> Path:
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits)
    opsets = [helper.make_opsetid("", opset), *[helper.make_opsetid(d, 1) for d in domains]]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="audit-tests")
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def linear_classifier(path: Path, *, layout: str = "NCHW", size: int = 8, channels: int = 3, n_classes: int = 3,
                      softmax: bool = False, dynamic_size: bool = False, elem=None, seed: int = 0,
                      extra_input: bool = False, custom_domain: str | None = None, n_outputs: int = 1,
                      dynamic_channels: bool = False) -> Path:
    """A linear classifier: mean over H and W when ``dynamic_size`` else Flatten, then Gemm, then Softmax if
    ``softmax``. Input (N, C, H, W) or (N, H, W, C); batch always dynamic, the channel dimension too with
    ``dynamic_channels`` (the weights still take ``channels``)."""
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.FLOAT if elem is None else elem
    rng = np.random.default_rng(seed)
    hw = ["H", "W"] if dynamic_size else [size, size]
    c_dim = "C" if dynamic_channels else channels
    shape = ["N", c_dim, *hw] if layout == "NCHW" else ["N", *hw, c_dim]
    features = channels if dynamic_size else channels * size * size
    weight = rng.normal(size=(features, n_classes)).astype(np.float32)
    bias = rng.normal(size=n_classes).astype(np.float32)
    nodes, inits, x = [], [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "B")], "x"
    if elem != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [x], ["xf"], to=TensorProto.FLOAT))
        x = "xf"
    if dynamic_size:
        axes = [2, 3] if layout == "NCHW" else [1, 2]
        inits.append(numpy_helper.from_array(np.asarray(axes, dtype=np.int64), "axes"))
        nodes.append(helper.make_node("ReduceMean", [x, "axes"], ["pooled"], keepdims=0))
        x = "pooled"
    else:
        nodes.append(helper.make_node("Flatten", [x], ["flat"], axis=1))
        x = "flat"
    if custom_domain:
        nodes.append(helper.make_node("Mystery", [x], ["mystery"], domain=custom_domain))
        x = "mystery"
    nodes.append(helper.make_node("Gemm", [x, "W", "B"], ["logits"]))
    out = "logits"
    if softmax:
        nodes.append(helper.make_node("Softmax", [out], ["probs"], axis=1))
        out = "probs"
    inputs = [helper.make_tensor_value_info("x", elem, shape)]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 1]))
    outputs = [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", n_classes])]
    if n_outputs == 2:
        nodes.append(helper.make_node("Identity", [out], ["copy"]))
        outputs.append(helper.make_tensor_value_info("copy", TensorProto.FLOAT, ["N", n_classes]))
    return _save(nodes, inputs, outputs, inits, path, domains=[custom_domain] if custom_domain else ())


def with_external_data(path: Path, location: str) -> Path:
    """A linear classifier whose weight ``W`` is declared stored in the external file ``location`` (which is
    not written: the model names it only)."""
    import onnx
    from onnx import TensorProto

    linear_classifier(path)
    model = onnx.load(str(path))
    w = next(t for t in model.graph.initializer if t.name == "W")
    w.ClearField("raw_data")
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(4 * 8 * 8 * 3 * 3))):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def run_directly(path: Path, x: np.ndarray) -> np.ndarray:
    """onnxruntime run on the model input ``x`` as it is (the reference the audits are compared with)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0].astype(np.float64)


def seed_to_onnx(keras_model, path: Path) -> Path:
    """The seed network (:func:`audit.model.network.make_model`) with its trained weights as an NCHW ONNX graph,
    as a PyTorch port exports it: Conv (pads 1) -> Relu -> MaxPool 2x2 -> Flatten -> Gemm -> Relu -> Gemm ->
    Softmax; input (N, 3, H, W) float32 of pixels / 255. Keras flattens (H, W, C) and ONNX's Flatten of NCHW
    (C, H, W), so the first Dense kernel's rows are permuted to match."""
    from onnx import TensorProto, helper, numpy_helper

    conv = next(l for l in keras_model.layers if type(l).__name__ == "Conv2D")
    dense = [l for l in keras_model.layers if type(l).__name__ == "Dense"]
    kernel, conv_bias = (np.asarray(w, dtype=np.float32) for w in conv.get_weights())
    (w1, b1), (w2, b2) = ([np.asarray(w, dtype=np.float32) for w in d.get_weights()] for d in dense)
    _, height, width, channels = keras_model.inputs[0].shape
    h2, w2_, filters = height // 2, width // 2, kernel.shape[-1]
    w1 = w1.reshape(h2, w2_, filters, -1).transpose(2, 0, 1, 3).reshape(filters * h2 * w2_, -1)
    inits = [numpy_helper.from_array(a, n) for a, n in ((kernel.transpose(3, 2, 0, 1).copy(), "conv_w"),
                                                         (conv_bias, "conv_b"), (w1, "fc1_w"), (b1, "fc1_b"),
                                                         (w2, "fc2_w"), (b2, "fc2_b"))]
    nodes = [helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "fc1_w", "fc1_b"], ["h"]),
             helper.make_node("Relu", ["h"], ["hr"]),
             helper.make_node("Gemm", ["hr", "fc2_w", "fc2_b"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=1)]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", channels, height, width])]
    outputs = [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", w2.shape[1]])]
    return _save(nodes, inputs, outputs, inits, path)
