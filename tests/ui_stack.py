"""`airflow-mlops ui` started in the background on a demo's home, with a logged-in REST client."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import VENV_BIN
from tests.pg import free_port

# What a caller's shell might hold: none of it may reach the UI's Airflow (the home owns these settings).
HOSTILE_ENV = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "True",
    "AIRFLOW__CORE__DAGS_FOLDER": "/nonexistent/dags",
    "PATH": "/usr/bin:/bin",  # no venv: the ui must put it on PATH for standalone
}
CHEAP_ENV = {  # cheaper on 2 cores; not settings the home owns
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # only the runs a test triggers
}


@dataclass
class RunningUI:
    home: Path
    url: str
    client: httpx.Client
    proc: subprocess.Popen
    out: Path
    group: int

    def stop(self) -> int:
        """SIGTERM to the ui (as Ctrl-C would): it stops standalone's process group; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.group, signal.SIGKILL)  # backstop: nothing left behind


def wait_for(path: Path, pattern: str, proc: subprocess.Popen, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, path.read_text(errors="replace"))
        if found:
            return found
        assert proc.poll() is None, f"ui exited with {proc.returncode}:\n{path.read_text(errors='replace')}"
        time.sleep(1)
    raise AssertionError(f"no {pattern!r} after {timeout:.0f}s:\n{path.read_text(errors='replace')}")


@contextlib.contextmanager
def running_ui(home: Path, extra_env: dict[str, str]) -> Iterator[RunningUI]:
    """`airflow-mlops ui --home HOME` on a free port with ``extra_env`` on top of this process's environment."""
    port = free_port()
    env = {**os.environ, **HOSTILE_ENV, **CHEAP_ENV, **extra_env}
    out = home / "ui.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [str(VENV_BIN / "airflow-mlops"), "ui", "--home", str(home), "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    group = proc.pid
    try:
        group = int(wait_for(out, r"process group (\d+)", proc, 120).group(1))
        user, password = wait_for(out, r"login: +(\w+) / (\S+)", proc, 420).groups()
        url = wait_for(out, r"Airflow UI: +(http://\S+)", proc, 5).group(1)
        assert url == f"http://127.0.0.1:{port}"
        token = httpx.post(f"{url}/auth/token", json={"username": user, "password": password}, timeout=30)
        assert token.status_code in (200, 201), token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            yield RunningUI(home, url, client, proc, out, group)
    finally:
        RunningUI(home, "", None, proc, out, group).stop()  # type: ignore[arg-type]
