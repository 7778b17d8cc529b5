"""Files are recognised by their content, not their name."""

from __future__ import annotations

import pytest

from audit.errors import AuditError
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
