"""The --corruption-data reader on tiny files in the released CIFAR-10-C layout, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest

from audit.errors import AuditError
from audit.robustness.released import ReleasedCorruptions

N = 6


def layout(folder, *, n=N, labels=None, images=None):
    folder.mkdir(parents=True, exist_ok=True)
    y = np.arange(n) % 10
    np.save(folder / "labels.npy", np.tile(y, 5).astype(np.uint8) if labels is None else labels)
    rng = np.random.default_rng(0)
    np.save(folder / "fog.npy", rng.integers(0, 256, (5 * n, 32, 32, 3), dtype=np.uint8) if images is None else images)
    return folder, y


def test_reads_severity_blocks(tmp_path):
    folder, y = layout(tmp_path / "c")
    data = ReleasedCorruptions(folder, y, (32, 32, 3))
    full = np.load(folder / "fog.npy")
    for s in range(1, 6):
        np.testing.assert_array_equal(data.block("fog", s, np.arange(N)), full[(s - 1) * N:s * N])
    np.testing.assert_array_equal(data.block("fog", 3, np.array([4])), full[[2 * N + 4]])


@pytest.mark.parametrize("case, fragment, file", [
    ("no folder", "folder not found", None),
    ("no labels", "missing labels.npy", None),
    ("labels 2-D", "integer array of shape (30,)", "labels.npy"),
    ("labels shuffled", "labels of severity block 2 differ", "labels.npy"),
    ("images wrong shape", "uint8 array of shape (30, 32, 32, 3)", "fog.npy"),
    ("images float", "uint8 array of shape (30, 32, 32, 3)", "fog.npy"),
    ("not npy", "not a readable .npy array", "fog.npy"),
    ("pickled", "not a readable .npy array", "fog.npy"),
    ("no corruption file", "missing snow.npy", None),
])
def test_bad_released_layout_is_one_clear_error(tmp_path, case, fragment, file):
    folder = tmp_path / "c"
    y = np.arange(N) % 10
    name = "fog"
    if case == "no folder":
        folder = tmp_path / "absent"
    elif case == "no labels":
        layout(folder)
        (folder / "labels.npy").unlink()
    elif case == "labels 2-D":
        layout(folder, labels=np.zeros((5 * N, 1), np.uint8))
    elif case == "labels shuffled":
        labels = np.tile(y, 5).astype(np.uint8)
        labels[N + 1] = 9
        layout(folder, labels=labels)
    elif case == "images wrong shape":
        layout(folder, images=np.zeros((5 * N, 16, 16, 3), np.uint8))
    elif case == "images float":
        layout(folder, images=np.zeros((5 * N, 32, 32, 3), np.float32))
    elif case == "not npy":
        layout(folder)
        (folder / "fog.npy").write_bytes(b"garbage, not an array")
    elif case == "pickled":
        layout(folder)
        np.save(folder / "fog.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif case == "no corruption file":
        layout(folder)
        name = "snow"
    with pytest.raises(AuditError) as info:
        ReleasedCorruptions(folder, y, (32, 32, 3)).check([name])
    message = str(info.value)
    assert fragment in message and "\n" not in message
    if file:
        assert message.startswith(str(folder / file))
