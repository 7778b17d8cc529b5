"""The seed network factory: layer sequence, hyper-parameters of each layer, parameter count."""

from __future__ import annotations

import pytest

from audit.model.network import SEED_LAYERS, SEED_PARAMS, make_model


@pytest.fixture(scope="module")
def seed_net():
    return make_model()


def test_layer_sequence(seed_net):
    assert tuple(type(layer).__name__ for layer in seed_net.layers) == SEED_LAYERS


def test_parameter_count_and_shapes(seed_net):
    assert seed_net.count_params() == SEED_PARAMS == 4_200_842
    assert seed_net.input_shape == (None, 32, 32, 3)
    assert seed_net.output_shape == (None, 10)


def test_layer_settings_match_the_notebook(seed_net):
    conv, relu1, pool, drop1, _, dense1, relu2, drop2, dense2, soft = seed_net.layers
    assert conv.filters == 32 and conv.kernel_size == (3, 3) and conv.padding == "same"
    assert pool.pool_size == (2, 2)
    assert drop1.rate == 0.25 and drop2.rate == 0.5
    assert dense1.units == 512 and dense2.units == 10
    assert [a.activation.__name__ for a in (relu1, relu2, soft)] == ["relu", "relu", "softmax"]
    # the notebook's Conv2D and Dense layers have linear activation; the Activation layers do the work
    assert conv.activation.__name__ == dense1.activation.__name__ == dense2.activation.__name__ == "linear"


def test_small_factory_parameters_by_hand():
    # conv 3*3*3*32+32 = 896; pool 8x8 -> 4x4x32 = 512 inputs; dense 512*512+512 = 262,656;
    # output 512*4+4 = 2,052
    net = make_model((8, 8, 3), 4)
    assert net.count_params() == 896 + 262_656 + 2_052
    assert net.output_shape == (None, 4)
