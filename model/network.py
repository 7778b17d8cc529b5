"""The seed notebook's CIFAR-10 network, built by a factory so tests can check it layer by layer."""

from __future__ import annotations

from audit.model.quiet import import_keras

#: Layer classes of the seed network, in order (after the Input).
SEED_LAYERS = (
    "Conv2D", "Activation", "MaxPooling2D", "Dropout", "Flatten",
    "Dense", "Activation", "Dropout", "Dense", "Activation",
)
#: Trainable parameters of the seed network on 32x32x3 input with 10 classes.
SEED_PARAMS = 4_200_842


def make_model(input_shape: tuple[int, int, int] = (32, 32, 3), num_classes: int = 10):
    """Build the seed network (uncompiled), exactly as the notebook does, as a Keras 3 Sequential.

    Conv2D(32, 3x3, same) -> ReLU -> MaxPool 2x2 -> Dropout 0.25 -> Flatten -> Dense 512 -> ReLU
    -> Dropout 0.5 -> Dense ``num_classes`` -> softmax.

    The softmax is pinned to ``dtype="float32"``: under the float32 policy (the default) that changes
    nothing, and under ``mixed_bfloat16`` (``train(..., fast=True)``) it keeps the output
    probabilities float32 while the other layers compute in bfloat16. Same layers, same parameters.

    Parameters
    ----------
    input_shape : tuple of int (height, width, channels), default (32, 32, 3)
    num_classes : int, default 10

    Returns
    -------
    keras.Sequential
        Input shape ``(None, *input_shape)``, output ``(None, num_classes)`` probabilities.
    """
    keras = import_keras()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            layers.Conv2D(32, (3, 3), padding="same"),
            layers.Activation("relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(512),
            layers.Activation("relu"),
            layers.Dropout(0.5),
            layers.Dense(num_classes),
            layers.Activation("softmax", dtype="float32"),
        ],
        name="cifar10_seed",
    )
