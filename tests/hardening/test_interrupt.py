"""Ctrl-C during ``audit run``: a real SIGINT to the running command exits 130 with "interrupted" on
stderr, no traceback, no temporary file, and the previous report untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers.hardening_helpers import REPO, snapshot, temporaries

OLD = {"audit.json": b'{"old": true}\n', "report.html": b"<p>old</p>\n", "summary.md": b"old\n",
       "junit.xml": b"<testsuites/>\n"}


def _open_files(pid: int) -> list[str]:
    try:
        return [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return []


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to see when the run has started")
def test_sigint_during_a_run_exits_130_and_leaves_no_partial_files(tmp_path):
    rng = np.random.default_rng(0)
    n = 100_000
    big = tmp_path / "big.npz"
    np.savez(big, probs=rng.dirichlet(np.ones(10), size=n).astype(np.float32).astype(np.float64),
             labels=rng.integers(0, 10, n), class_names=np.asarray([f"c{i}" for i in range(10)]))
    out = tmp_path / "out"
    out.mkdir()
    for name, payload in OLD.items():
        (out / name).write_bytes(payload)
    before = snapshot(out)
    # tiny chunks make the streamed audit of 100k rows take ~10 s, far longer than the wait below
    proc = subprocess.Popen(
        [sys.executable, "-m", "audit", "run", "--predictions", str(big), "--out", str(out),
         "--stream", "--chunk-rows", "10"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as from a terminal, even under CI
    try:
        # inside the audit: the predictions file seen open, or (its reading can be shorter than one poll) the
        # process past its imports (2 CPU-seconds; the whole streamed audit takes about 20)
        deadline = time.monotonic() + 60
        while (os.path.realpath(big) not in _open_files(proc.pid) and _cpu_seconds(proc.pid) < 2.0
               and proc.poll() is None and time.monotonic() < deadline):
            time.sleep(0.02)
        time.sleep(0.3)  # well inside the audit now
        assert proc.poll() is None, f"the run ended before it could be interrupted: {proc.stderr.read()}"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == ["audit: interrupted"], stderr
    assert snapshot(out) == before and temporaries(tmp_path) == []
