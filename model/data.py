"""Load CIFAR-10 from the official binary layout (a folder or a ``.tar.gz``), numpy only, validated.

Archives are extracted once, safely, into a cache keyed by the archive's sha256. Without a path the
images come from Keras's own downloader (for users with internet).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audit.errors import AuditError
from audit.hashing import sha256_file
from audit.paths import ENV_CACHE, cache_dir

#: Environment variables: where the dataset is, and where archives are extracted.
ENV_DATA = "AUDIT_DATA"

RECORD_BYTES = 1 + 32 * 32 * 3
N_CLASSES = 10
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
META_FILE = "batches.meta.txt"
EXPECTED_FILES = (*TRAIN_FILES, TEST_FILE, META_FILE)
SUBFOLDER = "cifar-10-batches-bin"
#: Keras's ``cifar10.load_data()`` carries no names; these are the official ones, in label order.
KERAS_CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)

MSG_TRUNCATED = "truncated: {size} bytes is not a whole number of {record}-byte records"
MSG_EMPTY_FILE = "empty batch file: no {record}-byte records"
MSG_BAD_LABEL = "record {index} has label byte {value}; labels must lie in 0-9"
MSG_MISSING_FILE = "missing {name}: expected the CIFAR-10 binary files {expected}"
MSG_BAD_META = "expected 10 class names, one per line; found {count}"
MSG_NOT_FOUND = "dataset path not found"
MSG_NOT_DATASET = "not a CIFAR-10 folder or .tar.gz archive"
MSG_CORRUPT_ARCHIVE = "corrupt or partial archive ({reason})"
MSG_UNSAFE_MEMBER = "refusing archive member {member!r}: {reason}"
MSG_NO_DOWNLOAD = "no dataset path given and Keras could not download CIFAR-10 ({reason})"
HINT_DATA = f"pass --data PATH or set {ENV_DATA} to the CIFAR-10 binary folder or .tar.gz"


@dataclass(frozen=True)
class Cifar10:
    """The CIFAR-10 images, labels and class names, with where they came from.

    Parameters
    ----------
    x_train : ndarray of shape (n_train, 32, 32, 3), uint8
    y_train : ndarray of shape (n_train,), int64, values in [0, 9]
    x_test : ndarray of shape (n_test, 32, 32, 3), uint8
    y_test : ndarray of shape (n_test,), int64, values in [0, 9]
    class_names : tuple of 10 str
        Names in label order (from ``batches.meta.txt``).
    files : dict of str to str
        sha256 (hex) of each dataset file read, by file name; with the Keras downloader, of each
        array's bytes (``keras:x_train`` ...).
    source : str
        The folder, archive or ``keras.datasets.cifar10`` the data was read from.
    archive_sha256 : str or None
        sha256 of the ``.tar.gz`` when the data came from one.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)
    source: str = ""
    archive_sha256: str | None = None


def resolve_data_path(cli_value: str | Path | None) -> Path | None:
    """The dataset path: the ``--data`` value, else ``$AUDIT_DATA``, else None (use Keras)."""
    if cli_value not in (None, ""):
        return Path(cli_value).expanduser()
    env = os.environ.get(ENV_DATA, "")
    return Path(env).expanduser() if env else None


def load_cifar10(path: str | Path | None) -> Cifar10:
    """Load and validate CIFAR-10.

    Parameters
    ----------
    path : str, Path or None
        A folder holding the binary files (directly or in ``cifar-10-batches-bin/``), or a
        ``.tar.gz`` of such a folder. None downloads through ``keras.datasets.cifar10``.

    Returns
    -------
    Cifar10
        50,000 training and 10,000 test images for the official files.

    Raises
    ------
    AuditError
        One line naming the file and the problem: missing path or file, truncated file, bad label,
        corrupt archive, unsafe archive member, or no path and no download.
    """
    if path is None:
        return _load_from_keras()
    path = Path(path)
    if not path.exists():
        raise AuditError(MSG_NOT_FOUND, path=path, hint=HINT_DATA)
    archive_sha = None
    if path.is_dir():
        folder = path
    elif path.name.endswith((".tar.gz", ".tgz", ".tar")) or tarfile.is_tarfile(path):
        archive_sha = sha256_file(path)
        folder = extract_archive(path, archive_sha)
    else:
        raise AuditError(MSG_NOT_DATASET, path=path, hint=HINT_DATA)
    data = load_folder(_batches_folder(folder))
    return dataclasses.replace(data, source=str(path), archive_sha256=archive_sha)


def load_folder(folder: Path) -> Cifar10:
    """Read the seven binary-layout files in ``folder`` (no fallbacks, no archive handling)."""
    for name in EXPECTED_FILES:
        if not (folder / name).is_file():
            raise AuditError(
                MSG_MISSING_FILE.format(name=name, expected=", ".join(EXPECTED_FILES)), path=folder
            )
    files: dict[str, str] = {}
    train = [_read_batch(folder / name, files) for name in TRAIN_FILES]
    x_test, y_test = _read_batch(folder / TEST_FILE, files)
    class_names = _read_meta(folder / META_FILE, files)
    return Cifar10(
        x_train=np.concatenate([x for x, _ in train]),
        y_train=np.concatenate([y for _, y in train]),
        x_test=x_test,
        y_test=y_test,
        class_names=class_names,
        files=files,
        source=str(folder),
    )


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one binary batch file: images (N, 32, 32, 3) uint8 and labels (N,) int64."""
    return _read_batch(Path(path), {})


def _read_batch(path: Path, hashes: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    raw = _read_bytes(path)
    hashes[path.name] = hashlib.sha256(raw).hexdigest()
    if len(raw) % RECORD_BYTES:
        raise AuditError(MSG_TRUNCATED.format(size=len(raw), record=RECORD_BYTES), path=path)
    if not raw:
        raise AuditError(MSG_EMPTY_FILE.format(record=RECORD_BYTES), path=path)
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0]
    bad = np.flatnonzero(labels >= N_CLASSES)
    if bad.size:
        index = int(bad[0])
        raise AuditError(MSG_BAD_LABEL.format(index=index, value=int(labels[index])), path=path)
    # Each record holds 1024 red, then 1024 green, then 1024 blue bytes, rows of 32 pixels.
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def _read_meta(path: Path, hashes: dict[str, str]) -> tuple[str, ...]:
    raw = _read_bytes(path)
    hashes[path.name] = hashlib.sha256(raw).hexdigest()
    names = [line.strip() for line in raw.decode("utf-8", errors="replace").splitlines() if line.strip()]
    if len(names) != N_CLASSES:
        raise AuditError(MSG_BAD_META.format(count=len(names)), path=path)
    return tuple(names)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AuditError(f"cannot read: {exc.strerror or exc}", path=path) from exc


def _batches_folder(folder: Path) -> Path:
    inner = folder / SUBFOLDER
    if not (folder / TRAIN_FILES[0]).exists() and inner.is_dir():
        return inner
    return folder


def extract_archive(archive: Path, sha256: str | None = None) -> Path:
    """Extract ``archive`` once into the cache and return the extracted folder.

    The folder is ``<cache>/cifar10/<sha256>``. Extraction goes to a temporary folder that is renamed
    into place only when every member was extracted, so a corrupt or partial archive leaves nothing.
    Members with absolute paths or ``..``, links, devices and fifos are refused before anything is
    written.
    """
    sha256 = sha256 or sha256_file(archive)
    target = cache_dir() / "cifar10" / sha256
    if target.is_dir():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise AuditError(f"cannot create the dataset cache: {exc.strerror or exc}", path=target.parent,
                         hint=f"set {ENV_CACHE} to a writable folder") from exc
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(archive, member, tmp)
            tar.extractall(tmp, members=members, filter="data")
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # another process may have finished first; theirs is as good
                raise
    except AuditError:
        raise
    except tarfile.FilterError as exc:
        raise AuditError(MSG_UNSAFE_MEMBER.format(member=exc.tarinfo.name, reason=_reason(exc)),
                         path=archive) from exc
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and not _is_archive_error(exc):
            raise AuditError(f"cannot extract into the cache: {exc.strerror or exc}", path=target.parent,
                             hint=f"set {ENV_CACHE} to a writable folder") from exc
        raise AuditError(MSG_CORRUPT_ARCHIVE.format(reason=_reason(exc)), path=archive,
                         hint="download it again") from exc
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
    return target


def _check_member(archive: Path, member: tarfile.TarInfo, root: Path) -> None:
    def refuse(reason: str):
        raise AuditError(MSG_UNSAFE_MEMBER.format(member=member.name, reason=reason), path=archive)

    name = member.name
    if name.startswith(("/", "\\")) or os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
        refuse("absolute path")
    if ".." in Path(name.replace("\\", "/")).parts:
        refuse("path escapes the extraction folder ('..')")
    resolved = (root / name).resolve()
    if resolved != root.resolve() and root.resolve() not in resolved.parents:
        refuse("path escapes the extraction folder")
    if member.issym() or member.islnk():
        refuse(f"links are not allowed (points to {member.linkname!r})")
    if member.ischr() or member.isblk() or member.isfifo():
        refuse("device files and fifos are not allowed")
    if not (member.isfile() or member.isdir()):
        refuse("only regular files and folders are allowed")


def _is_archive_error(exc: OSError) -> bool:
    import gzip

    return isinstance(exc, gzip.BadGzipFile) or exc.errno is None


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


def _load_from_keras() -> Cifar10:
    from audit.model.quiet import import_keras

    try:
        keras = import_keras()
        with _stdout_to_stderr():
            (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as exc:  # no network, proxy, disk full: all say the same thing to the user
        raise AuditError(MSG_NO_DOWNLOAD.format(reason=_reason(exc)), hint=HINT_DATA) from exc
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    files = {f"keras:{k}": hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest() for k, v in arrays.items()}
    return Cifar10(
        x_train=np.ascontiguousarray(x_train, dtype=np.uint8),
        y_train=np.asarray(y_train).reshape(-1).astype(np.int64),
        x_test=np.ascontiguousarray(x_test, dtype=np.uint8),
        y_test=np.asarray(y_test).reshape(-1).astype(np.int64),
        class_names=KERAS_CLASS_NAMES,
        files=files,
        source="keras.datasets.cifar10",
    )


@contextlib.contextmanager
def _stdout_to_stderr():
    # Keras prints its download progress on stdout; keep stdout for the training log.
    import sys

    with contextlib.redirect_stdout(sys.stderr):
        yield
