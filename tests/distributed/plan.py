"""How each docker-compose.yaml service becomes a local process: command and environment, read from the file.

The plan takes every service's ``command`` and ``environment`` from docker-compose.yaml (interpolated against a
.env from make_env.py), replaces the container endpoints (``postgres:5432``, ``redis:6379``, ``minio:9000``,
``mlflow:5000``, ``airflow-apiserver:8080``) with local ports, and adds only the settings in ``LOCAL_ONLY``:
where a "machine" keeps its files, which port it listens on, and how frugal it is on two shared cores.
tests/distributed/test_parity.py holds the plan to exactly that; the harness (cluster.py) starts the plan.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import VENV_BIN
from tests.pg import free_port

from .compose import PROJECT, env_of

# Container endpoint -> name of the local port that replaces it.
ENDPOINTS = {
    "postgres:5432": "postgres",
    "redis:6379": "redis",
    "minio:9000": "s3",
    "mlflow:5000": "mlflow",
    "airflow-apiserver:8080": "api",
}
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
WORKER = "airflow-worker"
WORKERS = ("worker-1", "worker-2")
# What compose provides by other means and the harness replaces (service -> how).
REPLACED = {
    "postgres": "tests/pg.py initdb server; the service's init script run against it (roles, databases)",
    "minio": "moto's S3 server; minio-init.sh's buckets created in it",
    "minio-init": "buckets from minio-init.sh (moto does not enforce MinIO users; test_compose checks the policies)",
    "secrets-check": "check_secrets.py run with the service's command and environment",
}
# Settings the harness adds or overrides, with the reason; nothing else may differ from compose.
LOCAL_ONLY = {
    "AIRFLOW_HOME": "each service's own empty folder (the image's /opt/airflow)",
    "HOME": "each service's own empty folder",
    "TMPDIR": "each service's own empty folder",
    "AIRFLOW_MLOPS_HOME": "each service's own empty folder (compose: a volume per container)",
    "AIRFLOW_MLOPS_PROJECT": "the read-only checkout (compose mounts dags/, configs/, include/ at /opt/airflow)",
    "AIRFLOW__CORE__DAGS_FOLDER": "the test's dags folder: the repo's dags plus the test's DAGs",
    "PATH": "the project's venv (the image's airflow)",
    "PYTHONPATH": "the checkout (the image installs airflow_mlops; tests.distributed.hostname lives here)",
    "LANG": "UTF-8 locale, as in the image",
    "MLOPS_HOSTNAME": "one host, several machines: each service names itself",
    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "reads MLOPS_HOSTNAME (containers have distinct hostnames)",
    "AIRFLOW__API__HOST": "loopback",
    "AIRFLOW__API__PORT": "a free port (the container's 8080)",
    "AIRFLOW__API__WORKERS": "one API worker: two shared cores",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "each worker's log server on its own port (containers: 8793 each)",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": "a free port (the container's 8974)",
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "only the runs a test triggers",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "one parsing process: two shared cores",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "parse each file once: two shared cores",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "two task slots per worker: two shared cores",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "a dead worker's task fails and retries in 40 s, not 5 min",
    "AIRFLOW__CORE__AUTH_MANAGER": "SimpleAuthManager: the FAB provider is in the image, not in uv.lock",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "the admin user (FAB: airflow-init's _AIRFLOW_WWW_USER_*)",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": "its password, from the .env's AIRFLOW_ADMIN_PASSWORD",
    "GIT_PYTHON_REFRESH": "quiet (no git binary check on import)",
}
# Arguments the harness appends to a service's command, with the reason.
EXTRA_ARGS = {
    WORKER: "--celery-hostname <worker>@%h: two Celery nodes on one host need distinct names",
    "redis": "--port/--bind loopback, no persistence, own --dir (the container's data volume)",
    "airflow-init": "db migrate (what the image's entrypoint does for _AIRFLOW_DB_MIGRATE)",
}
FRUGAL = {
    "AIRFLOW__API__WORKERS": "1",
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "40",
    "GIT_PYTHON_REFRESH": "quiet",
    "LANG": "C.UTF-8",
}


@dataclass
class Process:
    """One service as a local process: its compose service, name, argv, environment and folder."""

    service: str
    name: str
    argv: list[str]
    env: dict[str, str]
    home: Path
    health: str = ""  # URL that answers 200 once the service is up ("" = none)
    extra_args: list[str] = field(default_factory=list)


def allocate_ports() -> dict[str, int]:
    """Free local ports for every endpoint, the scheduler's health server and each worker's log server."""
    names = [*ENDPOINTS.values(), "scheduler_health", *(f"log_{w}" for w in WORKERS)]
    ports: dict[str, int] = {}
    while len(set(ports.values())) < len(names):
        ports = {name: free_port() for name in names}
    return ports


def map_endpoints(value: str, ports: dict[str, int]) -> str:
    """``value`` with every container endpoint replaced by its local ``127.0.0.1:<port>``."""
    for endpoint, key in ENDPOINTS.items():
        value = value.replace(endpoint, f"127.0.0.1:{ports[key]}")
    return value


def _map_connection(value: str, ports: dict[str, int]) -> str:
    """An ``AIRFLOW_CONN_*`` JSON value whose ``host``/``port`` name a container endpoint, pointed at its port."""
    try:
        conn = json.loads(value)
    except ValueError:
        return value
    if not isinstance(conn, dict) or f"{conn.get('host')}:{conn.get('port')}" not in ENDPOINTS:
        return value
    key = ENDPOINTS[f"{conn['host']}:{conn['port']}"]
    return json.dumps({**conn, "host": "127.0.0.1", "port": ports[key]})


def mapped_env(service: dict, ports: dict[str, int]) -> dict[str, str]:
    """A service's environment with its container endpoints on local ports: ``host:port`` in URLs,
    connection JSON (``"host"``/``"port"``) and ``*_HOST``/``*_PORT`` pairs."""
    env = {k: _map_connection(map_endpoints(v, ports), ports) for k, v in env_of(service).items()}
    for key, value in list(env.items()):
        pair = key.removesuffix("_HOST") + "_PORT"
        if key.endswith("_HOST") and f"{value}:{env.get(pair)}" in ENDPOINTS:
            env[key], env[pair] = "127.0.0.1", str(ports[ENDPOINTS[f"{value}:{env[pair]}"]])
    return env


def _machine(root: Path, name: str) -> dict[str, str]:
    """A fresh folder for one "machine": its HOME, TMPDIR, AIRFLOW_HOME and AIRFLOW_MLOPS_HOME."""
    home = root / name
    for sub in ("home", "tmp", "airflow", "mlops"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home / "home"),
        "TMPDIR": str(home / "tmp"),
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW_MLOPS_HOME": str(home / "mlops"),
        "MLOPS_HOSTNAME": name,
    }


def airflow_processes(
    compose: dict, dotenv: dict[str, str], root: Path, dags_folder: Path, ports: dict[str, int]
) -> list[Process]:
    """airflow-init, api-server, scheduler, dag-processor, triggerer and two workers, from compose."""
    services = compose["services"]
    passwords = root / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps({dotenv["AIRFLOW_ADMIN_USER"]: dotenv["AIRFLOW_ADMIN_PASSWORD"]}))
    common = {
        **FRUGAL,
        "AIRFLOW_MLOPS_PROJECT": str(PROJECT),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "PATH": os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"]),
        "PYTHONPATH": str(PROJECT),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.distributed.hostname.hostname",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(ports["api"]),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(ports["scheduler_health"]),
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{dotenv['AIRFLOW_ADMIN_USER']}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    }
    api = f"http://127.0.0.1:{ports['api']}"
    plans = [
        ("airflow-init", "airflow-init", ["db", "migrate"], ""),
        ("airflow-apiserver", "airflow-apiserver", [], f"{api}/api/v2/monitor/health"),
        ("airflow-scheduler", "airflow-scheduler", [], f"http://127.0.0.1:{ports['scheduler_health']}/health"),
        ("airflow-dag-processor", "airflow-dag-processor", [], ""),
        ("airflow-triggerer", "airflow-triggerer", [], ""),
    ]
    for worker in WORKERS:
        plans.append((WORKER, worker, ["--celery-hostname", f"{worker}@%h"], ""))
    out = []
    for service, name, extra, health in plans:
        spec = services[service]
        command = spec["command"]
        argv = ["airflow", *(shlex.split(command) if isinstance(command, str) else command)]
        if service == "airflow-init":
            argv = ["airflow"]  # `version` is the image entrypoint's hook; the migration is what runs
        env = {**mapped_env(spec, ports), **common, **_machine(root, name)}
        if service == WORKER:
            env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(ports[f"log_{name}"])
        out.append(Process(service, name, [*argv, *extra], env, root / name, health, extra))
    return out


def redis_process(compose: dict, root: Path, ports: dict[str, int]) -> Process:
    spec = compose["services"]["redis"]
    extra = ["--port", str(ports["redis"]), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    extra += ["--dir", str(root / "redis")]
    (root / "redis").mkdir(parents=True, exist_ok=True)
    env = {**mapped_env(spec, ports), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    return Process("redis", "redis", [*spec["command"], *extra], env, root / "redis", "", extra)


def mlflow_process(compose: dict, root: Path, ports: dict[str, int]) -> Process:
    """The mlflow service's exact command, endpoints mapped and bound to loopback on a free port."""
    spec = compose["services"]["mlflow"]
    swaps = {"--host 0.0.0.0": "--host 127.0.0.1", "--port 5000": f"--port {ports['mlflow']}"}
    argv = [map_endpoints(part, ports) for part in spec["command"]]
    for old, new in swaps.items():
        if not any(old in part for part in argv):
            raise AssertionError(f"{old!r} is not in the mlflow service's command any more; update plan.py")
        argv = [part.replace(old, new) for part in argv]
    machine = _machine(root, "mlflow")
    env = {**mapped_env(spec, ports), "PATH": f"{VENV_BIN}:/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update({k: machine[k] for k in ("HOME", "TMPDIR")})
    return Process("mlflow", "mlflow", argv, env, root / "mlflow", f"http://127.0.0.1:{ports['mlflow']}/health")
