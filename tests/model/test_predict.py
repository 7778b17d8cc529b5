"""Batched inference and a saved model turned into Predictions for the test and validation splits."""

from __future__ import annotations

import dataclasses
import io
import shutil

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from audit.errors import AuditError
from audit.model.artifacts import VALIDATION_FILE
from audit.model.predict import MSG_DATASET_MISMATCH, cifar10_predictions, predict

pytestmark = pytest.mark.slow


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_batches_agree_with_one_pass(trained, small_data):
    x = small_data.x_test[:20]
    whole = predict(trained.model, x, batch_size=512, progress=False)
    assert whole.shape == (20, 10) and whole.dtype == np.float32
    assert_allclose(predict(trained.model, x, batch_size=7, progress=False), whole, rtol=1e-5, atol=1e-7)
    scaled = x.astype(np.float32) / 255
    assert_allclose(whole, np.asarray(trained.model(scaled, training=False)), rtol=1e-5, atol=1e-7)


def test_progress_bar_only_on_a_terminal(trained, small_data):
    tty, pipe = FakeTerminal(), io.StringIO()
    predict(trained.model, small_data.x_test[:10], batch_size=4, stream=tty)
    predict(trained.model, small_data.x_test[:10], batch_size=4, stream=pipe)
    assert "predicting 10/10 [" in tty.getvalue() and pipe.getvalue() == ""


def test_predict_refuses_float_images(trained):
    with pytest.raises(AuditError, match="uint8 array of shape"):
        predict(trained.model, np.zeros((2, 32, 32, 3), np.float32))


def test_test_split_predictions(trained, small_data):
    data = dataclasses.replace(small_data, x_test=small_data.x_test[:30], y_test=small_data.y_test[:30])
    preds = cifar10_predictions(trained.out_dir, data, progress=False)
    assert preds.n_samples == 30 and preds.n_classes == 10
    assert preds.class_names == tuple(small_data.class_names)
    assert list(preds.sample_ids[:2]) == ["test/00000", "test/00001"]
    assert_array_equal(preds.labels, small_data.y_test[:30])
    assert_array_equal(preds.images, small_data.x_test[:30])
    assert cifar10_predictions(trained.out_dir, data, images=False, progress=False).images is None


def test_validation_split_uses_the_recorded_indices(trained, small_data):
    preds = cifar10_predictions(trained.out_dir, small_data, split="validation", progress=False)
    idx = trained.validation_indices
    assert preds.n_samples == len(idx) == 60
    assert preds.sample_ids[0] == f"train/{idx[0]:05d}"
    assert_array_equal(preds.labels, small_data.y_train[idx])
    assert_array_equal(preds.images, small_data.x_train[idx])


def test_validation_split_on_another_dataset_is_refused(trained, small_data):
    name = next(iter(small_data.files))
    other = dataclasses.replace(small_data, files={**small_data.files, name: "f" * 64})
    with pytest.raises(AuditError, match=MSG_DATASET_MISMATCH.split(":")[0]):
        cifar10_predictions(trained.out_dir, other, split="validation", progress=False)


def test_validation_split_without_indices(trained, small_data, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(trained.out_dir, folder)
    (folder / VALIDATION_FILE).unlink()
    with pytest.raises(AuditError, match="records no validation indices"):
        cifar10_predictions(folder, small_data, split="validation", progress=False)
    with pytest.raises(AuditError, match="split must be one of test, validation; got 'train'"):
        cifar10_predictions(folder, small_data, split="train")
