"""Fixtures for the robustness tests: a Keras-free predictor on learnable synthetic images."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.cifar_fixtures import synthetic_cifar


def band_predict(images: np.ndarray) -> np.ndarray:
    """Probabilities from the brightness of the 10 three-row bands (synthetic_cifar's class signal)."""
    bands = images[:, :30].astype(np.float64).reshape(len(images), 10, -1).mean(axis=2) / 255
    logits = 12 * bands
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture(scope="session")
def synthetic():
    return synthetic_cifar(n_train=10, n_test=200, seed=3)
