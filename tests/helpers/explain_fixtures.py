"""Models that read only one corner of the image (a callable, Keras models with fixed weights built as Sequential
and functional graphs), and images whose corner decides the class, for the saliency-map tests."""

from __future__ import annotations

import numpy as np

SIZE = 32
CORNER = 8  # the model reads pixels [0:8, 0:8]


def corner_images(n: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 noise images with a white (class 0) or black (class 1) top-left corner, and the classes."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, SIZE, SIZE, 3), dtype=np.uint8)
    y = np.arange(n) % 2
    x[:, :CORNER, :CORNER] = np.where(y == 0, 255, 0)[:, None, None, None].astype(np.uint8)
    return x, y


def corner_callable(x: np.ndarray) -> np.ndarray:
    """Probabilities of 2 classes from the mean brightness of the top-left corner only."""
    m = x[:, :CORNER, :CORNER].reshape(len(x), -1).mean(axis=1) / 255.0
    p = 1.0 / (1.0 + np.exp(-12.0 * (m - 0.5)))
    return np.stack([p, 1.0 - p], axis=1)


def _corner_layers(L):
    far = SIZE - CORNER
    return [L.Cropping2D(((0, far), (0, far)), name="crop"), L.Conv2D(2, 1, activation="relu", name="conv"),
            L.ZeroPadding2D(((0, far), (0, far)), name="pad"), L.GlobalAveragePooling2D(name="gap"),
            L.Dense(2, name="logits"), L.Activation("softmax", name="probs")]


#: Fixed weights: conv channel 0 = relu(brightness - 0.5), channel 1 = relu(0.5 - brightness) (input x / 255);
#: logits = +-k (c0 - c1).
CORNER_WEIGHTS = [np.full((1, 1, 3, 2), 1 / 3, dtype=np.float32) * np.array([1, -1], dtype=np.float32),
                  np.array([-0.5, 0.5], dtype=np.float32),
                  np.array([[200.0, -200.0], [-200.0, 200.0]], dtype=np.float32), np.zeros(2, dtype=np.float32)]


def corner_keras(kind: str = "sequential"):
    """The corner model as a Keras ``sequential`` or ``functional`` model, with :data:`CORNER_WEIGHTS`."""
    from audit.model.quiet import import_keras

    keras = import_keras()
    if kind == "sequential":
        model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), *_corner_layers(keras.layers)])
    else:
        inp = keras.Input((SIZE, SIZE, 3))
        y = inp
        for layer in _corner_layers(keras.layers):
            y = layer(y)
        model = keras.Model(inp, y)
    model.set_weights(CORNER_WEIGHTS)
    return model


def preprocess(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32) / np.float32(255)


def keras_predict(model):
    return lambda x: np.asarray(model(preprocess(x), training=False), dtype=np.float64)


def share_in_corner(maps: np.ndarray, side: int) -> np.ndarray:
    """Per map, the share of its total in the top-left ``side`` x ``side`` pixels."""
    maps = np.asarray(maps, dtype=np.float64)
    return maps[:, :side, :side].sum(axis=(1, 2)) / maps.sum(axis=(1, 2))
