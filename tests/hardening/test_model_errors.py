"""Bad saved models through ``audit run --model DIR`` (in-process, stderr captured at the file-descriptor
level so TensorFlow noise would show): exit 2, one line naming the file and the problem, no report.

The tiny models are built once per module; the dataset is a tiny synthetic folder in the binary layout.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers.cifar_fixtures import write_dataset  # noqa: E402
from helpers.hardening_helpers import assert_clear_error, run_main, snapshot  # noqa: E402

from audit.model.artifacts import HINT_NOT_PROBS, KERAS_FILE, MANIFEST_FILE  # noqa: E402
from audit.model.keras_config import HINT_REBUILD, MSG_NOT_KERAS  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """{name: path of a .keras file} for the tiny models, and the dataset folder."""
    from audit.model.quiet import import_keras

    keras = import_keras()
    root = tmp_path_factory.mktemp("models")
    layers = keras.layers

    def save(name, *body, shape=(32, 32, 3)):
        net = keras.Sequential([keras.Input(shape), *body])
        net.save(root / f"{name}.keras")
        return root / f"{name}.keras"

    files = {
        "good": save("good", layers.Flatten(), layers.Dense(10, activation="softmax")),
        "wrong-shape": save("wrong-shape", layers.Flatten(), layers.Dense(10, activation="softmax"), shape=(28, 28, 1)),
        "logits": save("logits", layers.Flatten(), layers.Dense(10)),
        "sigmoid": save("sigmoid", layers.Flatten(), layers.Dense(10, activation="sigmoid")),
        "five-classes": save("five-classes", layers.Flatten(), layers.Dense(5, activation="softmax")),
        "lambda": save("lambda", layers.Lambda(lambda t: t * 1.0, name="sneaky"), layers.Flatten(),
                       layers.Dense(10, activation="softmax")),
    }
    data = write_dataset(tmp_path_factory.mktemp("data") / "cifar-10-batches-bin", per_file=10, test=10)
    return files, data


def model_dir(tmp_path: Path, keras_file: Path | None, manifest: str | None = "{}") -> Path:
    """A model folder holding ``manifest.json`` (text given) and a copy of ``keras_file``."""
    folder = tmp_path / "model"
    folder.mkdir()
    if manifest is not None:
        (folder / MANIFEST_FILE).write_text(manifest)
    if keras_file is not None:
        shutil.copy(keras_file, folder / KERAS_FILE)
    return folder


def audit_model(capfd, tmp_path, data, model) -> tuple[int, str]:
    """``audit run --data DATA --model MODEL --out OUT``; return (exit code, stderr)."""
    capfd.readouterr()
    code = run_main("run", "--data", data, "--model", model, "--out", tmp_path / "out", "--bootstrap", "0")
    captured = capfd.readouterr()
    assert not (tmp_path / "out").exists() or code == 0
    return code, captured.err


def _garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.keras"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)
    return path


def _zip_without_config(tmp_path: Path) -> Path:
    path = tmp_path / "noconfig.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", "{}")
    return path


def _damaged_weights(tmp_path: Path, good: Path) -> Path:
    path = tmp_path / "damaged.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            payload = src.read(item.filename)
            dst.writestr(item, payload[:64] if item.filename.endswith(".h5") else payload)
    return path


def _needs_code(tmp_path: Path, good: Path, kind: str) -> Path:
    """A copy of ``good`` (Input, Flatten, Dense) whose ``config.json`` names a custom class (the Flatten
    layer from ``my_company.layers``) or a function from another module (``builtins.exec`` as the Dense
    layer's activation): Keras would import that code to load the file."""
    path = tmp_path / f"{kind}.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            payload = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(payload)
                flatten, dense = config["config"]["layers"][1:3]
                if kind == "custom-class":
                    flatten.update(module="my_company.layers", registered_name="MyCompany>Flatten")
                else:
                    dense["config"]["activation"] = {"module": "builtins", "class_name": "function",
                                                     "config": "exec", "registered_name": "function"}
                payload = json.dumps(config).encode()
            dst.writestr(item, payload)
    return path


CASES = {
    # name: (how to build the folder, file the message names, fragments)
    "corrupt-keras": (lambda tmp, f: model_dir(tmp, _garbage(tmp)), KERAS_FILE,
                      (MSG_NOT_KERAS,)),
    "keras-zip-without-config": (lambda tmp, f: model_dir(tmp, _zip_without_config(tmp)), KERAS_FILE,
                                 ("corrupt model file (no readable config.json",)),
    "keras-damaged-weights": (lambda tmp, f: model_dir(tmp, _damaged_weights(tmp, f["good"])), KERAS_FILE,
                              ("corrupt model file (",)),
    "keras-file-missing": (lambda tmp, f: model_dir(tmp, None), "model", ("model not found (cifar10.keras missing)",)),
    "unreadable-manifest": (lambda tmp, f: model_dir(tmp, f["good"], manifest="{ not json"), MANIFEST_FILE,
                            ("unreadable manifest",)),
    "not-a-model-folder": (lambda tmp, f: model_dir(tmp, f["good"], manifest=None), "model",
                           ("not a saved model folder (no manifest.json)", "--model")),
    "wrong-input-shape": (lambda tmp, f: model_dir(tmp, f["wrong-shape"]), KERAS_FILE,
                          ("model input shape is (None, 28, 28, 1); CIFAR-10 images need (None, 32, 32, 3)",)),
    "logits": (lambda tmp, f: model_dir(tmp, f["logits"]), KERAS_FILE,
               ("model outputs are not probabilities", "last layer activation: linear", HINT_NOT_PROBS)),
    "sigmoid": (lambda tmp, f: model_dir(tmp, f["sigmoid"]), KERAS_FILE,
                ("model outputs are not probabilities", "not 1", "sigmoid")),
    "lambda-layer": (lambda tmp, f: model_dir(tmp, f["lambda"]), KERAS_FILE,
                     ("Lambda layer ('sneaky')", "safe mode", "arbitrary code execution", HINT_REBUILD)),
    "custom-class": (lambda tmp, f: model_dir(tmp, _needs_code(tmp, f["good"], "custom-class")), KERAS_FILE,
                     ("needs Python code to load", "the custom object 'MyCompany>Flatten' from module "
                      "'my_company.layers'", "arbitrary code execution", HINT_REBUILD)),
    "custom-function": (lambda tmp, f: model_dir(tmp, _needs_code(tmp, f["good"], "custom-function")), KERAS_FILE,
                        ("needs Python code to load", "the function 'exec' from module 'builtins'",
                         "arbitrary code execution", HINT_REBUILD)),
    "wrong-class-count": (lambda tmp, f: model_dir(tmp, f["five-classes"]), "model",
                          ("model has 5 outputs but the dataset has 10 classes",)),
    "no-validation-indices": (lambda tmp, f: model_dir(tmp, f["good"]), "model",
                              ("records no validation indices", "validation_indices.npy missing")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_model_exits_2_with_one_line(case, built, tmp_path, capfd):
    files, data = built
    build, named, fragments = CASES[case]
    folder = build(tmp_path, files)
    before = snapshot(folder)
    code, err = audit_model(capfd, tmp_path, data, folder)
    assert code == 2, err
    assert_clear_error(err, named, *fragments)
    assert snapshot(folder) == before  # the model folder is left as it was


@pytest.mark.parametrize("case", ["lambda-layer", "custom-class", "custom-function"])
def test_model_needing_code_never_reaches_keras(case, built, tmp_path, capfd, monkeypatch):
    # the refusal comes from reading config.json, before Keras deserialises anything
    import keras

    def no_load(*args, **kwargs):
        raise AssertionError(f"keras.models.load_model was called on a model needing code ({case})")

    monkeypatch.setattr(keras.models, "load_model", no_load)
    files, data = built
    code, err = audit_model(capfd, tmp_path, data, CASES[case][0](tmp_path, files))
    assert code == 2 and "arbitrary code execution" in err


def test_missing_model_folder_given_explicitly(built, tmp_path, capfd, monkeypatch):
    files, data = built

    def no_training(*args, **kwargs):
        raise AssertionError("audit run started training because --model named a folder that does not exist")

    monkeypatch.setattr("model.train.train", no_training)
    missing = tmp_path / "no-such-model"
    code, err = audit_model(capfd, tmp_path, data, missing)
    assert code == 2, err
    assert_clear_error(err, missing, "model not found")
    assert not missing.exists()


def test_model_option_given_a_keras_file(built, tmp_path, capfd):
    files, data = built
    code, err = audit_model(capfd, tmp_path, data, files["good"])
    assert code == 2, err
    assert_clear_error(err, files["good"], "folder")
