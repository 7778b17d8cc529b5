"""Occlusion (audit.model.explain.occlusion): geometry scaled to the input, a worked example, maps where the model
reads, one batched call per image."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.explain_fixtures import CORNER, corner_callable, corner_images, corner_keras, keras_predict, share_in_corner

from audit.model.explain.occlusion import GREY, geometry, occlusion_maps, patch_masks


@pytest.mark.parametrize("size, patch, stride, positions", [
    ((32, 32), (8, 8), (4, 4), 49), ((224, 224), (56, 56), (28, 28), 49), ((8, 8), (2, 2), (1, 1), 49),
    ((30, 20), (8, 5), (4, 2), 7 * 9),
])
def test_patch_and_stride_scale_with_the_input(size, patch, stride, positions):
    assert geometry(*size) == (patch, stride)
    masks = patch_masks(*size, patch, stride)
    assert masks.shape == (positions, *size)
    assert masks.any(axis=0).all()  # every pixel covered, the last position flush with the edge
    assert (masks.sum(axis=(1, 2)) == patch[0] * patch[1]).all()


def test_worked_example_on_a_4x4_image():
    """Patch 2 x 2, stride 2: 4 positions. The model's class-0 probability is the mean of pixel (0, 0) / 255, so
    only the top-left patch changes it: from 255/255 = 1 to 128/255; pixels it covers get 1 - 128/255, the others
    0 (each pixel is covered by one patch)."""
    x = np.zeros((1, 4, 4, 1), dtype=np.uint8)
    x[0, 0, 0] = 255

    def predict(batch):
        p = batch[:, 0, 0, 0] / 255.0
        return np.stack([p, 1 - p], axis=1)

    m = occlusion_maps(predict, x, [0], patch=(2, 2), stride=(2, 2))
    expected = np.zeros((4, 4))
    expected[:2, :2] = 1 - GREY / 255
    np.testing.assert_allclose(m[0], expected)


def test_a_callable_that_reads_one_corner_has_its_maps_there():
    x, y = corner_images(8)
    calls = []

    def predict(batch):
        calls.append(len(batch))
        return corner_callable(batch)

    maps = occlusion_maps(predict, x, y)
    assert calls == [50] * len(x)  # the image and its 49 occluded copies, in one call per image
    assert (maps >= 0).all() and (maps.max(axis=(1, 2)) > 0).all()
    # patches of 8 at stride 4 that touch the 8 x 8 corner reach at most 12 pixels in
    np.testing.assert_allclose(share_in_corner(maps, CORNER + 4), 1.0)
    assert (share_in_corner(maps, CORNER) > 0.6).all()


def test_a_keras_model_that_reads_one_corner_has_its_occlusion_maps_there():
    x, y = corner_images(6)
    maps = occlusion_maps(keras_predict(corner_keras("functional")), x, y)
    np.testing.assert_allclose(share_in_corner(maps, CORNER + 4), 1.0)
