"""The fast mode's fused RMSprop update: the same update as Keras's RMSprop, the same saved state."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from audit.model.network import make_model
from audit.model.optimizer import fuse_rmsprop, make_optimizer
from audit.model.quiet import import_keras


def _model_and_grads(seed: int, steps: int):
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    model = make_model((8, 8, 3), 10)
    rng = np.random.default_rng(seed)
    grads = [[rng.normal(0, 0.1, v.shape).astype("float32") for v in model.trainable_variables]
             for _ in range(steps)]
    return model, grads


def _apply(model, optimizer, grads):
    for step in grads:
        optimizer.apply_gradients(zip(step, model.trainable_variables))
    return [np.asarray(v) for v in model.trainable_variables]


def test_fused_update_equals_keras_rmsprop():
    keras = import_keras()
    plain, grads = _model_and_grads(3, 6)
    fused, _ = _model_and_grads(3, 6)
    start = plain.get_weights()
    fused.set_weights(start)
    reference = _apply(plain, make_optimizer(keras), grads)
    optimizer = make_optimizer(keras)
    fuse_rmsprop(optimizer, fused.trainable_variables)
    got = _apply(fused, optimizer, grads)
    for want, have in zip(reference, got):
        assert_allclose(have, want, rtol=1e-5, atol=1e-7)
    assert not np.allclose(got[0], start[0])  # the updates did move the weights


def test_hand_computed_first_step():
    # v = 0.9 * 0 + 0.1 * g**2; w -= 0.001 * g / sqrt(v + 1e-7)
    keras = import_keras()
    w = keras.Variable(np.array([1.0, -2.0, 0.5], dtype="float32"))
    g = np.array([0.2, -0.4, 0.0], dtype="float32")
    optimizer = make_optimizer(keras)
    fuse_rmsprop(optimizer, [w])
    optimizer.apply_gradients([(g, w)])
    v = 0.1 * g.astype(np.float64) ** 2
    want = np.array([1.0, -2.0, 0.5]) - 0.001 * g / np.sqrt(v + 1e-7)
    assert_allclose(np.asarray(w), want, rtol=1e-6)
    assert_allclose(np.asarray(optimizer.variables[2]), v, rtol=1e-6)  # iterations, lr, then the velocity


def test_state_and_config_are_a_plain_rmsprops():
    keras = import_keras()
    model, _ = _model_and_grads(0, 0)
    plain = make_optimizer(keras)
    plain.build(model.trainable_variables)
    fused = make_optimizer(keras)
    fuse_rmsprop(fused, model.trainable_variables)
    assert type(fused) is keras.optimizers.RMSprop
    assert [v.path.split("/")[-1] for v in fused.variables] == [v.path.split("/")[-1] for v in plain.variables]
    assert fused.get_config() == plain.get_config()


@pytest.mark.parametrize("kwargs", [{"momentum": 0.9}, {"centered": True}])
def test_refuses_what_the_kernel_call_does_not_cover(kwargs):
    keras = import_keras()
    model, _ = _model_and_grads(0, 0)
    with pytest.raises(ValueError, match="momentum=0 and centered=False"):
        fuse_rmsprop(keras.optimizers.RMSprop(**kwargs), model.trainable_variables)
    with pytest.raises(ValueError, match="RMSprop"):
        fuse_rmsprop(keras.optimizers.Adam(), model.trainable_variables)


def test_refuses_a_distribution_strategy():
    import tensorflow as tf

    keras = import_keras()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model, _ = _model_and_grads(0, 0)
        optimizer = make_optimizer(keras)
    with pytest.raises(ValueError, match="tf.distribute"):
        fuse_rmsprop(optimizer, model.trainable_variables)
    with strategy.scope(), pytest.raises(ValueError, match="tf.distribute"):
        fuse_rmsprop(make_optimizer(keras), model.trainable_variables)
