"""Fixtures for the benchmark tests: a small CIFAR-10 binary dataset (300 training and 40 test images), one seed
model trained on it for one epoch, and a runner of the bench scripts as a user runs them (a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cifar_fixtures import write_dataset

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def bench_env(tmp_path_factory) -> dict:
    """The environment of a bench process: a dataset cache and a history database of its own."""
    root = tmp_path_factory.mktemp("bench-env")
    env = dict(os.environ, AUDIT_CACHE=str(root / "cache"), AUDIT_DB=str(root / "history.sqlite"),
               TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("AUDIT_DATA", None)
    return env


@pytest.fixture(scope="session")
def bench_data(tmp_path_factory) -> Path:
    """The seven files of the binary layout, small: 5 x 60 training images, 40 test images."""
    return write_dataset(tmp_path_factory.mktemp("bench-data") / "cifar-10-batches-bin", per_file=60, test=40)


@pytest.fixture(scope="session")
def bench_model(bench_data, bench_env, tmp_path_factory) -> Path:
    """The seed network trained for one epoch on ``bench_data`` (float32: the ONNX export needs it)."""
    out = tmp_path_factory.mktemp("bench-model") / "cifar10-seed"
    done = subprocess.run([sys.executable, "-m", "audit", "train", "--data", str(bench_data), "--epochs", "1",
                           "--out", str(out), "--seed", "3"], env=bench_env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.fixture
def run_bench(bench_env, tmp_path):
    """Run ``bench/<script>`` with ``args`` plus ``--json`` (and ``--force``: the test machine is shared); return
    its JSON record (and the finished process as ``.proc``)."""

    def run(script: str, *args: str, force: bool = True, timeout: int = 300) -> dict:
        out = tmp_path / f"{Path(script).stem}.json"
        cmd = [sys.executable, str(REPO / "bench" / script), *map(str, args), "--json", str(out)]
        done = subprocess.run(cmd + (["--force"] if force else []), cwd=REPO, env=bench_env, capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        return json.loads(out.read_text(encoding="utf-8"))

    return run
