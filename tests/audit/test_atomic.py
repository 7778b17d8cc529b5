"""Several files written as a set: both or neither, the old pair kept when anything fails."""

from __future__ import annotations

import os

import pytest

from audit.atomic import atomic_paths
from audit.errors import AuditError


def _files(folder) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def test_both_files_appear_together(tmp_path):
    a, b = tmp_path / "sub" / "a.npz", tmp_path / "sub" / "a.npz.provenance.json"
    with atomic_paths(a, b) as (ta, tb):
        ta.write_text("new a")
        tb.write_text("new b")
        assert not a.exists() and not b.exists()  # nothing visible until the block ends
    assert _files(tmp_path / "sub") == {"a.npz": "new a", "a.npz.provenance.json": "new b"}


def test_a_failed_block_leaves_the_old_pair_and_no_temporary(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("old a")
    b.write_text("old b")
    with pytest.raises(RuntimeError):
        with atomic_paths(a, b) as (ta, tb):
            ta.write_text("new a")
            raise RuntimeError("the writer failed")
    assert _files(tmp_path) == {"a": "old a", "b": "old b"}


def test_a_failed_second_rename_puts_the_first_file_back(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("old a")
    real_replace = os.replace

    def replace(src, dst):
        if str(dst) == str(b):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(AuditError, match="cannot write: No space left on device"):
        with atomic_paths(a, b) as (ta, tb):
            ta.write_text("new a")
            tb.write_text("new b")
    assert _files(tmp_path) == {"a": "old a"}


def test_a_full_disk_in_the_block_is_one_clear_error(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    with pytest.raises(AuditError, match="a: cannot write: No space left on device"):
        with atomic_paths(a, b):
            raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []
