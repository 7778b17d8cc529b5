"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl on a temporary folder, Unix socket only.

Debian's ``postgresql`` package provides the binaries (scripts/test.sh installs it as root). As root the
server runs as the unprivileged ``postgres`` user (PostgreSQL refuses to run as root), via ``runuser``.
:func:`start` returns None with the reason when no server can be started, so tests skip saying why.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

USER = "audit"


@dataclass
class Server:
    """A running throwaway server."""

    root: Path
    socket_dir: Path
    bin_dir: Path
    as_user: list[str]

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this server (psycopg 3 over the Unix socket)."""
        return f"postgresql+psycopg://{USER}@/{database}?host={self.socket_dir}"

    def create_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(host=str(self.socket_dir), user=USER, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        subprocess.run([*self.as_user, str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m",
                        "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def find_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl (on PATH, or Debian's /usr/lib/postgresql/<version>/bin)."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(os.path.realpath(on_path)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def start() -> tuple[Server | None, str]:
    """Start a server; (server, "") or (None, why it could not start)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "psycopg is not installed (pip install 'classifier-audit[postgres]')"
    bin_dir = find_bin_dir()
    if bin_dir is None:
        return None, ("PostgreSQL's initdb/pg_ctl not found (Debian package `postgresql`; scripts/test.sh installs "
                      "it as root)")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="audit-pg-"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            return None, "running as root and `runuser` is missing: cannot start PostgreSQL as an unprivileged user"
        as_user = [runuser, "-u", "postgres", "--"]
        try:
            shutil.chown(root, user="postgres")
        except (LookupError, OSError) as exc:
            return None, f"running as root and no usable `postgres` user to run the server as ({exc})"
    socket_dir = root / "sock"
    data = root / "data"
    server = Server(root=root, socket_dir=socket_dir, bin_dir=bin_dir, as_user=as_user)
    steps = [
        [*as_user, "mkdir", "-m", "700", str(socket_dir)],
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "--no-sync", "-E", "UTF8"],
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60",
         "-o", f"-k {socket_dir} -c listen_addresses='' -c fsync=off -c max_connections=60", "start"],
    ]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            log = (root / "server.log").read_text(errors="replace")[-400:] if (root / "server.log").exists() else ""
            server.stop()
            why = (proc.stderr or log).strip()[-400:]
            return None, f"could not start PostgreSQL ({Path(cmd[len(as_user)]).name}): {why}"
    if as_user:  # the tests connect as root through the socket: let them in
        os.chmod(root, 0o755)
        subprocess.run([*as_user, "chmod", "755", str(socket_dir)], check=True)
    return server, ""
