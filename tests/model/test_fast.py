"""Fast training mode: mixed bfloat16 with float32 probabilities, the tf.data pipeline, the policy reset,
the manifest, safe-mode loading; and the progress verbosity for logs."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from helpers.cifar_fixtures import synthetic_cifar
from numpy.testing import assert_allclose, assert_array_equal

from audit.model.artifacts import MANIFEST_FILE, load_model
from audit.model.network import SEED_LAYERS, SEED_PARAMS
from audit.model.optimizer import FUSED_UPDATE, KERAS_UPDATE
from audit.model.train import (
    PIPELINE_DEFAULT,
    PIPELINE_FAST,
    PIPELINE_THREADS,
    POLICY_FAST,
    image_dataset,
    precision_policy,
    progress_verbosity,
    train,
)


@pytest.fixture(scope="module")
def trained_fast(small_data, tmp_path_factory):
    """One fast epoch on 300 images, saved."""
    out = tmp_path_factory.mktemp("fast") / "cifar10-fast"
    return train(small_data, epochs=1, limit=300, seed=7, out_dir=out, verbose=0, fast=True)


def _global_policy() -> str:
    import keras

    return keras.mixed_precision.global_policy().name


@pytest.mark.slow
def test_fast_run_records_itself_and_resets_the_policy(trained_fast):
    manifest = json.loads((trained_fast.out_dir / MANIFEST_FILE).read_text())
    assert manifest["fast"] is True and manifest["precision_policy"] == POLICY_FAST
    assert manifest["input_pipeline"] == PIPELINE_FAST
    assert manifest["optimizer_update"] == FUSED_UPDATE
    # fit ran the fused kernel: its scratch buffers hold the last step's increments
    assert any(np.any(np.asarray(b) != 0) for b in trained_fast.model.optimizer._audit_scratch)
    assert manifest["hyperparameters"]["optimizer"]["name"] == "rm_sprop"
    assert (manifest["dataset"]["n_train"], manifest["dataset"]["n_validation"]) == (240, 60)
    assert set(trained_fast.history[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert _global_policy() == "float32"


@pytest.mark.slow
def test_fast_model_is_the_seed_network_in_bfloat16_with_float32_output(trained_fast):
    model = trained_fast.model
    assert tuple(type(layer).__name__ for layer in model.layers) == SEED_LAYERS
    assert model.count_params() == SEED_PARAMS
    assert {layer.dtype_policy.name for layer in model.layers[:-1]} == {POLICY_FAST}
    assert model.layers[-1].dtype_policy.name == "float32"
    assert all(w.dtype == "float32" for w in model.weights)  # variables stay float32 under mixed precision


@pytest.mark.slow
@pytest.mark.parametrize("via", ["keras", "json"])
def test_fast_model_loads_in_safe_mode_and_gives_float32_probabilities(trained_fast, small_data, via):
    model = load_model(trained_fast.out_dir, via=via)
    x = small_data.x_test[:16].astype("float32") / 255
    probs = np.asarray(model.predict_on_batch(x))
    assert probs.dtype == np.float32 and probs.shape == (16, 10)
    assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert_allclose(probs, np.asarray(trained_fast.model.predict_on_batch(x)), rtol=1e-5, atol=1e-6)
    assert _global_policy() == "float32"


@pytest.mark.slow
def test_default_run_records_float32(trained):
    manifest = json.loads((trained.out_dir / MANIFEST_FILE).read_text())
    assert manifest["fast"] is False and manifest["precision_policy"] == "float32"
    assert manifest["input_pipeline"] == PIPELINE_DEFAULT
    assert manifest["optimizer_update"] == KERAS_UPDATE
    assert {layer.dtype_policy.name for layer in trained.model.layers} == {"float32"}


def test_policy_is_restored_after_an_error():
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with precision_policy(POLICY_FAST):
            assert _global_policy() == POLICY_FAST
            raise Boom
    assert _global_policy() == "float32"


def test_fast_training_failure_resets_the_policy(tmp_path, monkeypatch):
    import keras

    def broken_fit(self, *args, **kwargs):
        raise RuntimeError("fit failed")

    monkeypatch.setattr(keras.Model, "fit", broken_fit)
    with pytest.raises(RuntimeError, match="fit failed"):
        train(synthetic_cifar(40, 10), epochs=1, out_dir=tmp_path / "m", verbose=0, fast=True)
    assert _global_policy() == "float32"


def test_pipeline_scales_one_hot_encodes_and_batches():
    x = np.zeros((5, 2, 2, 3), dtype=np.uint8)
    x[:, 0, 0, 0] = [0, 51, 102, 204, 255]
    labels = np.array([0, 3, 9, 1, 3])
    batches = list(image_dataset(x, labels, batch_size=2).as_numpy_iterator())
    assert [b[0].shape[0] for b in batches] == [2, 2, 1]
    xs = np.concatenate([b[0] for b in batches])
    ys = np.concatenate([b[1] for b in batches])
    assert xs.dtype == np.float32 and ys.dtype == np.float32
    assert_allclose(xs[:, 0, 0, 0], [0.0, 0.2, 0.4, 0.8, 1.0], rtol=1e-6)
    assert_array_equal(ys, np.eye(10, dtype=np.float32)[labels])


def test_pipeline_uses_one_private_thread_and_no_autotuning():
    ds = image_dataset(np.zeros((4, 2, 2, 3), dtype=np.uint8), np.arange(4), batch_size=2, shuffle_seed=0)
    options = ds.options()
    assert options.autotune.enabled is False
    assert options.threading.private_threadpool_size == PIPELINE_THREADS == 1
    assert "one private pipeline thread, autotuning off" in PIPELINE_FAST


def test_pipeline_shuffle_is_seeded_and_keeps_every_row():
    x = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1)
    labels = np.arange(20) % 10

    def order(seed):
        ds = image_dataset(x, labels, batch_size=8, shuffle_seed=seed)
        return np.concatenate([b[0].ravel() for b in ds.as_numpy_iterator()])

    first = np.rint(order(3) * 255).astype(int)
    assert_array_equal(np.sort(first), np.arange(20))
    assert not np.array_equal(first, np.arange(20))
    assert_array_equal(order(3), order(3))


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize("stream, expected", [(_Stream(True), 1), (_Stream(False), 2), (object(), 2)])
def test_progress_is_one_line_per_epoch_when_not_a_terminal(stream, expected):
    assert progress_verbosity(stream) == expected


def test_cli_help_offers_fast():
    from click.testing import CliRunner

    from audit.commands.train import train as train_command

    result = CliRunner().invoke(train_command, ["--help"])
    assert result.exit_code == 0 and "--fast" in result.output and "bfloat16" in result.output
