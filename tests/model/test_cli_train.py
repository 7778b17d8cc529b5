"""``audit train`` from the command line: help, version, exit code 2 with one line, no TensorFlow noise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cifar_fixtures import REPO, shared_archive, write_dataset

from audit.model.quiet import is_tf_noise


def run_audit(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "AUDIT_DATA")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "audit", *args], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def test_help_lists_options_and_examples_without_importing_tensorflow():
    code = (
        "import sys\nfrom audit.cli import main\n"
        "try:\n    main(['train', '--help'])\nexcept SystemExit as e:\n    code = e.code\n"
        "print('TF-LOADED' if 'tensorflow' in sys.modules else 'TF-NOT-LOADED', code)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.stderr == ""
    for option in ("--data", "--epochs", "--batch-size", "--seed", "--limit", "--out", "Examples:"):
        assert option in result.stdout
    assert result.stdout.strip().endswith("TF-NOT-LOADED 0")


def test_version():
    result = run_audit("--version")
    assert result.returncode == 0 and result.stdout.startswith("audit ")


def test_missing_dataset_path_is_one_line_and_exit_2(tmp_path):
    missing = tmp_path / "no-such-cifar.tar.gz"
    result = run_audit("train", "--data", str(missing), "--out", str(tmp_path / "m"))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and str(missing) in lines[0] and "dataset path not found" in lines[0]
    assert "Traceback" not in result.stderr and not (tmp_path / "m").exists()


def test_audit_data_env_is_used(tmp_path):
    result = run_audit("train", "--out", str(tmp_path / "m"), env={"AUDIT_DATA": str(tmp_path / "env-data")})
    assert result.returncode == 2 and str(tmp_path / "env-data") in result.stderr


@pytest.mark.parametrize("option", ["--epochs", "--batch-size", "--limit"])
def test_integers_must_be_at_least_one(option, tmp_path):
    result = run_audit("train", option, "0", "--data", str(tmp_path))
    assert result.returncode == 2 and "0 is not in the range x>=1" in result.stderr


@pytest.mark.parametrize(
    "line, noise",
    [
        ("I0000 00:00:1795683852.125616    8243 port.cc:153] oneDNN custom operations are on.", True),
        ("W0000 00:00:1795683852.125905    8243 cudart_stub.cc:31] Could not find cuda drivers", True),
        ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", True),
        ("2024-05-01 10:00:00.123456: I tensorflow/core/util/port.cc:113] oneDNN custom operations", True),
        ("audit: error: data.tar.gz: corrupt or partial archive", False),
        ("UserWarning: something the user should see", False),
    ],
)
def test_tf_noise_recognised(line, noise):
    assert is_tf_noise(line + "\n") is noise


@pytest.mark.slow
def test_tiny_training_run_prints_like_the_notebook_and_nothing_on_stderr(tmp_path, session_cache):
    data = shared_archive() or write_dataset(tmp_path / "data", per_file=60, test=50)
    out = tmp_path / "model"
    result = run_audit("train", "--data", str(data), "--epochs", "1", "--limit", "200", "--out", str(out),
                       env={"AUDIT_CACHE": str(session_cache)}, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    stdout = result.stdout
    for expected in ("X_train shape: (200, 32, 32, 3)", "Total params: 4,200,842",
                     "val_accuracy", "Test score: ", "Test accuracy: ", f"Saved model to {out}"):
        assert expected in stdout
    assert "\x1b[" not in stdout and "\r" not in stdout  # not a terminal: one plain line per epoch
    assert (out / "manifest.json").is_file() and (out / "cifar10.keras").is_file()


def _bad_dataset(kind: str, tmp_path: Path) -> tuple[Path, str]:
    folder = write_dataset(tmp_path / "d")
    if kind == "truncated":
        path = folder / "data_batch_2.bin"
        path.write_bytes(path.read_bytes()[:-5])
        return folder, "data_batch_2.bin: truncated"
    if kind == "label":
        path = folder / "test_batch.bin"
        raw = bytearray(path.read_bytes())
        raw[3073 * 4] = 10
        path.write_bytes(bytes(raw))
        return folder, "test_batch.bin: record 4 has label byte 10"
    if kind == "missing":
        (folder / "data_batch_5.bin").unlink()
        return folder, "missing data_batch_5.bin"
    if kind == "corrupt-archive":
        archive = tmp_path / "cifar.tar.gz"
        archive.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 50)
        return archive, "cifar.tar.gz: corrupt or partial archive"
    import io
    import tarfile

    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../x")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    return archive, "refusing archive member '../x'"


@pytest.mark.parametrize("kind", ["truncated", "label", "missing", "corrupt-archive", "escaping-member"])
def test_bad_datasets_exit_2_with_one_line(kind, tmp_path):
    path, expected = _bad_dataset(kind, tmp_path)
    result = run_audit("train", "--data", str(path), "--out", str(tmp_path / "m"),
                       env={"AUDIT_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not (tmp_path / "m").exists() and not (tmp_path / "x").exists()
