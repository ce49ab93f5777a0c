"""A real `airflow api-server` with the test auth manager (one viewer kept off one model) and two users' logins."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import run_cli
from tests.e2e.stack import start, stop, tail
from tests.pg import free_port
from tests.security.deny_auth_manager import DENIED_USER

PASSWORDS = {"admin": "admin-pw-1", DENIED_USER: "analyst-pw-2"}


def token(base: str, user: str) -> str:
    """A JWT for ``user`` from the simple auth manager's login endpoint."""
    reply = httpx.post(f"{base}/auth/token", json={"username": user, "password": PASSWORDS[user]}, timeout=30)
    assert reply.status_code == 201, reply.text
    return reply.json()["access_token"]


@contextmanager
def api_server(env: dict[str, str], root: Path, *, reserialize: bool = False) -> Iterator[tuple[str, dict[str, str]]]:
    """``(base URL, {user: token})`` of an api-server on ``env`` (migrated first; DAGs serialized if asked)."""
    port = free_port()
    passwords = root / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    env = {
        **env,
        "AIRFLOW__CORE__AUTH_MANAGER": "tests.security.deny_auth_manager.DenyOneModelAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"admin:admin,{DENIED_USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": f"{root.name}-test-secret",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
    }
    steps = [["airflow", "db", "migrate"]] + ([["airflow", "dags", "reserialize"]] if reserialize else [])
    for step in steps:
        done = run_cli(step, env)
        assert done.returncode == 0, (step, done.stderr[-3000:])
    log = root / "api-server.log"
    proc = start(["airflow", "api-server"], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, tail(log)
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, tail(log)
            time.sleep(1)
        yield base, {user: token(base, user) for user in PASSWORDS}
    finally:
        stop(proc)
