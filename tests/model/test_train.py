"""Training: the seeded shuffle and Keras's validation cut, every artefact written, a correct manifest,
and a failed save that leaves nothing behind."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from helpers.cifar_fixtures import synthetic_cifar
from numpy.testing import assert_array_equal

from audit.errors import AuditError
from audit.model.artifacts import (
    ARCHITECTURE_FILE,
    HISTORY_FILE,
    KERAS_FILE,
    MANIFEST_FILE,
    MSG_OUT_NOT_MODEL_DIR,
    VALIDATION_FILE,
    WEIGHTS_FILE,
    check_out_dir,
)
from audit.model.train import split_order, train

ARTEFACTS = {ARCHITECTURE_FILE, WEIGHTS_FILE, KERAS_FILE, HISTORY_FILE, VALIDATION_FILE}


@pytest.mark.parametrize("n, limit", [(50000, None), (1000, 300), (10, 7), (13, None)])
def test_split_matches_keras_validation_split(n, limit):
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    order, split_at = split_order(n, seed=3, limit=limit, validation_split=0.2)
    assert sorted(set(order)) == sorted(order) and len(order) == (limit or n)
    (train_part,), (val_part,) = train_validation_split((order,), validation_split=0.2)
    assert_array_equal(order[:split_at], train_part)
    assert_array_equal(order[split_at:], val_part)


def test_split_by_hand_and_seeded():
    order, split_at = split_order(10, seed=0, limit=None, validation_split=0.2)
    assert split_at == 8  # floor(10 * 0.8)
    assert_array_equal(order, np.random.default_rng(0).permutation(10))
    again, _ = split_order(10, seed=0, limit=None, validation_split=0.2)
    assert_array_equal(order, again)
    assert not np.array_equal(order, split_order(10, seed=1, limit=None, validation_split=0.2)[0])


def test_too_few_images_for_the_split():
    with pytest.raises(AuditError, match="1 training image.* leave 0 for training and 1 for validation"):
        split_order(100, seed=0, limit=1, validation_split=0.2)


@pytest.mark.slow
def test_one_epoch_writes_every_artefact_and_a_correct_manifest(trained):
    out = trained.out_dir
    assert {p.name for p in out.iterdir()} == ARTEFACTS | {MANIFEST_FILE}
    assert not list(out.parent.glob(".*tmp"))  # no staging folder left
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert set(manifest["artifacts"]) == ARTEFACTS
    for name, digest in manifest["artifacts"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    assert manifest["seed"] == 7 and manifest["limit"] == 300
    hp = manifest["hyperparameters"]
    assert (hp["epochs"], hp["batch_size"], hp["validation_split"]) == (1, 128, 0.2)
    assert hp["loss"] == "categorical_crossentropy" and hp["optimizer"]["name"] == "rm_sprop"
    assert hp["optimizer"]["learning_rate"] == pytest.approx(0.001)
    assert manifest["model"]["params"] == 4_200_842
    assert set(manifest["versions"]) >= {"python", "tensorflow", "keras", "numpy"}
    ds = manifest["dataset"]
    assert (ds["n_train"], ds["n_validation"], ds["n_test"]) == (240, 60, 300)
    assert ds["files"] and all(len(v) == 64 for v in ds["files"].values())
    assert len(manifest["seconds_per_epoch"]) == 1 and manifest["seconds_per_epoch"][0] > 0
    assert manifest["test"]["loss"] == pytest.approx(trained.test_loss)
    assert 0 <= manifest["test"]["accuracy"] <= 1
    assert manifest["created_at"].endswith("+00:00")


@pytest.mark.slow
def test_history_and_validation_indices(trained, small_data):
    history = json.loads((trained.out_dir / HISTORY_FILE).read_text())
    assert len(history) == 1
    assert set(history[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert history[0]["epoch"] == 1
    stored = np.load(trained.out_dir / VALIDATION_FILE)
    assert_array_equal(stored, trained.validation_indices)
    order, split_at = split_order(len(small_data.y_train), seed=7, limit=300, validation_split=0.2)
    assert_array_equal(stored, order[split_at:])


def test_out_dir_that_is_not_a_model_folder_is_refused(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(AuditError, match=MSG_OUT_NOT_MODEL_DIR.format(manifest=MANIFEST_FILE)):
        check_out_dir(tmp_path)
    check_out_dir(tmp_path / "new")  # new folders are fine
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / MANIFEST_FILE).write_text("{}")
    check_out_dir(tmp_path / "model")  # a previous model folder may be replaced


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"batch_size": -1}, {"limit": 0}, {"validation_split": 1.0}])
def test_bad_settings_refused_before_training(tmp_path, bad):
    with pytest.raises(AuditError):
        train(synthetic_cifar(20, 5), out_dir=tmp_path / "m", verbose=0, **bad)
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_failed_save_keeps_the_old_model_and_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "m"
    out.mkdir()
    (out / MANIFEST_FILE).write_text('{"old": true}')
    import keras

    def broken_save(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(AuditError, match="No space left on device"):
        train(synthetic_cifar(40, 10), epochs=1, out_dir=out, verbose=0)
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    assert [p.name for p in out.iterdir()] == [MANIFEST_FILE]
    assert json.loads((out / MANIFEST_FILE).read_text()) == {"old": True}


class FakeModel:
    """Stands in for a Keras model where only the file writing is under test."""

    def __init__(self, tag: str):
        self.tag = tag

    def to_json(self):
        return json.dumps({"tag": self.tag})

    def save_weights(self, path, overwrite=True):
        path.write_bytes(b"weights " + self.tag.encode())

    def save(self, path, overwrite=True):
        path.write_bytes(b"keras " + self.tag.encode())


def _save(out, tag):
    from audit.model.artifacts import save_artifacts

    return save_artifacts(FakeModel(tag), out, history=[], validation_indices=np.arange(3), manifest={"tag": tag})


def test_a_previous_model_folder_is_replaced_whole(tmp_path):
    out = tmp_path / "m"
    _save(out, "old")
    (out / "stale.txt").write_text("from an older version")
    manifest = _save(out, "new")
    assert json.loads((out / MANIFEST_FILE).read_text()) == manifest and manifest["tag"] == "new"
    assert (out / KERAS_FILE).read_bytes() == b"keras new" and not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    assert hashlib.sha256(b"keras new").hexdigest() == manifest["artifacts"][KERAS_FILE]


def test_interrupt_between_the_renames_restores_the_previous_model(tmp_path, monkeypatch):
    import os

    out = tmp_path / "m"
    _save(out, "old")
    real_replace = os.replace
    moved_aside = []

    def replace_then_interrupt(src, dst):
        if Path(dst) == out and Path(src).name.endswith(".tmp"):  # staged folder -> out, old one moved aside
            moved_aside.append(not out.exists())
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr("audit.model.artifacts.os.replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _save(out, "new")
    monkeypatch.undo()
    assert moved_aside == [True]
    assert (out / KERAS_FILE).read_bytes() == b"keras old"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


@pytest.mark.slow
def test_same_seed_gives_the_same_weights(tmp_path):
    data = synthetic_cifar(60, 10)
    runs = [train(data, epochs=1, seed=5, out_dir=tmp_path / f"m{i}", verbose=0) for i in range(2)]
    for a, b in zip(runs[0].model.get_weights(), runs[1].model.get_weights()):
        assert_array_equal(a, b)
    assert runs[0].history[0]["loss"] == runs[1].history[0]["loss"]
    assert_array_equal(runs[0].validation_indices, runs[1].validation_indices)
