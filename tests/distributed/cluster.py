"""The distributed stack as local processes, started from docker-compose.yaml's services (see plan.py).

PostgreSQL (tests/pg.py, roles from the postgres service's init script), redis-server (Celery broker), moto
(S3, for MinIO), `mlflow server`, then Airflow's api-server, scheduler, dag-processor, triggerer and two Celery
workers. Every service runs in its own process group with its own empty folder; its output goes to
``<root>/<name>.log`` and a failing test prints the tails. Nothing is shared between the Airflow "machines" but
the services and the read-only dags folder / checkout.
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

from tests.pg import PostgresServer, postgres_server

from . import compose as composefile
from .plan import PROJECT, WORKERS, Process, airflow_processes, allocate_ports, mlflow_process, redis_process

TERMINAL = {"success", "failed"}
HEALTHY_PARTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def start(process: Process, root: Path) -> subprocess.Popen:
    """Start ``process`` in its own process group, output appended to ``<root>/<name>.log``."""
    log = root / f"{process.name}.log"
    with log.open("ab") as out:
        return subprocess.Popen(
            process.argv,
            env=process.env,
            cwd=process.home,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM the process group, SIGKILL after ``grace`` seconds (and any orphans left in it)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def stop_all(procs: list[subprocess.Popen], grace: float = 20) -> None:
    """Stop several process groups at once: SIGTERM to all, one shared grace period, then SIGKILL."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.1, deadline - time.monotonic()))
    for proc in procs:
        stop(proc, grace=0)


def files_under(folder: str | Path) -> list[str]:
    """Every file under ``folder`` but the rule-check cache's empty markers (rules/cache.py: "this rule text
    compiled", written when a worker parses a spec's DAG file; a cache, not state)."""
    markers = Path(folder) / "cache" / "rules"
    return sorted(
        str(p) for p in Path(folder).rglob("*") if p.is_file() and not (p.parent == markers and p.stat().st_size == 0)
    )


def copy_dags(target: Path, extra: dict[str, str]) -> Path:
    """The repo's dags (stubs and specs) plus the test's DAG files, in one folder every service reads."""
    target.mkdir(parents=True)
    for src in (PROJECT / "dags").iterdir():
        if src.suffix in {".py", ".yaml", ".yml"}:
            shutil.copy2(src, target / src.name)
    for name, text in extra.items():
        (target / name).write_text(text)
    return target


@dataclass
class Cluster:
    root: Path
    compose: dict
    dotenv: dict[str, str]
    ports: dict[str, int]
    pg: PostgresServer
    s3_endpoint: str
    dags_folder: Path
    processes: dict[str, Process] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    startup_seconds: float = 0.0
    _token: str | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['mlflow']}"

    def dsn(self, conn_id: str) -> str:
        """A libpq URL for the PostgreSQL connection ``conn_id`` as the workers see it (``AIRFLOW_CONN_<ID>``)."""
        conn = json.loads(self.processes["worker-1"].env[f"AIRFLOW_CONN_{conn_id.upper()}"])
        return f"postgresql://{conn['login']}:{conn['password']}@{conn['host']}:{conn['port']}/{conn['schema']}"

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    # ------------------------------------------------------------ processes

    def start(self, name: str) -> None:
        self.procs[name] = start(self.processes[name], self.root)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to a service's whole process group (a machine dying takes its children with it)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, sig)
        self.procs[name].wait(30)

    def kill_worker_and_recover(
        self, victim: str, dag_id: str, run_id: str, task_id: str, timeout: float = 300
    ) -> tuple[str, float, list[dict]]:
        """SIGKILL ``victim`` (running ``task_id``), wait for the run, restart the worker; ``(survivor, seconds
        from the kill to the run's end, the task's tries)``, after checking the first try failed on ``victim``
        and the last succeeded on the survivor."""
        assert victim in WORKERS
        survivor = next(w for w in WORKERS if w != victim)
        began = time.monotonic()
        self.kill(victim)  # the whole "machine": worker, its pool, the task's supervisor and process
        try:
            self.wait_for_run(dag_id, run_id, timeout=timeout)
            recovered = time.monotonic() - began
        finally:
            self.restart(victim)
        tries = self.tries(dag_id, run_id, task_id)
        assert tries[0]["hostname"] == victim and tries[0]["state"] == "failed", tries
        assert tries[-1]["hostname"] == survivor and tries[-1]["state"] == "success", tries
        return survivor, recovered, tries

    def restart(self, name: str, timeout: float = 180) -> None:
        """Start a stopped service again and wait until it is up (a worker: its next "ready." line)."""
        assert self.procs[name].poll() is not None, f"{name} is still running"
        ready_before = self.log(name).read_text(errors="replace").count(" ready.")
        self.start(name)
        deadline = time.monotonic() + timeout
        while True:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.procs[name].returncode}:\n{tail(self.log(name))}")
            health = self.processes[name].health
            if name in WORKERS:
                if self.log(name).read_text(errors="replace").count(" ready.") > ready_before:
                    return
            elif health:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(health, timeout=5).status_code == 200:
                        return
            else:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not back after {timeout:.0f}s:\n{tail(self.log(name))}")
            time.sleep(1)

    def wait_for_task(self, dag_id: str, run_id: str, task_id: str, state: str, timeout: float = 180) -> dict:
        """Poll one task instance until it reaches ``state``; return its record."""
        deadline = time.monotonic() + timeout
        with self.api() as api:
            while True:
                ti = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}").raise_for_status().json()
                if ti["state"] == state and ti.get("hostname"):
                    return ti
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{task_id} is {ti['state']}, not {state}:\n{self.failure_report(dag_id, run_id)}"
                    )
                time.sleep(1)

    def wait_until_up(self, timeout: float = 300) -> None:
        """Every service answers: the API's health (all components), the scheduler's, both Celery workers."""
        deadline = time.monotonic() + timeout
        pending = {name for name, p in self.processes.items() if p.health} | set(WORKERS) | {"components"}
        last: Any = None
        while pending:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail(self.log(name))}")
            for name in sorted(pending):
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    if name in WORKERS:
                        if " ready." in self.log(name).read_text(errors="replace"):
                            pending.discard(name)
                    elif name == "components":
                        last = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).json()
                        if all((last.get(p) or {}).get("status") == "healthy" for p in HEALTHY_PARTS):
                            pending.discard(name)
                    elif httpx.get(self.processes[name].health, timeout=5).status_code == 200:
                        pending.discard(name)
            if time.monotonic() > deadline:
                raise TimeoutError(f"not up after {timeout:.0f}s: {sorted(pending)} (health: {last})\n{self.tails()}")
            time.sleep(2)

    def tails(self, lines: int = 40) -> str:
        parts = [f"--- {name}.log ---\n{tail(self.log(name), lines)}" for name in [*self.processes, "redis"]]
        return "\n".join(parts)

    # ------------------------------------------------------------ REST

    def token(self) -> str:
        if self._token is None:
            user, password = self.dotenv["AIRFLOW_ADMIN_USER"], self.dotenv["AIRFLOW_ADMIN_PASSWORD"]
            resp = httpx.post(f"{self.base_url}/auth/token", json={"username": user, "password": password}, timeout=30)
            resp.raise_for_status()
            self._token = resp.json()["access_token"]
        return self._token

    def api(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token()}"}
        return httpx.Client(base_url=f"{self.base_url}/api/v2", headers=headers, timeout=30)

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        with self.api() as api:
            while api.get(f"/dags/{dag_id}").status_code != 200:
                if time.monotonic() > deadline:
                    errors = api.get("/importErrors").text
                    raise TimeoutError(f"DAG {dag_id} not parsed after {timeout:.0f}s; import errors: {errors}")
                time.sleep(2)

    def trigger(self, dag_id: str, conf: dict | None = None, logical_date: str | None = None) -> str:
        """Unpause and trigger ``dag_id`` (``logical_date`` ISO 8601, default none: Airflow infers the interval)."""
        self.wait_for_dag(dag_id)
        with self.api() as api:
            api.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
            resp = api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": logical_date, "conf": conf or {}})
            resp.raise_for_status()
            return resp.json()["dag_run_id"]

    def clear(self, dag_id: str, run_id: str) -> None:
        """Clear a finished run: every task runs again under the same logical date (re-running an interval)."""
        with self.api() as api:
            api.post(f"/dags/{dag_id}/dagRuns/{run_id}/clear", json={"dry_run": False}).raise_for_status()

    def run_state(self, dag_id: str, run_id: str) -> str:
        with self.api() as api:
            return api.get(f"/dags/{dag_id}/dagRuns/{run_id}").raise_for_status().json()["state"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        """Poll a run to a terminal state; raise with the task states and worker logs unless it succeeded."""
        deadline = time.monotonic() + timeout
        while (state := self.run_state(dag_id, run_id)) not in TERMINAL and time.monotonic() < deadline:
            time.sleep(2)
        if state != "success":
            raise AssertionError(f"{dag_id} run {run_id} ended {state}:\n{self.failure_report(dag_id, run_id)}")
        return state

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        with self.api() as api:
            resp = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
            return resp.raise_for_status().json()["task_instances"]

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict]:
        """Every try of a task (its retry history), oldest first."""
        with self.api() as api:
            resp = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries")
            return sorted(resp.raise_for_status().json()["task_instances"], key=lambda t: t["try_number"])

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        with self.api() as api:
            resp = api.get(
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value",
                params={"deserialize": "true", "map_index": map_index},
            )
            return resp.raise_for_status().json()["value"]

    def task_logs(self, dag_id: str, run_id: str, task_id: str) -> str:
        """A task's log files, read from the workers' own folders (each worker keeps its logs locally)."""
        found = []
        for worker in WORKERS:
            logs = Path(self.processes[worker].env["AIRFLOW_HOME"]) / "logs"
            for path in sorted(logs.glob(f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/**/*.log")):
                found.append(f"--- {worker}: {path.name} ---\n{tail(path, 40)}")
        return "\n".join(found) or "(no task log on any worker)"

    def failure_report(self, dag_id: str, run_id: str) -> str:
        parts = []
        for ti in self.task_instances(dag_id, run_id):
            parts.append(f"  {ti['task_id']}[{ti.get('map_index', -1)}]: {ti['state']} on {ti.get('hostname')}")
            if ti["state"] not in {"success", "skipped"}:
                parts.append(self.task_logs(dag_id, run_id, ti["task_id"]))
        parts.append(self.tails(25))
        return "\n".join(parts)


@contextlib.contextmanager
def moto_s3(port: int, bucket_names: list[str]) -> Iterator[str]:
    """moto's S3 server (standing in for MinIO) on ``port`` with ``bucket_names`` made."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # fmt: skip
        for bucket in bucket_names:
            s3.create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        server.stop()


def _wait_redis(port: int, password: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    import redis

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}:\n{tail(log)}")
        with contextlib.suppress(redis.RedisError):
            if redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=2).ping():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"redis-server not answering:\n{tail(log)}")
        time.sleep(0.3)


@contextlib.contextmanager
def running_cluster(root: Path, extra_dags: dict[str, str]) -> Iterator[Cluster]:
    """The whole stack under ``root``; torn down (every process group) on exit."""
    if not shutil.which("redis-server"):
        raise RuntimeError("redis-server not found; run ./dev setup (installs Debian's redis-server)")
    began = time.monotonic()
    dotenv = composefile.make_dotenv()
    compose = composefile.load(dotenv)
    services = compose["services"]
    check = composefile.run_secrets_check(services["secrets-check"])
    if check.returncode != 0:
        raise RuntimeError(f"secrets-check refused the generated .env: {check.stderr}")
    ports = allocate_ports()
    dags_folder = copy_dags(root / "dags", extra_dags)
    buckets = composefile.buckets((composefile.DEPLOY / "minio-init.sh").read_text())
    with postgres_server(password=dotenv["POSTGRES_PASSWORD"]) as pg, moto_s3(ports["s3"], buckets) as s3:
        ports["postgres"] = pg.port
        roles = composefile.init_roles(services["postgres"], pg.host, pg.port, pg.user, pg.password)
        if roles.returncode != 0:
            raise RuntimeError(f"postgres init script failed: {roles.stderr}")
        cluster = Cluster(root, compose, dotenv, ports, pg, s3, dags_folder)
        redis_plan = redis_process(compose, root, ports)
        mlflow_plan = mlflow_process(compose, root, ports)
        airflow = airflow_processes(compose, dotenv, root, dags_folder, ports)
        cluster.processes = {p.name: p for p in [mlflow_plan, *airflow]}
        try:
            cluster.procs["redis"] = start(redis_plan, root)
            _wait_redis(ports["redis"], dotenv["REDIS_PASSWORD"], cluster.procs["redis"], cluster.log("redis"))
            cluster.start("mlflow")
            init = cluster.processes.pop("airflow-init")
            with cluster.log(init.name).open("ab") as out:
                migrated = subprocess.run(init.argv, env=init.env, cwd=init.home, stdout=out, stderr=subprocess.STDOUT)
            if migrated.returncode != 0:
                raise RuntimeError(f"airflow db migrate failed:\n{tail(cluster.log(init.name))}")
            for name in cluster.processes:
                if name != "mlflow":
                    cluster.start(name)
            cluster.wait_until_up()
            cluster.startup_seconds = time.monotonic() - began
            yield cluster
        finally:
            stop_all(list(cluster.procs.values()))
