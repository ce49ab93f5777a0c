"""Fixtures for the scoring tests: scores connections to the session's PostgreSQL server and to SQLite."""

from __future__ import annotations

import json
import uuid

import pytest


@pytest.fixture
def pg_conn_id(pg, monkeypatch) -> str:
    """An Airflow connection (by environment variable) to the test PostgreSQL server."""
    monkeypatch.setenv("AIRFLOW_CONN_SCORES_PG", pg.airflow_conn_json)
    return "scores_pg"


@pytest.fixture
def sqlite_conn_id(tmp_path, monkeypatch) -> str:
    """An Airflow connection (by environment variable) to a fresh SQLite scores file."""
    monkeypatch.setenv("AIRFLOW_CONN_SCORES_LITE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "s.db")}))
    return "scores_lite"


@pytest.fixture(params=["sqlite", "postgres"])
def conn_id(request) -> str:
    """Each test using this runs once against SQLite and once against PostgreSQL."""
    return request.getfixturevalue("sqlite_conn_id" if request.param == "sqlite" else "pg_conn_id")


@pytest.fixture
def table_name() -> str:
    """A table name unique to the test (the PostgreSQL server is shared by the session)."""
    return f"scores_{uuid.uuid4().hex[:12]}"
