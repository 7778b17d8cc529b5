"""Grad-CAM (audit.model.explain.gradcam): maps concentrate where the model reads; Sequential and functional
models give the same maps; the layer is chosen and checked; the randomised copy keeps the lower layers."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.explain_fixtures import CORNER, SIZE, corner_images, corner_keras, preprocess, share_in_corner

from audit.errors import AuditError
from audit.model.explain.gradcam import (MSG_NO_LAYER, SCORE_LOGITS_DENSE, SCORE_LOGITS_LAYER, GradCamGraph,
                                         gradcam_maps, randomized_copy, top_layers)


@pytest.fixture(scope="module")
def images():
    return corner_images(8)


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_a_model_that_reads_one_corner_has_its_maps_there(kind, images):
    x, y = images
    model = corner_keras(kind)
    assert (np.argmax(model.predict_on_batch(preprocess(x)), axis=1) == y).all()
    maps, layer = gradcam_maps(model, preprocess, x, y)
    assert layer == "pad" and maps.shape == (len(x), SIZE, SIZE)
    assert (maps >= 0).all()
    np.testing.assert_allclose(share_in_corner(maps, CORNER), 1.0)  # nothing outside the corner


def test_sequential_and_functional_give_the_same_maps(images):
    x, y = images
    a, _ = gradcam_maps(corner_keras("sequential"), preprocess, x, y)
    b, _ = gradcam_maps(corner_keras("functional"), preprocess, x, y)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_grad_cam_by_hand_on_one_channel():
    """One image, the corner white: on layer "pad", c0 = relu(1 - 0.5) = 0.5 on the 64 corner pixels and 0
    elsewhere, c1 = 0; logit_0 = 200 * GAP(c0) - 200 * GAP(c1), so the channel weights are +-200 / 1024 (the
    gradient, the same at every pixel); the map is relu(0.5 * 200 / 1024) on the corner, 0 elsewhere."""
    x, _ = corner_images(1)
    maps, _ = gradcam_maps(corner_keras(), preprocess, x, [0])
    expected = np.zeros((SIZE, SIZE))
    expected[:CORNER, :CORNER] = 0.5 * 200 / 1024
    np.testing.assert_allclose(maps[0], expected, rtol=1e-5)


def test_the_class_score_is_the_logit():
    from audit.model.quiet import import_keras

    keras = import_keras()
    L = keras.layers
    assert GradCamGraph(corner_keras()).score == SCORE_LOGITS_LAYER
    dense = keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(2, 3, name="c"), L.Flatten(),
                              L.Dense(3, activation="softmax")])
    assert GradCamGraph(dense).score == SCORE_LOGITS_DENSE
    x = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    maps, layer = gradcam_maps(dense, preprocess, x, [0, 1, 2])
    assert layer == "c" and maps.shape == (3, 6, 6)


def test_the_layer_is_the_last_4d_one_unless_named():
    graph = GradCamGraph(corner_keras())
    assert graph.spatial == ["crop", "conv", "pad"]
    assert graph.check_layer(None) == "pad"
    assert graph.check_layer("conv") == "conv"
    with pytest.raises(AuditError, match="no such layer; layers with a 4-D output: crop, conv, pad"):
        graph.check_layer("conv9")
    with pytest.raises(AuditError, match=r"'logits'.*shape \(None, 2\); Grad-CAM needs a 4-D"):
        graph.check_layer("logits")
    assert MSG_NO_LAYER.startswith("--explain-layer")


def test_the_default_layer_skips_a_dropout_after_the_last_pooling_and_gives_the_same_maps():
    from audit.model.quiet import import_keras

    keras = import_keras()
    L = keras.layers
    model = keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(4, 3, padding="same", name="conv"),
                              L.MaxPooling2D(name="pool"), L.Dropout(0.25, name="drop"), L.Flatten(),
                              L.Dense(3, activation="softmax")])  # the seed network's tail
    graph = GradCamGraph(model)
    assert graph.spatial == ["conv", "pool", "drop"] and graph.check_layer(None) == "pool"
    assert graph.check_layer("drop") == "drop"  # still explainable when named
    x = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    pooled, layer = gradcam_maps(model, preprocess, x, [0, 1, 2, 0])
    dropped, _ = gradcam_maps(model, preprocess, x, [0, 1, 2, 0], layer="drop")
    assert layer == "pool"
    np.testing.assert_allclose(pooled, dropped, rtol=1e-6, atol=1e-9)  # identity at inference: the same map


def test_the_randomised_copy_re_initialises_the_top_half_and_keeps_the_rest():
    model = corner_keras()
    assert [layer.name for layer in top_layers(model)] == ["logits"]
    copy, names = randomized_copy(model, seed=3)
    assert names == ["logits"]
    np.testing.assert_array_equal(copy.get_layer("conv").get_weights()[0], model.get_layer("conv").get_weights()[0])
    kernel, bias = copy.get_layer("logits").get_weights()
    limit = np.sqrt(6 / (2 + 2))
    assert not np.allclose(kernel, model.get_layer("logits").get_weights()[0])
    assert (np.abs(kernel) <= limit).all() and (bias == 0).all()
    again, _ = randomized_copy(model, seed=3)
    np.testing.assert_array_equal(again.get_layer("logits").get_weights()[0], kernel)  # seeded
    np.testing.assert_array_equal(model.get_layer("logits").get_weights()[0], np.array([[200, -200], [-200, 200]]))
