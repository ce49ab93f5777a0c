"""State database fixtures: a fresh PostgreSQL database per test on the session's server, a clean environment."""

from __future__ import annotations

import dataclasses
import uuid

import pytest


@pytest.fixture
def state_env(tmp_path, monkeypatch):
    """An empty MLOps home, no state connection, no remote stores configured; returns the home."""
    home = tmp_path / "mlops"
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(home))
    names = (
        "AIRFLOW_CONN_MLOPS_STATE",
        "AIRFLOW_MLOPS_HISTORY_URI",
        "MLFLOW_TRACKING_URI",
        "AIRFLOW_MLOPS_EMBEDDED",
        "AIRFLOW__MLOPS__STORAGE_URL",
    )
    for name in names:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def state_pg(pg):
    """A PostgresServer naming a database of its own (created here) on the session's server."""
    import psycopg

    name = f"state_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return dataclasses.replace(pg, dbname=name)
