"""docker-compose.yaml, checked statically (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from airflow_mlops.hooks.mlflow import MLflowHook
from airflow_mlops.spec import load_spec
from tests.conftest import PROJECT

COMPOSE = PROJECT / "docker-compose.yaml"
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
STATEFUL = ("postgres", "redis", "minio", "mlflow")
SECRET_KEYS = re.compile(r"(PASSWORD|SECRET|FERNET|_KEY$|_USER$)", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def spec_conn_ids() -> set[str]:
    """Connection ids the example specs and hooks use."""
    ids = {MLflowHook.default_conn_name}
    for path in sorted((PROJECT / "dags").glob("*.yaml")):
        spec = load_spec(path)
        ids.add(spec.scoring.destination.conn_id)
        if spec.monitoring.report_conn_id:
            ids.add(spec.monitoring.report_conn_id)
    return ids


def test_services_present(compose):
    services = compose["services"]
    for name, command in AIRFLOW_SERVICES.items():
        assert name in services, name
        assert services[name]["command"] == command
    for name in (*STATEFUL, "airflow-init", "minio-buckets"):
        assert name in services, name
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert "@postgres:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_images_pinned(compose):
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, f"{name} has no image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and re.search(r"\d", tag), f"{name}: image {image!r} is not pinned"
        inline = (service.get("build") or {}).get("dockerfile_inline", "")
        for line in inline.splitlines():
            if line.startswith("FROM "):
                base = line.split()[1]
                assert re.search(r":v?\d+\.\d+\.\d+", base), f"{name}: base image {base!r} is not pinned"
    airflow = compose["services"]["airflow-scheduler"]
    assert "apache/airflow:3.3.2" in airflow["build"]["dockerfile_inline"]


def test_package_installed_and_project_mounted(compose):
    scheduler = compose["services"]["airflow-worker"]
    assert "pip install" in scheduler["build"]["dockerfile_inline"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in scheduler["volumes"]}
    assert mounts["./dags"] == "/opt/airflow/dags"
    assert mounts["./configs"] == scheduler["environment"]["AIRFLOW_MLOPS_PROJECT"] + "/configs"


def test_healthchecks_on_stateful_services(compose):
    for name in (*STATEFUL, *AIRFLOW_SERVICES):
        check = compose["services"][name].get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"


def test_connections_by_spec_conn_ids(compose):
    needed = spec_conn_ids()
    assert "scores_db" in needed and "mlflow_default" in needed
    for name in AIRFLOW_SERVICES:
        env = compose["services"][name]["environment"]
        for conn_id in needed:
            assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, f"{name} lacks connection {conn_id}"
    assert '"schema": "scores"' in env["AIRFLOW_CONN_SCORES_DB"]


def test_no_literal_secrets(compose):
    """Every password/secret/key value is a ${VAR} from .env; .env.example holds placeholders only."""
    text = COMPOSE.read_text()
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_KEYS.search(key) and key != "AIRFLOW_UID":
                assert str(value).startswith("${"), f"{name}.{key} is a literal: {value!r}"
    for field in ("password", "login"):
        for value in re.findall(rf'"{field}": "([^"]*)"', text):
            assert value.startswith("${"), f"literal {field} in a connection: {value!r}"
    assert not re.search(r"://[^$:/\s]+:[^$@\s]+@", text), "a URL with literal credentials"
    example = PROJECT / ".env.example"
    for line in example.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            if SECRET_KEYS.search(key) and key not in {"POSTGRES_USER", "AIRFLOW_ADMIN_USER"}:
                assert value.startswith("change-me"), f".env.example {key} is not a placeholder"
    assert ".env" in Path(PROJECT / ".gitignore").read_text().splitlines()
