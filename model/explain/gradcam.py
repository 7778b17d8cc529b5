"""Grad-CAM for Keras models (Selvaraju et al., ICCV 2017), on the pattern of the keras.io example: a functional
model from the input to the chosen layer's output and the class scores; gradients with ``tf.GradientTape``.

A Sequential model is rebuilt as a functional graph over its own layers (same weights; nothing is deserialised, so
safe mode stays as it was at loading). The layer is the last top-level layer with a 4-D (N, H, W, C) output that is not an
identity at inference (Dropout and the like), unless one is named. The class score is the logit: the input of a final softmax layer, or a final softmax Dense layer's
``x @ kernel + bias``; a model whose last layer has no softmax is taken to output scores already.
Map = ReLU(sum over channels of activation x channel weight), the weight being the gradient of the score averaged
over the layer's height and width.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from audit.errors import AuditError

MSG_NO_LAYER = "--explain-layer {name!r}: the model has no such layer; layers with a 4-D output: {spatial}"
MSG_NOT_SPATIAL = ("--explain-layer {name!r}: the layer's output has shape {shape}; Grad-CAM needs a 4-D "
                   "(N, height, width, channels) output; layers with one: {spatial}")
#: Layers that pass their input through unchanged at inference: the default layer is never one of them (the
#: layer before gives the same map under a name that says where it comes from).
INFERENCE_IDENTITY = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                      "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity")
SCORE_LOGITS_LAYER = "the input of the final softmax layer (logits)"
SCORE_LOGITS_DENSE = "the final Dense layer's x @ kernel + bias, before its softmax (logits)"
SCORE_OUTPUT = "the model's output as it is (its last layer has no softmax)"


def _activation_name(layer) -> str | None:
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", None)


class GradCamGraph:
    """The model as a functional graph: input -> (every top-level layer's output, the final layer's input and
    output). ``spatial`` names the layers with a 4-D output, in order."""

    def __init__(self, model):
        from audit.model.quiet import import_keras

        keras = import_keras()
        self.model = model
        layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
        if type(model).__name__ == "Sequential":
            inp = keras.Input(shape=tuple(model.inputs[0].shape[1:]), dtype=model.inputs[0].dtype)
            x, outputs, before = inp, {}, inp
            for layer in layers:
                before, x = x, layer(x)
                outputs[layer.name] = x
            self.inputs, final_out = inp, x
        else:
            outputs = {layer.name: layer.output for layer in layers}
            before = layers[-1].input if layers else model.inputs[0]
            self.inputs, final_out = model.inputs, model.outputs[0]
        self.outputs = outputs
        self.shapes = {name: tuple(t.shape) for name, t in outputs.items()}
        self.spatial = [name for name, shape in self.shapes.items() if len(shape) == 4]
        self.kinds = {layer.name: type(layer).__name__ for layer in layers}
        self.final = layers[-1] if layers else None
        self._before, self._final_out = before, final_out
        kind = type(self.final).__name__ if self.final is not None else ""
        if kind == "Softmax" or (kind == "Activation" and _activation_name(self.final) == "softmax"):
            self.score = SCORE_LOGITS_LAYER
        elif kind == "Dense" and _activation_name(self.final) == "softmax":
            self.score = SCORE_LOGITS_DENSE
        else:
            self.score = SCORE_OUTPUT
        self._graphs = {}

    def check_layer(self, name: str | None, *, path=None) -> str:
        """The layer to explain: ``name`` checked to exist and have a 4-D output, else the last spatial one that
        is not an identity at inference (a Dropout after the last pooling gives the pooling layer)."""
        spatial = ", ".join(self.spatial) or "none"
        if name is None:
            working = [n for n in self.spatial if self.kinds.get(n) not in INFERENCE_IDENTITY]
            return (working or self.spatial)[-1]
        if name not in self.shapes:
            raise AuditError(MSG_NO_LAYER.format(name=name, spatial=spatial), path=path)
        if name not in self.spatial:
            shape = "(" + ", ".join("None" if d is None else str(d) for d in self.shapes[name]) + ")"
            raise AuditError(MSG_NOT_SPATIAL.format(name=name, shape=shape, spatial=spatial), path=path)
        return name

    def maps(self, x: np.ndarray, classes, layer: str) -> np.ndarray:
        """Grad-CAM maps of shape (n, h, w) at the layer's resolution, float64, non-negative, not scaled.
        ``x``: the model's float input (preprocessed)."""
        import tensorflow as tf

        from audit.model.quiet import import_keras

        keras = import_keras()
        if layer not in self._graphs:
            self._graphs[layer] = keras.Model(self.inputs, [self.outputs[layer], self._before, self._final_out])
        graph = self._graphs[layer]
        idx = tf.constant(np.asarray(classes, dtype=np.int32))
        x = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
        with tf.GradientTape() as tape:
            acts, before, out = graph(x, training=False)
            if self.score == SCORE_LOGITS_LAYER:
                scores = before
            elif self.score == SCORE_LOGITS_DENSE:
                scores = tf.matmul(before, self.final.kernel) + (self.final.bias if self.final.use_bias else 0.0)
            else:
                scores = out
            picked = tf.gather(tf.cast(scores, tf.float32), idx, axis=1, batch_dims=1)
        grads = tape.gradient(picked, acts)  # each image's score depends on its own activations only
        weights = tf.reduce_mean(tf.cast(grads, tf.float32), axis=(1, 2))
        cam = tf.nn.relu(tf.reduce_sum(tf.cast(acts, tf.float32) * weights[:, None, None, :], axis=-1))
        return cam.numpy().astype(np.float64)


def gradcam_maps(model, preprocess: Callable[[np.ndarray], np.ndarray], images: np.ndarray, classes,
                 layer: str | None = None) -> tuple[np.ndarray, str]:
    """Grad-CAM maps (n, h, w) of uint8 ``images`` for ``classes``, and the layer explained."""
    graph = GradCamGraph(model)
    name = graph.check_layer(layer)
    return graph.maps(preprocess(images), classes, name), name


def _fresh(shape: tuple[int, ...], name: str, rng: np.random.Generator) -> np.ndarray:
    """A re-initialised weight: ones for ``gamma``/``moving_variance``; Glorot-uniform for kernels (2-D and more,
    fans as Keras counts them); zeros for the rest (biases, ``beta``, ``moving_mean``)."""
    leaf = name.rsplit("/", 1)[-1]
    if leaf in ("gamma", "moving_variance"):
        return np.ones(shape, dtype=np.float32)
    if len(shape) >= 2:
        receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape).astype(np.float32)
    return np.zeros(shape, dtype=np.float32)


def top_layers(model) -> list:
    """The top half (rounded up) of the model's top-level layers that hold weights, nearest the output."""
    weighted = [layer for layer in model.layers if layer.weights]
    return weighted[len(weighted) - math.ceil(len(weighted) / 2):] if weighted else []


def randomized_copy(model, seed: int):
    """A copy of ``model`` with :func:`top_layers` re-initialised (:func:`_fresh`, ``numpy.random.default_rng(seed)``,
    layers in order), the other layers keeping their trained weights; and the names of the layers re-initialised."""
    from audit.model.quiet import import_keras, quiet_stderr

    keras = import_keras()
    with quiet_stderr():
        copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    top = {id(layer) for layer in top_layers(model)}
    names = []
    for original, clone in zip(model.layers, copy.layers):
        if id(original) in top:
            clone.set_weights([_fresh(tuple(w.shape), w.path if hasattr(w, "path") else w.name, rng)
                               for w in original.weights])
            names.append(original.name)
    return copy, names
