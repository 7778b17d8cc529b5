"""Bad CIFAR-10 datasets through the real CLI (``audit run --data`` and ``audit train --data``): exit 2,
one line naming the file and the problem, no traceback, nothing written (no model, no report, no cache)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

from helpers.cifar_fixtures import make_records, write_dataset  # noqa: E402
from helpers.hardening_helpers import assert_clear_error, run_cli, snapshot  # noqa: E402

from audit.model.data import RECORD_BYTES  # noqa: E402


def _tar_gz(path: Path, folder: Path, extra=()) -> Path:
    """``folder``'s files under ``cifar-10-batches-bin/`` plus ``extra`` (TarInfo, bytes | None) members."""
    with tarfile.open(path, "w:gz") as tar:
        for file in sorted(folder.iterdir()):
            payload = file.read_bytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{file.name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        for info, payload in extra:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def _member(name: str, kind=tarfile.REGTYPE, linkname: str = "", payload: bytes = b"x"):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(payload) if kind == tarfile.REGTYPE else 0
    return info, payload if kind == tarfile.REGTYPE else None


def make_bad_dataset(kind: str, tmp: Path) -> tuple[Path, Path, tuple[str, ...]]:
    """Build one bad dataset; return (the --data path, the file the message must name, fragments)."""
    folder = write_dataset(tmp / "src" / "cifar-10-batches-bin", per_file=10, test=10)
    if kind == "truncated-batch":
        path = folder / "data_batch_2.bin"
        path.write_bytes(path.read_bytes()[:-100])
        return folder, path, (f"truncated: {10 * RECORD_BYTES - 100} bytes is not a whole number",)
    if kind == "bad-label-byte":
        labels = np.arange(10) % 10
        labels[7] = 200
        (folder / "test_batch.bin").write_bytes(make_records(labels))
        return folder, folder / "test_batch.bin", ("record 7 has label byte 200", "0-9")
    if kind == "empty-batch":
        (folder / "data_batch_1.bin").write_bytes(b"")
        return folder, folder / "data_batch_1.bin", ("empty batch file",)
    if kind == "missing-batch":
        (folder / "data_batch_5.bin").unlink()
        return folder, folder, ("missing data_batch_5.bin",)
    if kind == "bad-meta":
        (folder / "batches.meta.txt").write_text("cat\ndog\n")
        return folder, folder / "batches.meta.txt", ("expected 10 class names", "found 2")
    if kind == "missing-path":
        return tmp / "no-such-cifar.tar.gz", tmp / "no-such-cifar.tar.gz", ("dataset path not found", "--data")
    if kind == "not-a-dataset":
        path = tmp / "cifar.zip"
        path.write_bytes(b"PK\x03\x04 not a tar")
        return path, path, ("not a CIFAR-10 folder or .tar.gz",)
    archive = tmp / "cifar.tar.gz"
    if kind == "corrupt-gz":
        archive.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(64))
        return archive, archive, ("corrupt or partial archive", "download it again")
    if kind == "not-gzip-at-all":
        archive.write_bytes(b"this is not an archive\n" * 20)
        return archive, archive, ("corrupt or partial archive",)
    if kind == "partial-tar-gz":
        _tar_gz(archive, folder)
        raw = archive.read_bytes()
        archive.write_bytes(raw[: len(raw) * 2 // 3])
        return archive, archive, ("corrupt or partial archive",)
    members = {
        "escaping-member": (_member("cifar-10-batches-bin/../../escaped"), "path escapes the extraction folder"),
        "absolute-member": (_member("/tmp/audit-hardening-abs"), "absolute path"),
        "symlink-member": (_member("cifar-10-batches-bin/evil", tarfile.SYMTYPE, "/etc/passwd"),
                           "links are not allowed (points to '/etc/passwd')"),
        "hardlink-member": (_member("hard", tarfile.LNKTYPE, "cifar-10-batches-bin/test_batch.bin"),
                            "links are not allowed"),
        "device-member": (_member("cifar-10-batches-bin/null", tarfile.CHRTYPE), "device files and fifos"),
        "fifo-member": (_member("cifar-10-batches-bin/pipe", tarfile.FIFOTYPE), "device files and fifos"),
    }
    member, reason = members[kind]
    _tar_gz(archive, folder, extra=[member])
    return archive, archive, (f"refusing archive member {member[0].name!r}", reason)


KINDS = ["truncated-batch", "bad-label-byte", "empty-batch", "missing-batch", "bad-meta", "missing-path",
         "not-a-dataset", "corrupt-gz", "not-gzip-at-all", "partial-tar-gz", "escaping-member",
         "absolute-member", "symlink-member", "hardlink-member", "device-member", "fifo-member"]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_dataset_through_audit_run(kind, tmp_path):
    data, named, fragments = make_bad_dataset(kind, tmp_path)
    cache = tmp_path / "cache"
    before = snapshot(tmp_path)
    result = run_cli("run", "--data", data, "--model", tmp_path / "model", "--out", tmp_path / "out",
                     env={"AUDIT_CACHE": str(cache)})
    assert result.returncode == 2, result.stderr
    assert_clear_error(result.stderr, named, *fragments)
    assert result.stdout == ""
    # nothing new but (possibly) an empty cache folder: no model, no report, no extracted file
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("cache")} == before
    assert [p for p in cache.rglob("*") if not p.is_dir()] == []
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/audit-hardening-abs").exists()


@pytest.mark.parametrize("kind", ["symlink-member", "device-member", "partial-tar-gz", "bad-meta"])
def test_bad_dataset_through_audit_train(kind, tmp_path):
    # tests/model/test_cli_train.py covers truncated, label, missing, corrupt archive and '..' members
    data, named, fragments = make_bad_dataset(kind, tmp_path)
    result = run_cli("train", "--data", data, "--out", tmp_path / "model", env={"AUDIT_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 2, result.stderr
    assert_clear_error(result.stderr, named, *fragments)
    assert not (tmp_path / "model").exists()


def test_unwritable_dataset_cache(tmp_path):
    folder = write_dataset(tmp_path / "src" / "cifar-10-batches-bin", per_file=10, test=10)
    archive = _tar_gz(tmp_path / "cifar.tar.gz", folder)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should go")
    result = run_cli("run", "--data", archive, "--model", tmp_path / "model", "--out", tmp_path / "out",
                     env={"AUDIT_CACHE": str(blocker / "cache")})
    assert result.returncode == 2, result.stderr
    assert_clear_error(result.stderr, blocker, "cannot create the dataset cache", "AUDIT_CACHE")
    assert not (tmp_path / "model").exists() and not (tmp_path / "out").exists()
