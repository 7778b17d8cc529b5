"""The CIFAR-10 binary loader: layout, validation errors, safe cached extraction, path resolution."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from audit.errors import AuditError
from audit.model import data as data_mod
from audit.model.data import (
    ENV_CACHE,
    ENV_DATA,
    MSG_CORRUPT_ARCHIVE,
    MSG_NO_DOWNLOAD,
    RECORD_BYTES,
    cache_dir,
    load_cifar10,
    read_batch,
    resolve_data_path,
)

from helpers.cifar_fixtures import CLASS_NAMES, make_records, shared_archive, write_dataset


def _tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, payload in members:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def _dataset_archive(tmp_path: Path, extra: list[tuple[tarfile.TarInfo, bytes | None]] = ()) -> Path:
    folder = write_dataset(tmp_path / "src" / "cifar-10-batches-bin")
    members = []
    for file in sorted(folder.iterdir()):
        payload = file.read_bytes()
        info = tarfile.TarInfo(f"cifar-10-batches-bin/{file.name}")
        info.size = len(payload)
        members.append((info, payload))
    return _tar_gz(tmp_path / "cifar.tar.gz", [*members, *extra])


def test_pixel_layout_red_then_green_then_blue_row_major(tmp_path):
    record = np.zeros(RECORD_BYTES, dtype=np.uint8)
    record[0] = 3
    record[1:1025] = 10
    record[1025:2049] = 20
    record[2049:] = 30
    record[1 + 32 * 2 + 5] = 99  # red plane, row 2, column 5
    path = tmp_path / "one.bin"
    path.write_bytes(record.tobytes())
    x, y = read_batch(path)
    assert x.shape == (1, 32, 32, 3) and x.dtype == np.uint8
    assert_array_equal(y, [3])
    assert_array_equal(x[0, 0, 0], [10, 20, 30])
    assert x[0, 2, 5, 0] == 99 and x[0, 5, 2, 0] == 10


def test_folder_loads_all_files_with_hashes(tmp_path):
    folder = write_dataset(tmp_path / "d", per_file=20, test=10)
    data = load_cifar10(folder)
    assert data.x_train.shape == (100, 32, 32, 3) and data.y_train.shape == (100,)
    assert data.x_test.shape == (10, 32, 32, 3)
    assert data.class_names == CLASS_NAMES
    assert set(data.files) == {*data_mod.TRAIN_FILES, data_mod.TEST_FILE, data_mod.META_FILE}
    import hashlib

    assert data.files["test_batch.bin"] == hashlib.sha256((folder / "test_batch.bin").read_bytes()).hexdigest()
    # batches are concatenated in order 1..5
    x1, _ = read_batch(folder / "data_batch_2.bin")
    assert_array_equal(data.x_train[20:40], x1)


def test_folder_with_cifar_subfolder(tmp_path):
    write_dataset(tmp_path / "d" / "cifar-10-batches-bin")
    assert load_cifar10(tmp_path / "d").x_train.shape[0] == 100


def test_truncated_file_names_file_and_size(tmp_path):
    folder = write_dataset(tmp_path / "d")
    path = folder / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(AuditError) as err:
        load_cifar10(folder)
    assert err.value.path == str(path)
    assert f"truncated: {20 * RECORD_BYTES - 1} bytes is not a whole number of 3073-byte records" in str(err.value)


def test_label_byte_10_names_file_record_and_value(tmp_path):
    folder = write_dataset(tmp_path / "d")
    labels = np.arange(20) % 10
    labels[13] = 10
    (folder / "data_batch_1.bin").write_bytes(make_records(labels))
    with pytest.raises(AuditError, match="record 13 has label byte 10") as err:
        load_cifar10(folder)
    assert err.value.path.endswith("data_batch_1.bin")


def test_missing_batch_is_named(tmp_path):
    folder = write_dataset(tmp_path / "d", skip=("data_batch_4.bin",))
    with pytest.raises(AuditError, match="missing data_batch_4.bin"):
        load_cifar10(folder)


def test_bad_meta_file(tmp_path):
    folder = write_dataset(tmp_path / "d")
    (folder / "batches.meta.txt").write_text("cat\ndog\n")
    with pytest.raises(AuditError, match="expected 10 class names, one per line; found 2"):
        load_cifar10(folder)


def test_missing_path_and_unknown_file(tmp_path):
    with pytest.raises(AuditError, match="dataset path not found") as err:
        load_cifar10(tmp_path / "nope")
    assert "--data" in str(err.value)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(AuditError, match="not a CIFAR-10 folder or .tar.gz"):
        load_cifar10(other)


def test_archive_extracted_once_into_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "cache"))
    archive = _dataset_archive(tmp_path)
    first = load_cifar10(archive)
    assert first.x_train.shape == (100, 32, 32, 3)
    assert first.source == str(archive) and len(first.archive_sha256) == 64
    extracted = tmp_path / "cache" / "cifar10" / first.archive_sha256
    assert (extracted / "cifar-10-batches-bin" / "test_batch.bin").is_file()
    assert not (tmp_path / "cifar-10-batches-bin").exists()  # nothing next to the user's files

    def no_second_extraction(*args, **kwargs):
        raise AssertionError("archive extracted twice")

    monkeypatch.setattr(tarfile, "open", no_second_extraction)
    second = load_cifar10(archive)
    assert_array_equal(second.x_train, first.x_train)


def _member(name: str, payload: bytes = b"x", kind=tarfile.REGTYPE, linkname: str = ""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(payload) if kind == tarfile.REGTYPE else 0
    return info, payload if kind == tarfile.REGTYPE else None


@pytest.mark.parametrize(
    "member, reason",
    [
        (_member("../x"), "escapes the extraction folder"),
        (_member("cifar-10-batches-bin/../../x"), "escapes the extraction folder"),
        (_member("/tmp/abs-x"), "absolute path"),
        (_member("link", kind=tarfile.SYMTYPE, linkname="/etc/passwd"), "links are not allowed"),
        (_member("hard", kind=tarfile.LNKTYPE, linkname="cifar-10-batches-bin/test_batch.bin"), "links are not allowed"),
        (_member("dev", kind=tarfile.CHRTYPE), "device files and fifos"),
        (_member("pipe", kind=tarfile.FIFOTYPE), "device files and fifos"),
    ],
)
def test_unsafe_members_refused_and_nothing_written(tmp_path, monkeypatch, member, reason):
    cache = tmp_path / "cache"
    monkeypatch.setenv(ENV_CACHE, str(cache))
    work = tmp_path / "work"
    work.mkdir()
    archive = _dataset_archive(work, extra=[member])
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(AuditError) as err:
        load_cifar10(archive)
    text = str(err.value)
    assert err.value.path == str(archive) and repr(member[0].name) in text and reason in text
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    # the cache folder may now exist, but holds no extracted file; nothing appeared outside it
    assert [p for p in after if p not in before and not str(p).startswith("cache")] == []
    assert [p for p in cache.rglob("*") if p.is_file()] == []
    assert not (tmp_path / "x").exists() and not Path("/tmp/abs-x").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_or_partial_archive(tmp_path, monkeypatch, damage):
    cache = tmp_path / "cache"
    monkeypatch.setenv(ENV_CACHE, str(cache))
    archive = _dataset_archive(tmp_path)
    raw = archive.read_bytes()
    archive.write_bytes(b"this is not gzip" * 100 if damage == "garbage" else raw[: len(raw) // 2])
    with pytest.raises(AuditError) as err:
        load_cifar10(archive)
    assert err.value.path == str(archive)
    assert MSG_CORRUPT_ARCHIVE.split("(")[0] in str(err.value)
    assert [p for p in cache.rglob("*") if p.is_file()] == []
    assert not any(p.is_dir() and len(p.name) == 64 for p in cache.rglob("*"))


def test_resolve_data_path_flag_then_env_then_none(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_DATA, raising=False)
    assert resolve_data_path(None) is None
    monkeypatch.setenv(ENV_DATA, str(tmp_path / "env"))
    assert resolve_data_path(None) == tmp_path / "env"
    assert resolve_data_path(str(tmp_path / "flag")) == tmp_path / "flag"


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv(ENV_CACHE)
    assert cache_dir() == tmp_path / "xdg" / "audit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "audit"


def test_no_path_and_no_download_says_pass_data(monkeypatch):
    class FailingKeras:
        class datasets:
            class cifar10:
                @staticmethod
                def load_data():
                    raise OSError("URL fetch failure: no network")

    monkeypatch.setattr("audit.model.quiet.import_keras", lambda: FailingKeras)
    with pytest.raises(AuditError) as err:
        load_cifar10(None)
    text = str(err.value)
    assert MSG_NO_DOWNLOAD.split("(")[0] in text and "no network" in text
    assert "--data" in text and ENV_DATA in text


def test_keras_fallback_converts_arrays(monkeypatch):
    x = np.zeros((4, 32, 32, 3), np.uint8)
    y = np.array([[1], [2], [3], [4]], np.uint8)

    class FakeKeras:
        class datasets:
            class cifar10:
                @staticmethod
                def load_data():
                    return (x, y), (x[:2], y[:2])

    monkeypatch.setattr("audit.model.quiet.import_keras", lambda: FakeKeras)
    data = load_cifar10(None)
    assert data.y_train.shape == (4,) and data.y_train.dtype == np.int64
    assert data.class_names[0] == "airplane" and data.source == "keras.datasets.cifar10"
    assert set(data.files) == {"keras:x_train", "keras:y_train", "keras:x_test", "keras:y_test"}


@pytest.mark.skipif(shared_archive() is None, reason="shared CIFAR-10 archive not present (set AUDIT_TEST_DATA)")
def test_shared_archive_is_the_official_layout(small_data):
    assert small_data.x_train.shape == (50000, 32, 32, 3)
    assert small_data.x_test.shape == (10000, 32, 32, 3)
    assert_array_equal(np.bincount(small_data.y_test, minlength=10), [1000] * 10)
    assert small_data.class_names == CLASS_NAMES
