"""Files are recognised by their content; hashes stream and cover .npy folders."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from audit.errors import AuditError
from audit.sources import sha256_file
from audit.sources.sniff import sniff


@pytest.mark.parametrize(
    "content, kind",
    [
        (b"PK\x03\x04rest", "zip"),
        (b"\x93NUMPY\x01\x00", "npy"),
        (b"PAR1" + bytes(10) + b"PAR1", "parquet"),
        (b"PAR1" + bytes(10), "parquet-truncated"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"\x89HDF\r\n\x1a\n", "hdf5"),
        (b"\x80\x05\x95\x00", "pickle"),
        (b"label,prob_a\n0,1\n", "text"),
        ("caf\u00e9,x\n".encode("latin-1"), "text-not-utf8"),
        (bytes(range(256)), "binary"),
        (b"", "empty"),
    ],
)
def test_sniff_kinds(tmp_path, content, kind):
    path = tmp_path / "f"
    path.write_bytes(content)
    assert sniff(path).kind == kind


def test_sniff_tar(tmp_path):
    import tarfile

    with tarfile.open(tmp_path / "a.tar", "w") as tf:
        tf.add(__file__, arcname="x.py")
    assert sniff(tmp_path / "a.tar").kind == "tar"


def test_sniff_missing_file(tmp_path):
    with pytest.raises(AuditError, match=r"nope: no such file$"):
        sniff(tmp_path / "nope")


def test_sha256_file_matches_hashlib_across_blocks(tmp_path, monkeypatch):
    import audit.sources.hashing as hashing

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
