"""SHA-256 of files and folders, read in blocks: the one hashing helper behind every hash in provenance
(predictions files, datasets and archives, saved model artifacts)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from audit.errors import AuditError

#: Bytes read at a time; memory use does not grow with the file.
BLOCK_SIZE = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in blocks of :data:`BLOCK_SIZE` bytes.

    A folder (of ``.npy`` arrays) hashes to the SHA-256 of its manifest: one line
    ``"<name>\\t<sha256 of the file>\\n"`` per file directly inside it, sorted by name.
    """
    path = Path(path)
    if path.is_dir():
        manifest = "".join(
            f"{child.name}\t{sha256_file(child)}\n" for child in sorted(path.iterdir()) if child.is_file()
        )
        return hashlib.sha256(manifest.encode("utf-8")).hexdigest()
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(BLOCK_SIZE):
                digest.update(block)
    except FileNotFoundError:
        raise AuditError("no such file", path=path) from None
    except OSError as exc:
        raise AuditError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    return digest.hexdigest()
