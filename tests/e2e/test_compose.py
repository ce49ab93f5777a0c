"""docker-compose.yaml without a Docker engine: its YAML parsed, its scripts and MLflow's command run for real.

No Docker engine (nor `docker compose`) runs here, so the file is read with PyYAML and interpolated the way
compose does (``${VAR:?msg}``, ``${VAR:-default}``, ``$$``) against a .env from deploy/compose/make_env.py.
What runs for real: the secrets check, the PostgreSQL init script (against a PostgreSQL started by the test)
and `mlflow server` with the mlflow service's exact command and environment, with PostgreSQL and MinIO
swapped for the test's PostgreSQL and moto's S3 server, reached with the Host header Airflow sends.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from airflow_mlops.hooks.mlflow import MLflowHook
from airflow_mlops.spec import load_spec
from tests.conftest import PROJECT, VENV_BIN
from tests.distributed import compose as composefile
from tests.distributed.compose import env_of, interpolate, make_dotenv, read_env
from tests.pg import PostgresServer, free_port, postgres_server

COMPOSE = composefile.COMPOSE
DEPLOY = composefile.DEPLOY
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
STATEFUL = ("postgres", "redis", "minio", "mlflow")
ONE_SHOT = ("secrets-check", "minio-init", "airflow-init")
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|FERNET|_KEY$)", re.IGNORECASE)
ROLES = ("airflow", "mlflow", "scores", "feast")
MLFLOW_HOST_HEADER = "mlflow:5000"  # what http://mlflow:5000 (AIRFLOW_CONN_MLFLOW_DEFAULT) sends


# ---------------------------------------------------------------- compose, parsed and interpolated


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def dotenv() -> dict[str, str]:
    """A .env as the docs say to make one: deploy/compose/make_env.py, run for real."""
    return make_dotenv()


@pytest.fixture(scope="module")
def compose(raw, dotenv) -> dict:
    return interpolate(raw, dotenv)


def spec_conn_ids() -> set[str]:
    """Connection ids the example specs and hooks use."""
    from airflow_mlops.hooks.state_db import StateDbHook

    ids = {MLflowHook.default_conn_name, StateDbHook.default_conn_name}
    for path in sorted((PROJECT / "dags").glob("*.yaml")):
        spec = load_spec(path)
        ids.add(spec.scoring.destination.conn_id)
        if spec.monitoring.report_conn_id:
            ids.add(spec.monitoring.report_conn_id)
    return ids


def run_check(names: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess:
    script = DEPLOY / "check_secrets.py"
    clean = {"PATH": os.environ["PATH"], **env}
    return subprocess.run([sys.executable, str(script), *names], env=clean, capture_output=True, text=True)


# ---------------------------------------------------------------- static shape


def test_services_present(compose):
    services = compose["services"]
    for name, command in AIRFLOW_SERVICES.items():
        assert name in services, name
        assert services[name]["command"] == command
    for name in (*STATEFUL, *ONE_SHOT):
        assert name in services, name
    env = env_of(services["airflow-scheduler"])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_images_pinned(raw):
    for name, service in raw["services"].items():
        image = service.get("image")
        assert image, f"{name} has no image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and re.search(r"\d", tag), f"{name}: image {image!r} is not pinned"
        inline = (service.get("build") or {}).get("dockerfile_inline", "")
        for line in inline.splitlines():
            if line.startswith("FROM "):
                base = line.split()[1]
                assert re.search(r":v?\d+\.\d+\.\d+", base), f"{name}: base image {base!r} is not pinned"
    assert "apache/airflow:3.3.2" in raw["services"]["airflow-scheduler"]["build"]["dockerfile_inline"]


def test_package_installed_and_project_mounted(compose):
    worker = compose["services"]["airflow-worker"]
    assert "pip install" in worker["build"]["dockerfile_inline"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in worker["volumes"]}
    assert mounts["./dags"] == "/opt/airflow/dags"
    assert mounts["./configs"] == env_of(worker)["AIRFLOW_MLOPS_PROJECT"] + "/configs"


def test_mounted_files_exist(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (PROJECT / source).exists(), f"{name} mounts missing {source}"


def test_healthchecks_and_start_order(compose):
    services = compose["services"]
    for name in (*STATEFUL, *AIRFLOW_SERVICES):
        check = services[name].get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
    for name in ("postgres", "redis", "minio"):
        gate = services[name]["depends_on"]["secrets-check"]
        assert gate["condition"] == "service_completed_successfully", name
    assert services["mlflow"]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"
    for name in AIRFLOW_SERVICES:
        assert services[name]["depends_on"]["mlflow"]["condition"] == "service_healthy", name


def test_connections_by_spec_conn_ids(compose):
    needed = spec_conn_ids()
    assert "scores_db" in needed and "mlflow_default" in needed
    for name in AIRFLOW_SERVICES:
        env = env_of(compose["services"][name])
        for conn_id in needed:
            assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, f"{name} lacks connection {conn_id}"
        scores = json.loads(env["AIRFLOW_CONN_SCORES_DB"])
        assert (scores["login"], scores["schema"]) == ("scores", "scores")
        assert json.loads(env["AIRFLOW_CONN_MLFLOW_DEFAULT"])["host"] == f"http://{MLFLOW_HOST_HEADER}"


def test_no_literal_secrets(raw, compose, dotenv):
    """Every secret is a ${VAR} from .env; .env.example holds placeholders only; interpolation needs them all."""
    for name, service in raw["services"].items():
        for key, value in env_of(service).items():
            if SECRET_NAME.search(key):
                assert value.startswith("${"), f"{name}.{key} is a literal"
    text = COMPOSE.read_text()
    for value in re.findall(r'"password": "([^"]*)"', text):
        assert value.startswith("${"), "literal password in a connection"
    assert not re.search(r"://[^$:/\s]*:[^$@\s]+@", text), "a URL with a literal password"
    example = read_env((PROJECT / ".env.example").read_text())
    for key, value in example.items():
        if SECRET_NAME.search(key):
            assert value == "change-me", f".env.example {key} is not a placeholder"
    assert set(example) == set(dotenv), "make_env.py and .env.example disagree"
    assert ".env" in (PROJECT / ".gitignore").read_text().splitlines()
    for missing in ("AIRFLOW_DB_PASSWORD", "MINIO_AIRFLOW_SECRET", "MLFLOW_DB_PASSWORD"):
        with pytest.raises(KeyError, match=missing):
            interpolate(raw, {k: v for k, v in dotenv.items() if k != missing})


def test_published_ports_on_loopback_only(compose):
    published = {}
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            if isinstance(port, dict):  # long syntax
                host_ip = port.get("host_ip", "")
            else:
                parts = str(port).split(":")
                host_ip = parts[0] if len(parts) == 3 else ""
            assert host_ip == "127.0.0.1", f"{name} publishes {port!r} beyond loopback"
            published[name] = port
        assert not service.get("network_mode") == "host", name
    assert "mlflow" not in published, "MLflow has no authentication and must not be published"
    assert set(published) == {"airflow-apiserver", "minio"}


def test_mlflow_allowed_hosts(compose):
    command = " ".join(compose["services"]["mlflow"]["command"])
    hosts = re.search(r'--allowed-hosts "([^"]+)"', command).group(1).split(",")
    assert {MLFLOW_HOST_HEADER, "localhost", "127.0.0.1"} <= set(hosts)
    assert "*" not in command.split("--allowed-hosts")[1], "wildcard hosts"
    assert "--disable-security-middleware" not in command


# ---------------------------------------------------------------- secrets check, run for real


def secrets_check_call(compose) -> tuple[list[str], dict[str, str]]:
    service = compose["services"]["secrets-check"]
    return list(service["command"]), env_of(service)


def test_secrets_check_covers_every_secret(raw, compose):
    names, env = secrets_check_call(compose)
    referenced = composefile.referenced_variables(COMPOSE.read_text())
    secrets = {n for n in referenced if SECRET_NAME.search(n)}
    assert secrets and secrets <= set(names), f"not checked: {sorted(secrets - set(names))}"
    assert "MINIO_ROOT_USER" in names
    assert set(names) <= set(env), "a checked variable is not passed to secrets-check"
    script = raw["services"]["secrets-check"]["entrypoint"][-1]
    assert any(v.endswith(f":{script}:ro") for v in raw["services"]["secrets-check"]["volumes"])


def test_secrets_check_accepts_generated_env(compose):
    names, env = secrets_check_call(compose)
    result = run_check(names, env)
    assert result.returncode == 0, result.stderr
    assert "passed" in result.stdout


@pytest.mark.parametrize(
    ("var", "value", "reason"),
    [
        ("AIRFLOW_JWT_SECRET", "change-me", "placeholder"),
        ("AIRFLOW_JWT_SECRET", "CHANGE-ME-before-production-please", "placeholder"),
        ("MINIO_ROOT_PASSWORD", "minioadmin", "placeholder"),
        ("AIRFLOW_DB_PASSWORD", "airflow", "placeholder"),
        ("POSTGRES_PASSWORD", "", "unset or empty"),
        ("REDIS_PASSWORD", "Sh0rt-but-rand", "shorter than 16"),
        ("AIRFLOW_ADMIN_PASSWORD", "aaaaaaaabbbbbbbbaaaa", "distinct characters"),
        ("SCORES_DB_PASSWORD", 'quote"inside-a-long-value-x', "characters outside"),
        ("AIRFLOW_FERNET_KEY", "not-a-fernet-key-but-long-enough", "not a Fernet key"),
        ("MINIO_ROOT_USER", "minioadmin", "placeholder/default name"),
    ],
)
def test_secrets_check_refuses(compose, var, value, reason):
    names, env = secrets_check_call(compose)
    result = run_check(names, {**env, var: value})
    assert result.returncode == 1
    assert var in result.stderr and reason in result.stderr
    if value:
        assert value not in result.stdout + result.stderr, "the check echoed a secret"


def test_secrets_check_refuses_reuse_and_example(compose, raw):
    names, env = secrets_check_call(compose)
    reused = run_check(names, {**env, "MINIO_AIRFLOW_SECRET": env["MINIO_ROOT_PASSWORD"]})
    assert reused.returncode == 1 and "MINIO_AIRFLOW_SECRET, MINIO_ROOT_PASSWORD share one value" in reused.stderr
    example = env_of(interpolate(raw, read_env((PROJECT / ".env.example").read_text()))["services"]["secrets-check"])
    refused = run_check(names, example)
    assert refused.returncode == 1
    assert refused.stderr.count("refused:") >= len(names) - 1  # every placeholder (reuse adds one)
    assert run_check([], env).returncode == 1, "an empty list of names must not pass"


# ---------------------------------------------------------------- who holds which credential


def test_no_airflow_service_holds_a_root_credential(compose, dotenv):
    roots = {k: dotenv[k] for k in ("POSTGRES_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD")}
    for name in (*AIRFLOW_SERVICES, "airflow-init", "mlflow"):
        blob = json.dumps(compose["services"][name])
        for key, value in roots.items():
            assert value not in blob, f"{name} carries {key}"
    airflow_env = env_of(compose["services"]["airflow-worker"])
    assert f"airflow:{dotenv['AIRFLOW_DB_PASSWORD']}@" in airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    aws = json.loads(airflow_env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert (aws["login"], aws["password"]) == ("airflow-reports", dotenv["MINIO_AIRFLOW_SECRET"])
    holders = [n for n, s in compose["services"].items() if dotenv["MINIO_ROOT_PASSWORD"] in json.dumps(s)]
    assert sorted(holders) == ["minio", "minio-init", "secrets-check"]
    holders = [n for n, s in compose["services"].items() if dotenv["POSTGRES_PASSWORD"] in json.dumps(s)]
    assert sorted(holders) == ["postgres", "secrets-check"]


def test_minio_users_limited_to_their_bucket(compose):
    init = (DEPLOY / "minio-init.sh").read_text()
    grants = dict(re.findall(r"^grant (\S+) \S+ /etc/mlops/(\S+)$", init, re.MULTILINE))
    mlflow_user = env_of(compose["services"]["mlflow"])["AWS_ACCESS_KEY_ID"]
    airflow_user = json.loads(env_of(compose["services"]["airflow-worker"])["AIRFLOW_CONN_AWS_DEFAULT"])["login"]
    expected = {mlflow_user: "mlflow", airflow_user: "mlops-reports"}
    assert set(grants) == set(expected)
    mounted = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["minio-init"]["volumes"]}
    for user, bucket in expected.items():
        policy = json.loads((PROJECT / mounted[f"/etc/mlops/{grants[user]}"]).read_text())
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            assert all(a.startswith("s3:") and "*" not in a for a in statement["Action"]), statement
            for resource in statement["Resource"]:
                assert resource in (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"), resource
    assert "MINIO_ROOT" not in init.split("mc alias set", 1)[1].split("\n", 1)[1], "root used past the alias"


# ---------------------------------------------------------------- PostgreSQL roles, run for real


def init_roles(pg: PostgresServer, compose: dict) -> None:
    """Run the postgres service's init script as its entrypoint would, against ``pg``."""
    result = composefile.init_roles(compose["services"]["postgres"], pg.host, pg.port, pg.user, pg.password)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def pg(compose) -> Iterator[PostgresServer]:
    with postgres_server() as server:
        init_roles(server, compose)
        init_roles(server, compose)  # idempotent: a re-run resets passwords and grants, no error
        yield server


def role_dsn(pg: PostgresServer, role: str, password: str, db: str) -> str:
    return f"postgresql://{role}:{password}@{pg.host}:{pg.port}/{db}"


def test_init_sql_creates_distinct_least_privileged_roles(pg, dotenv):
    passwords = {r: dotenv[f"{r.upper()}_DB_PASSWORD"] for r in ROLES}
    with psycopg.connect(pg.dsn) as admin:
        rows = admin.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolname = ANY(%s)",
            (list(ROLES),),
        ).fetchall()
        owners = dict(
            admin.execute(
                "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname = ANY(%s)", (list(ROLES),)
            ).fetchall()
        )
    assert sorted(r[0] for r in rows) == sorted(ROLES)
    assert all(not any(r[1:]) for r in rows), rows
    assert owners == {r: r for r in ROLES}
    for role in ROLES:
        with psycopg.connect(role_dsn(pg, role, passwords[role], role), autocommit=True) as own:
            own.execute("CREATE TABLE private_t (x int)")
            own.execute("INSERT INTO private_t VALUES (1)")
            assert own.execute("SELECT count(*) FROM private_t").fetchone() == (1,)
        for other in (*(r for r in ROLES if r != role), "postgres"):
            with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
                psycopg.connect(role_dsn(pg, role, passwords[role], other), connect_timeout=5)
        wrong = passwords[ROLES[(ROLES.index(role) + 1) % len(ROLES)]]
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(role_dsn(pg, role, wrong, role), connect_timeout=5)


# ---------------------------------------------------------------- MLflow, as composed, run for real


@contextlib.contextmanager
def composed_mlflow(compose: dict, pg: PostgresServer, s3_endpoint: str, root: Path) -> Iterator[str]:
    """`mlflow server` with the mlflow service's command and environment; endpoints swapped for test ones."""
    service = compose["services"]["mlflow"]
    port = free_port()
    swaps = {
        "@postgres:5432/": f"@{pg.host}:{pg.port}/",
        "http://minio:9000": s3_endpoint,
        "--host 0.0.0.0": "--host 127.0.0.1",
        "--port 5000": f"--port {port}",
    }
    command, env = list(service["command"]), env_of(service)
    for old, new in swaps.items():
        hits = [i for i, part in enumerate(command) if old in part] + [k for k, v in env.items() if old in v]
        assert hits, f"{old!r} not in the mlflow service any more; update the test's swaps"
        command = [part.replace(old, new) for part in command]
        env = {k: v.replace(old, new) for k, v in env.items()}
    env.update(PATH=f"{VENV_BIN}:{os.environ['PATH']}", HOME=str(root), LANG="C.UTF-8")
    log = root / "mlflow.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"mlflow server exited:\n{log.read_text()[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"mlflow server not healthy:\n{log.read_text()[-3000:]}"
            time.sleep(1)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_mlflow_as_composed_answers_airflow_host(compose, pg, tmp_path):
    from tests.e2e.stack import moto_s3

    with moto_s3(bucket="mlflow") as s3, composed_mlflow(compose, pg, s3.endpoint, tmp_path) as base:
        as_airflow = httpx.Client(base_url=base, headers={"Host": MLFLOW_HOST_HEADER}, timeout=30)
        assert as_airflow.get("/health").status_code == 200
        created = as_airflow.post("/api/2.0/mlflow/experiments/create", json={"name": "compose-check"})
        assert created.status_code == 200, created.text
        experiment_id = created.json()["experiment_id"]
        rebound = httpx.post(
            f"{base}/api/2.0/mlflow/experiments/create",
            json={"name": "rebinding"},
            headers={"Host": "attacker.example:5000"},
        )
        assert rebound.status_code == 403, "MLflow accepted a Host header outside --allowed-hosts"

        run = as_airflow.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id}).json()["run"]
        run_id, artifact_uri = run["info"]["run_id"], run["info"]["artifact_uri"]
        assert artifact_uri.startswith("mlflow-artifacts:/"), artifact_uri  # proxied: workers need no S3 key
        path = f"{artifact_uri.removeprefix('mlflow-artifacts:/')}/hello.txt"
        body = b"artifact through the proxy\n"
        assert as_airflow.put(f"/api/2.0/mlflow-artifacts/artifacts/{path}", content=body).status_code == 200
        fetched = as_airflow.get(f"/api/2.0/mlflow-artifacts/artifacts/{path}")
        assert fetched.status_code == 200 and fetched.content == body
        assert path in s3.keys(), f"artifact not in the S3 bucket: {s3.keys()}"
        listed = as_airflow.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id}).json()
        assert [f["path"] for f in listed["files"]] == ["hello.txt"]

        # The service's own healthcheck, run for real: a REST call with Airflow's Host header.
        check = compose["services"]["mlflow"]["healthcheck"]["test"]
        assert check[:3] == ["CMD", "python", "-c"]
        code = check[3].replace("http://localhost:5000", base)
        assert code != check[3]
        retries = compose["services"]["mlflow"]["healthcheck"]["retries"]
        for _ in range(min(retries, 3)):  # docker retries a failed check too; a loaded machine can be slow
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
            if result.returncode == 0:
                break
        assert result.returncode == 0, result.stderr
        bad_host = code.replace(MLFLOW_HOST_HEADER, "attacker.example:5000")
        assert bad_host != code
        refused = subprocess.run([sys.executable, "-c", bad_host], capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and "403" in refused.stderr, "the healthcheck does not exercise the Host check"
        with psycopg.connect(pg.dsn.rsplit("/", 1)[0] + "/mlflow") as admin:
            owner = admin.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'experiments'").fetchone()
        assert owner == ("mlflow",), "MLflow's tables belong to another role"


@pytest.mark.parametrize(
    ("policy", "own", "other"), [("reports", "mlops-reports", "mlflow"), ("mlflow", "mlflow", "mlops-reports")]
)
def test_minio_policy_enforced(policy, own, other):
    """The policy file under IAM evaluation (moto enforcing auth): its bucket read/write, nothing else."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws
    from moto.core import set_initial_no_auth_action_count

    @set_initial_no_auth_action_count(5)  # exactly the setup calls below; every later call is authorised
    @mock_aws
    def check() -> None:
        admin_s3, iam = boto3.client("s3", region_name="us-east-1"), boto3.client("iam", region_name="us-east-1")
        for bucket in (own, other):
            admin_s3.create_bucket(Bucket=bucket)
        iam.create_user(UserName="u")
        document = (DEPLOY / f"minio-policy-{policy}.json").read_text()
        iam.put_user_policy(UserName="u", PolicyName=policy, PolicyDocument=document)
        key = iam.create_access_key(UserName="u")["AccessKey"]
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        denied = (
            lambda: s3.put_object(Bucket=other, Key="x", Body=b"x"),
            lambda: s3.get_object(Bucket=other, Key="x"),
            lambda: s3.list_objects_v2(Bucket=other),
            lambda: s3.list_buckets(),
            lambda: s3.create_bucket(Bucket="another"),
            lambda: s3.delete_bucket(Bucket=own),
        )
        for call in denied:
            with pytest.raises(ClientError, match="AccessDenied"):
                call()
        s3.put_object(Bucket=own, Key="reports/a.html", Body=b"ok")
        assert s3.get_object(Bucket=own, Key="reports/a.html")["Body"].read() == b"ok"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=own)["Contents"]] == ["reports/a.html"]
        s3.delete_object(Bucket=own, Key="reports/a.html")

    check()
