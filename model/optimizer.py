"""The notebook's optimizer (RMSprop with Keras's defaults) and, for the fast mode, the same update
computed by TensorFlow's fused RMSprop kernel.

Keras 3 writes RMSprop's update as about ten element-wise operations per variable, each a pass over the
variable (the 8192 x 512 dense kernel is 16 MiB); TensorFlow's ``ResourceApplyRMSProp`` does it in one
multithreaded kernel. Measured on 2 cores: 8.9 ms -> 4.3 ms per step for the seed network, a sixth of a
``mixed_bfloat16`` training step (BENCHMARKS.md).
"""

from __future__ import annotations

from typing import Any

#: How the fast mode computes the optimizer's update, as recorded in the manifest.
FUSED_UPDATE = "tf.raw_ops.ResourceApplyRMSProp (TensorFlow's fused RMSprop kernel), momentum 0"
KERAS_UPDATE = "keras.optimizers.RMSprop.update_step"


def make_optimizer(keras):
    """RMSprop with Keras's defaults (learning rate 0.001, rho 0.9, epsilon 1e-7), as the notebook uses.

    Named ``rm_sprop`` so the manifest does not say ``rm_sprop_1`` for a second run in one process.
    """
    return keras.optimizers.RMSprop(name="rm_sprop")


def fuse_rmsprop(optimizer, variables) -> None:
    """Make ``optimizer`` (a built-in Keras RMSprop) update ``variables`` with the fused kernel.

    Same algorithm, hyper-parameters and state as Keras's ``RMSprop.update_step``::

        velocity <- rho * velocity + (1 - rho) * g**2
        variable <- variable - lr * g / sqrt(velocity + epsilon)

    TensorFlow's kernel computes ``ms += (g**2 - ms) * (1 - rho)``, ``mom = momentum * mom + lr * g /
    sqrt(ms + epsilon)``, ``var -= mom``: equal up to float rounding. With momentum 0, ``mom`` only
    holds the current step's increment, so it is a scratch buffer kept outside the optimizer's state:
    the optimizer's variables (and a saved model's optimizer) are those of a plain Keras RMSprop.

    Only the instance is changed (its ``update_step``), never the class.

    Parameters
    ----------
    optimizer : keras.optimizers.RMSprop
        Momentum 0, not centered, TensorFlow backend.
    variables : list of keras.Variable
        The variables it will update (``model.trainable_variables``); the optimizer is built for them
        if it is not yet.

    Raises
    ------
    ValueError
        For another optimizer, momentum, ``centered=True``, another backend or a ``tf.distribute``
        strategy.
    """
    import keras
    import tensorflow as tf

    if type(optimizer) is not keras.optimizers.RMSprop or optimizer.momentum or optimizer.centered:
        raise ValueError("fuse_rmsprop needs a keras.optimizers.RMSprop with momentum=0 and centered=False")
    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"fuse_rmsprop needs the TensorFlow backend; Keras uses {keras.backend.backend()!r}")
    strategy = getattr(optimizer, "_distribution_strategy", None)
    # Outside any strategy scope, get_strategy() is TensorFlow's default (no-op) strategy.
    if tf.distribute.has_strategy() or (strategy is not None and strategy is not tf.distribute.get_strategy()):
        # The scratch buffers below are plain single-device variables that replicas would share.
        raise ValueError("fuse_rmsprop does not support tf.distribute strategies; use the plain optimizer")
    if not optimizer.built:
        optimizer.build(variables)
    # tf.Variables, not optimizer variables: not saved, not counted in optimizer.variables.
    scratch = [tf.Variable(tf.zeros(v.shape, dtype=v.dtype), trainable=False, name=f"rmsprop_increment_{i}")
               for i, v in enumerate(variables)]
    by_index = {optimizer._get_variable_index(v): s for v, s in zip(variables, scratch)}

    def update_step(gradient, variable, learning_rate) -> Any:
        index = optimizer._get_variable_index(variable)
        dtype = variable.dtype
        tf.raw_ops.ResourceApplyRMSProp(
            var=variable.handle,
            ms=optimizer._velocities[index].handle,
            mom=by_index[index].handle,
            lr=tf.cast(learning_rate, dtype),
            rho=tf.constant(optimizer.rho, dtype),
            momentum=tf.constant(0.0, dtype),
            epsilon=tf.constant(optimizer.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )

    optimizer.update_step = update_step
    optimizer._audit_scratch = scratch  # keep the buffers alive with the optimizer

