"""sha256_file: streams in blocks, covers .npy folders by their manifest, names a missing file."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from audit.errors import AuditError
from audit.hashing import sha256_file


def test_sha256_file_matches_hashlib_across_blocks(tmp_path, monkeypatch):
    import audit.hashing as hashing

    monkeypatch.setattr(hashing, "BLOCK_SIZE", 7)
    data = bytes(range(256)) * 5
    (tmp_path / "f.bin").write_bytes(data)
    assert sha256_file(tmp_path / "f.bin") == hashlib.sha256(data).hexdigest()


def test_sha256_of_a_folder_hashes_its_manifest(tmp_path):
    np.save(tmp_path / "probs.npy", np.eye(2))
    np.save(tmp_path / "labels.npy", np.arange(2))
    before = sha256_file(tmp_path)
    lines = "".join(f"{p.name}\t{hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in sorted(tmp_path.iterdir()))
    assert before == hashlib.sha256(lines.encode()).hexdigest()
    np.save(tmp_path / "labels.npy", np.array([1, 0]))
    assert sha256_file(tmp_path) != before


def test_sha256_missing_file(tmp_path):
    with pytest.raises(AuditError, match="no such file"):
        sha256_file(tmp_path / "nope.npz")
