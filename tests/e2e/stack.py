"""The real stack for end-to-end tests: `airflow standalone`, PostgreSQL (scores) and moto (S3).

Everything lives in one temporary folder; each server runs in its own process group so teardown
stops it and all of its children. Airflow's console output goes to ``<root>/standalone.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import PROJECT, VENV_BIN, airflow_env
from tests.pg import PostgresServer, free_port, postgres_server

SCORES_CONN_ID = "scores_db"  # the conn id dags/*.yaml use for scoring.destination
REPORTS_CONN_ID = "s3_reports"  # monitoring.report_conn_id of the ride_demand variant under test
REPORTS_BUCKET = "mlops-reports"
AWS_ACCESS_KEY = "e2e-access-key"
AWS_SECRET = "aws-e2e-secret-9Xk2"  # must never show up in a task log
JWT_SECRET = "e2e-jwt-secret-not-for-production"
CANARY_DAG = "e2e_secret_canary"
TERMINAL = {"success", "failed"}


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=AWS_ACCESS_KEY,
            aws_secret_access_key=AWS_SECRET,
            region_name="us-east-1",
        )

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    @property
    def airflow_conn_json(self) -> str:
        """An Airflow ``aws`` connection pointing at this server (endpoint_url in extra)."""
        extra = {"endpoint_url": self.endpoint, "region_name": "us-east-1"}
        return json.dumps({"conn_type": "aws", "login": AWS_ACCESS_KEY, "password": AWS_SECRET, "extra": extra})


@contextlib.contextmanager
def moto_s3(bucket: str = REPORTS_BUCKET) -> Iterator[S3Server]:
    """moto's S3 server on a free port, with ``bucket`` created."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        s3 = S3Server(f"http://127.0.0.1:{port}", bucket)
        s3.client().create_bucket(Bucket=bucket)
        yield s3
    finally:
        server.stop()


CANARY_DAG_FILE = '''"""Canary for the log masker: logs the scores_db and reports connection passwords on purpose."""

from datetime import datetime

from airflow.sdk import DAG, BaseHook, task

with DAG(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), tags=["e2e"]):

    @task
    def leak_on_purpose() -> None:
        for conn_id in ("{scores}", "{reports}"):
            conn = BaseHook.get_connection(conn_id)
            print(f"connection {{conn_id}} password={{conn.password}}")

    leak_on_purpose()
'''


def make_dags_folder(target: Path) -> Path:
    """A copy of the project's dags/ in which ride_demand sends reports to S3, plus the canary DAG."""
    target.mkdir(parents=True)
    for src in (PROJECT / "dags").iterdir():
        if src.suffix in {".py", ".yaml", ".yml"}:
            shutil.copy2(src, target / src.name)
    spec_file = target / "ride_demand.yaml"
    spec = yaml.safe_load(spec_file.read_text())
    spec.setdefault("monitoring", {}).update(report_conn_id=REPORTS_CONN_ID, report_bucket=REPORTS_BUCKET)
    spec_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    (target / f"{CANARY_DAG}.py").write_text(
        CANARY_DAG_FILE.format(dag_id=CANARY_DAG, scores=SCORES_CONN_ID, reports=REPORTS_CONN_ID)
    )
    return target


def stack_env(root: Path, dags_folder: Path, port: int, pg: PostgresServer, s3: S3Server) -> dict[str, str]:
    """Airflow environment: temp home, fast DAG pickup, no scheduled runs, our connections."""
    env = airflow_env(root, dags_folder)
    for key in [k for k in env if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_", "MLFLOW_"))]:
        del env[key]  # only the connections below; nothing leaked from other tests of the session
    env.update(
        {
            "PATH": os.pathsep.join([str(VENV_BIN), env.get("PATH", "")]),  # standalone runs `airflow ...`
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": JWT_SECRET,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",  # parsed once at start; saves CPU
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            # only the runs the test triggers: unpausing must not start scheduled runs
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            f"AIRFLOW_CONN_{SCORES_CONN_ID.upper()}": pg.airflow_conn_json,
            f"AIRFLOW_CONN_{REPORTS_CONN_ID.upper()}": s3.airflow_conn_json,
        }
    )
    return env


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a venv console script in its own process group, output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(VENV_BIN / cmd[0]), *cmd[1:]],
            env=env,
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen, grace: float = 20) -> None:
    """Stop a process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # orphans left in the group
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def tail(path: Path, lines: int = 80) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until_healthy(base_url: str, proc: subprocess.Popen, log: Path, timeout: float = 240) -> dict:
    """Poll ``/api/v2/monitor/health`` until every component reports healthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"airflow exited with {proc.returncode}:\n{tail(log)}")
        try:
            health = httpx.get(f"{base_url}/api/v2/monitor/health", timeout=5).json()
            last = health
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            if all((health.get(p) or {}).get("status") == "healthy" for p in parts):
                return health
        except (httpx.HTTPError, ValueError) as exc:
            last = exc
        time.sleep(2)
    raise TimeoutError(f"airflow not healthy after {timeout:.0f}s (last: {last}):\n{tail(log)}")


@dataclass
class Stack:
    """A running stack and a small REST client for it."""

    root: Path
    env: dict[str, str]
    base_url: str
    pg: PostgresServer
    s3: S3Server
    dags_folder: Path
    log: Path
    ui_url: str = ""  # a second api-server in all-admins mode (no login) for the browser; see wait_for_ui
    ui_proc: subprocess.Popen | None = field(default=None, repr=False)
    runs: list[tuple[str, str]] = field(default_factory=list)  # (dag_id, run_id) of every triggered run
    _token: str | None = field(default=None, repr=False)

    @property
    def airflow_home(self) -> Path:
        return Path(self.env["AIRFLOW_HOME"])

    @property
    def mlops_home(self) -> Path:
        return Path(self.env["AIRFLOW_MLOPS_HOME"])

    def password(self, user: str = "admin") -> str:
        generated = self.airflow_home / "simple_auth_manager_passwords.json.generated"
        return json.loads(generated.read_text())[user]

    def token(self) -> str:
        """A JWT from ``POST /auth/token``, as a user would get one."""
        if self._token is None:
            resp = httpx.post(
                f"{self.base_url}/auth/token",
                json={"username": "admin", "password": self.password()},
                timeout=30,
            )
            resp.raise_for_status()
            self._token = resp.json()["access_token"]
        return self._token

    def api(self, token: str | None = "") -> httpx.Client:
        """REST client; ``token=""`` uses a fresh login, ``None`` sends no Authorization header."""
        token = self.token() if token == "" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.base_url}/api/v2", headers=headers, timeout=30)

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        with self.api() as api:
            api.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
            resp = api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
            resp.raise_for_status()
            run_id = resp.json()["dag_run_id"]
        self.runs.append((dag_id, run_id))
        return run_id

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        """Poll a DAG run to a terminal state; on failure the error carries the failed tasks' logs."""
        deadline = time.monotonic() + timeout
        with self.api() as api:
            while True:
                run = api.get(f"/dags/{dag_id}/dagRuns/{run_id}").raise_for_status().json()
                if run["state"] in TERMINAL or time.monotonic() > deadline:
                    break
                time.sleep(2)
            if run["state"] != "success":
                report = self.failure_report(dag_id, run_id)
                raise AssertionError(f"{dag_id} run {run_id} ended {run['state']}:\n{report}")
        return run

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        with self.api() as api:
            return api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").raise_for_status().json()["task_instances"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """A task's log through the REST API: one line per structured log event (JSON)."""
        with self.api() as api:
            resp = api.get(
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                params={"full_content": "true"},
                headers={"Accept": "application/json"},
            )
            resp.raise_for_status()
            events = resp.json()["content"]
            return "\n".join(e if isinstance(e, str) else json.dumps(e) for e in events)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        with self.api() as api:
            resp = api.get(
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
                params={"deserialize": "true"},
            )
            resp.raise_for_status()
            return resp.json()["value"]

    def wait_for_ui(self, timeout: float = 180) -> str:
        """Base URL of the UI api-server once it answers (it starts with the stack, in the background)."""
        assert self.ui_proc is not None, "no UI api-server"
        log = self.root / "ui-api-server.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ui_proc.poll() is not None:
                raise RuntimeError(f"UI api-server exited with {self.ui_proc.returncode}:\n{tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.ui_url}/api/v2/monitor/health", timeout=5).status_code == 200:
                    return self.ui_url
            time.sleep(1)
        raise TimeoutError(f"UI api-server not up after {timeout:.0f}s:\n{tail(log)}")

    def failure_report(self, dag_id: str, run_id: str) -> str:
        parts = []
        for ti in self.task_instances(dag_id, run_id):
            parts.append(f"  {ti['task_id']}: {ti['state']}")
            if ti["state"] in {"failed", "upstream_failed", "up_for_retry"} and ti.get("try_number"):
                with contextlib.suppress(Exception):
                    log = self.task_log(dag_id, run_id, ti["task_id"], ti["try_number"]).splitlines()
                    errors = [line for line in log if '"level": "error"' in line or '"level": "critical"' in line]
                    quiet = [line for line in log if '"level": "warning"' not in line]
                    parts.append("\n".join([*(line[:3000] for line in errors), *quiet[-15:]]))
        parts.append("--- airflow standalone log (tail) ---\n" + tail(self.log, 40))
        return "\n".join(parts)


@contextlib.contextmanager
def running_stack(root: Path) -> Iterator[Stack]:
    """PostgreSQL + moto S3 + `airflow standalone` on free ports, all under ``root``; torn down on exit."""
    from airflow_mlops.cli.demo import prepare

    with postgres_server() as pg, moto_s3() as s3:
        dags_folder = make_dags_folder(root / "dags")
        port = free_port()
        env = stack_env(root, dags_folder, port, pg, s3)
        prepare(root, PROJECT, env)  # example data + migrated metadata DB
        log = root / "standalone.log"
        proc = start(["airflow", "standalone"], env, log)
        ui_proc = None
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_healthy(base_url, proc, log)
            # the browser's api-server: same metadata DB, every request is admin (no login page to drive)
            ui_port = free_port()
            ui_env = {
                **env,
                "AIRFLOW__API__PORT": str(ui_port),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            }
            ui_proc = start(["airflow", "api-server", "--port", str(ui_port)], ui_env, root / "ui-api-server.log")
            yield Stack(root, env, base_url, pg, s3, dags_folder, log, f"http://127.0.0.1:{ui_port}", ui_proc)
        finally:
            if ui_proc is not None:
                stop(ui_proc)
            stop(proc)
