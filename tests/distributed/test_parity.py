"""Compose parity: the processes the harness starts are docker-compose.yaml's services, command and environment.

The harness builds every process from the compose file (plan.py); these tests hold that plan to the file:
same command, same environment, container endpoints mapped to local ports, and nothing else changed but the
settings ``LOCAL_ONLY`` names with a reason. Cheap: nothing is started.
"""

from __future__ import annotations

import json
import re
import shlex

import pytest

from . import compose as composefile
from .plan import (
    AIRFLOW_SERVICES,
    ENDPOINTS,
    EXTRA_ARGS,
    LOCAL_ONLY,
    REPLACED,
    WORKER,
    WORKERS,
    airflow_processes,
    allocate_ports,
    mapped_env,
    mlflow_process,
    redis_process,
)

pytestmark = pytest.mark.distributed
HOSTS = sorted({endpoint.split(":")[0] for endpoint in ENDPOINTS})
# Settings that make the deployment what it is: never a local override.
ESSENTIAL = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
)


@pytest.fixture(scope="module")
def dotenv() -> dict[str, str]:
    return composefile.make_dotenv()


@pytest.fixture(scope="module")
def compose(dotenv) -> dict:
    return composefile.load(dotenv)


@pytest.fixture
def plan(compose, dotenv, tmp_path):
    ports = allocate_ports()
    airflow = airflow_processes(compose, dotenv, tmp_path, tmp_path / "dags", ports)
    return ports, [redis_process(compose, tmp_path, ports), mlflow_process(compose, tmp_path, ports), *airflow]


def unmap(value: str, ports: dict[str, int]) -> str:
    for endpoint, key in ENDPOINTS.items():
        value = value.replace(f"127.0.0.1:{ports[key]}", endpoint)
    return value


def container_hosts_in(value: str) -> list[str]:
    """Container hostnames ``value`` still addresses (URL host, ``user@host:``, connection JSON, bare value)."""
    url_host = r"(?<!s3:)//(?:[^/@\s]*@)?{}(?=[:/\"]|$)(?![^/\s]*@)"  # the authority's host, not its user name
    found = [h for h in HOSTS if re.search(url_host.format(re.escape(h)), value) or value == h]
    with_json = value.strip().startswith("{")
    if with_json and isinstance(conn := json.loads(value), dict):
        found += [h for h in HOSTS if conn.get("host") == h]
    return found


def test_every_compose_service_is_started_or_replaced(compose, plan):
    _, processes = plan
    started = {p.service for p in processes}
    assert started.isdisjoint(REPLACED)
    assert started | set(REPLACED) == set(compose["services"]), (
        "a compose service the harness neither runs nor replaces"
    )
    assert [p.name for p in processes if p.service == WORKER] == list(WORKERS)
    assert set(AIRFLOW_SERVICES) <= started


def test_airflow_commands_are_compose_commands(compose, plan):
    _, processes = plan
    for p in processes:
        if not p.service.startswith("airflow-"):
            continue
        assert p.argv[0] == "airflow"
        if p.extra_args:
            assert p.service in EXTRA_ARGS, f"{p.name} appends {p.extra_args} without a reason in EXTRA_ARGS"
        if p.service == "airflow-init":
            assert p.argv == ["airflow", "db", "migrate"]
            assert composefile.env_of(compose["services"]["airflow-init"])["_AIRFLOW_DB_MIGRATE"] == "true"
            continue
        command = compose["services"][p.service]["command"]
        assert p.argv[1 : len(p.argv) - len(p.extra_args)] == shlex.split(command), p.name


def test_airflow_environment_is_compose_environment(compose, plan):
    ports, processes = plan
    for p in processes:
        if not p.service.startswith("airflow-"):
            continue
        expected = mapped_env(compose["services"][p.service], ports)
        missing = set(expected) - set(p.env)
        assert not missing, f"{p.name} lacks compose settings {sorted(missing)}"
        changed = {k for k in p.env if k not in expected or p.env[k] != expected[k]}
        assert changed <= set(LOCAL_ONLY), (
            f"{p.name} differs from compose without a reason: {sorted(changed - set(LOCAL_ONLY))}"
        )
        for key in ESSENTIAL:
            assert key not in LOCAL_ONLY and p.env[key] == expected[key], key
        assert p.env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_every_machine_has_its_own_empty_home(plan):
    _, processes = plan
    airflow = [p for p in processes if p.service.startswith("airflow-")]
    for key in ("HOME", "TMPDIR", "AIRFLOW_HOME", "AIRFLOW_MLOPS_HOME", "MLOPS_HOSTNAME"):
        values = [p.env[key] for p in airflow]
        assert len(set(values)) == len(values), f"{key} shared between machines: {values}"
    for p in airflow:
        assert not any((p.home / "mlops").iterdir()), p.name
    shared = {p.env["AIRFLOW__CORE__DAGS_FOLDER"] for p in airflow} | {p.env["AIRFLOW_MLOPS_PROJECT"] for p in airflow}
    assert len(shared) == 2, "every machine reads the same dags folder and checkout"


def test_secrets_are_compose_secrets(dotenv, plan):
    """One .env feeds every process: the same Fernet key, JWT secret and role passwords everywhere."""
    _, processes = plan
    airflow = [p for p in processes if p.service.startswith("airflow-")]
    for key, var in (
        ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW_FERNET_KEY"),
        ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW_JWT_SECRET"),
    ):
        assert {p.env[key] for p in airflow} == {dotenv[var]}
    for p in airflow:
        assert f"airflow:{dotenv['AIRFLOW_DB_PASSWORD']}@" in p.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert f":{dotenv['REDIS_PASSWORD']}@" in p.env["AIRFLOW__CELERY__BROKER_URL"]
        assert json.loads(p.env["AIRFLOW_CONN_SCORES_DB"])["password"] == dotenv["SCORES_DB_PASSWORD"]


def test_no_container_hostname_left(plan):
    ports, processes = plan
    for p in processes:
        own_name = {"MLOPS_HOSTNAME"}  # a machine's own name, not an address
        for where, value in [*(("argv", a) for a in p.argv), *((k, v) for k, v in p.env.items() if k not in own_name)]:
            assert not container_hosts_in(value), f"{p.name} {where} still addresses a container: {value!r}"
    scores = json.loads(next(p for p in processes if p.name == "worker-1").env["AIRFLOW_CONN_SCORES_DB"])
    assert (scores["host"], scores["port"]) == ("127.0.0.1", ports["postgres"])


def test_mlflow_and_redis_run_compose_commands(compose, plan):
    ports, processes = plan
    mlflow = next(p for p in processes if p.service == "mlflow")
    back = [unmap(part, ports) for part in mlflow.argv]
    back = [
        part.replace("--host 127.0.0.1", "--host 0.0.0.0").replace(f"--port {ports['mlflow']}", "--port 5000")
        for part in back
    ]
    assert back == compose["services"]["mlflow"]["command"]
    expected = mapped_env(compose["services"]["mlflow"], ports)
    assert {k: mlflow.env[k] for k in expected} == expected
    assert set(mlflow.env) - set(expected) <= {"PATH", "HOME", "TMPDIR", "LANG"}
    redis = next(p for p in processes if p.service == "redis")
    assert redis.argv[: len(redis.argv) - len(redis.extra_args)] == compose["services"]["redis"]["command"]
    assert "--requirepass" not in redis.extra_args


def test_mapping_covers_split_host_and_port(compose):
    """Hostile: a setting naming a container as a bare host with its port elsewhere is mapped, not left behind."""
    ports = allocate_ports()
    service = {
        "environment": {
            "X_PG_HOST": "postgres",
            "X_PG_PORT": "5432",
            "AIRFLOW_CONN_X": json.dumps({"conn_type": "redis", "host": "redis", "port": 6379}),
            "Y_URL": "http://minio:9000/bucket",
            "Z_HOST": "postgres",  # no port beside it: left as is, and the check below names it
        }
    }
    env = mapped_env(service, ports)
    assert (env["X_PG_HOST"], env["X_PG_PORT"]) == ("127.0.0.1", str(ports["postgres"]))
    assert json.loads(env["AIRFLOW_CONN_X"])["port"] == ports["redis"]
    assert env["Y_URL"] == f"http://127.0.0.1:{ports['s3']}/bucket"
    assert container_hosts_in(env["Z_HOST"]) == ["postgres"]
    assert container_hosts_in("postgresql://mlflow:pw@127.0.0.1:1/mlflow") == []
    assert container_hosts_in("postgresql://mlflow:pw@postgres:5432/mlflow") == ["postgres"]
    assert container_hosts_in("http://mlflow:5000") == ["mlflow"]
    assert container_hosts_in("s3://mlflow/") == []
