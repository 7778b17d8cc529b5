import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from audit.metrics.slices import image_properties, image_slices, tercile_slice


def test_terciles_hand_worked():
    # quantiles of 1..6 at 1/3 and 2/3 (linear): 1 + 5/3 = 2.666667, 1 + 10/3 = 4.333333
    s = tercile_slice(np.array([6, 1, 2, 3, 4, 5]), "brightness")
    assert_allclose(s["cut_points"], [2.666667, 4.333333], atol=1e-6)
    assert_array_equal(s["labels"], ["high", "low", "low", "mid", "mid", "high"])
    assert "proxy" in s["note"] and "not a demographic" in s["note"]


def test_value_on_a_cut_point_goes_to_the_lower_slice():
    s = tercile_slice(np.array([1.0, 2.0, 3.0, 4.0]), "contrast")  # cuts 2.0 and 3.0
    assert_array_equal(s["labels"], ["low", "low", "mid", "high"])


def test_image_properties_hand_worked():
    flat = np.full((4, 4, 3), 10, dtype=np.uint8)
    checker = np.zeros((4, 4, 3), dtype=np.uint8)
    checker[::2, ::2] = 255
    checker[1::2, 1::2] = 255  # half the pixels white: gray mean 127.5, std 127.5
    props = image_properties(np.stack([flat, checker]))
    assert_allclose(props["brightness"], [10.0, 127.5])
    assert_allclose(props["contrast"], [0.0, 127.5], atol=1e-3)


def test_image_slices_single_channel_and_names():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 8, 8, 1), dtype=np.uint8)
    slices = image_slices(images)
    assert [s["name"] for s in slices] == ["brightness", "contrast"]
    for s in slices:
        assert sorted(set(s["labels"])) == ["high", "low", "mid"]
        assert np.bincount(np.unique(s["labels"], return_inverse=True)[1]).tolist() == [10, 10, 10]


def test_image_properties_batches_agree():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (2100, 4, 4, 3), dtype=np.uint8)
    props = image_properties(images)
    assert props["brightness"][2099] == pytest.approx(images[2099].mean(), rel=1e-6)
    gray = images[5].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    assert props["contrast"][5] == pytest.approx(gray.std(), rel=1e-5)
