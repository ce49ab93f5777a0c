"""A real, throwaway PostgreSQL server for tests: initdb in a temp folder, started on a free port.

Runs the server binaries directly (PATH or /usr/lib/postgresql/*/bin); as root it drops to the
``postgres`` user, since PostgreSQL refuses to run as root. ``./dev setup`` installs Debian's
``postgresql`` when the binaries are missing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise RuntimeError(f"PostgreSQL server binary {name!r} not found; run ./dev setup (installs postgresql)")
    return found


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.dbname}"

    @property
    def airflow_conn_json(self) -> str:
        """An Airflow connection (``AIRFLOW_CONN_<ID>`` value) for this server."""
        import json

        return json.dumps(
            {
                "conn_type": "postgres",
                "host": self.host,
                "port": self.port,
                "login": self.user,
                "password": self.password,
                "schema": self.dbname,
            }
        )


@contextlib.contextmanager
def postgres_server(password: str = "pg-test-secret-7Q") -> Iterator[PostgresServer]:
    """Start a PostgreSQL server; stop it and delete its data on exit."""
    root = Path(tempfile.mkdtemp(prefix="mlops-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    pwfile = root / "pw"
    pwfile.write_text(password)
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        for p in (sock, pwfile):
            shutil.chown(p, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [
            *as_user,
            _bin("initdb"),
            "-D",
            str(data),
            "-U",
            "mlops",
            "--pwfile",
            str(pwfile),
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    opts = f"-c listen_addresses=127.0.0.1 -c port={port} -k {sock} -c fsync=off -c synchronous_commit=off"
    subprocess.run(
        [*as_user, _bin("pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "-t", "60", "start"],
        check=True,
        capture_output=True,
    )
    server = PostgresServer("127.0.0.1", port, "mlops", password, "postgres")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                import psycopg

                psycopg.connect(server.dsn, connect_timeout=2).close()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield server
    finally:
        subprocess.run([*as_user, _bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
