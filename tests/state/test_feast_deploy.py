"""docs/deploy.md's deployment feature_store.yaml, run for real: registry (SQL) and online store in PostgreSQL,
sources as PostgreSQL tables, the applied digest in the state database. Apply, materialize and online reads
leave the worker's MLOps home empty; a second worker (another home) sees the digest and skips the apply."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime

import pandas as pd
import pytest
import yaml

from tests.conftest import PROJECT

pytest.importorskip("psycopg_pool", reason="Feast's PostgreSQL stores need psycopg-pool")
pytestmark = pytest.mark.slow
END = datetime(2026, 3, 1, tzinfo=UTC)
REPO = PROJECT / "configs" / "feature_repo"


def documented_config() -> str:
    """The YAML block of the section "Feast in a deployment" in docs/deploy.md."""
    text = (PROJECT / "docs" / "deploy.md").read_text()
    section = text[text.index("### Feast in a deployment") :]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


def test_documented_deployment_config_keeps_feast_state_in_postgres(state_pg, tmp_path, monkeypatch):
    import psycopg
    from sqlalchemy import create_engine

    from airflow_mlops.hooks.feast import FeastHook
    from include.datagen import write_example_data

    data = tmp_path / "input"  # the sources, loaded into PostgreSQL as tables
    write_example_data(data, end=END, zones=4, days=3, riders=50, snapshots=2)
    engine = create_engine(state_pg.dsn.replace("postgresql://", "postgresql+psycopg://"))
    for table in ("zone_hourly", "rider_activity"):
        pd.read_parquet(data / f"{table}.parquet").to_sql(table, engine, if_exists="replace", index=False)
    engine.dispose()
    home = tmp_path / "worker-home"
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(home))
    monkeypatch.setenv("AIRFLOW_CONN_MLOPS_STATE", state_pg.airflow_conn_json)
    monkeypatch.delenv("AIRFLOW_MLOPS_FEATURE_SOURCE", raising=False)
    values = {"HOST": state_pg.host, "PORT": state_pg.port, "DATABASE": state_pg.dbname, "USER": state_pg.user}
    for name, value in values.items():
        monkeypatch.setenv(f"FEAST_PG_{name}", str(value))
    monkeypatch.setenv("FEAST_PG_PASSWORD", state_pg.password)
    monkeypatch.setenv("FEAST_PG_SSLMODE", "disable")  # the test server has no TLS
    assert yaml.safe_load(documented_config()) == yaml.safe_load((REPO / "feature_store.deploy.yaml").read_text())
    repo = tmp_path / "feature_repo"  # the demo's definitions and the committed deployment config
    shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns("__pycache__"))

    hook = FeastHook(repo, fs_yaml_file="feature_store.deploy.yaml")
    assert hook.digest_file() is None
    assert hook.apply() is True
    assert type(hook.store.registry).__name__ == "SqlRegistry"
    assert hook.apply() is False  # the digest recorded in the state database
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(tmp_path / "other-worker-home"))
    assert FeastHook(repo, fs_yaml_file="feature_store.deploy.yaml").apply() is False  # another worker skips too
    with psycopg.connect(state_pg.dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM feature_views; DELETE FROM feature_view_version_history")  # views lost: re-apply
    assert FeastHook(repo, fs_yaml_file="feature_store.deploy.yaml").apply() is True
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(home))
    assert hook.materialize(END, ["zone_hourly"])
    online = hook.store.get_online_features(
        features=["zone_hourly:temperature", "zone_hourly:zone_type"], entity_rows=[{"zone_id": z} for z in (1, 2)]
    ).to_dict()
    assert online["zone_id"] == [1, 2] and None not in online["temperature"] and None not in online["zone_type"]

    with psycopg.connect(state_pg.dsn) as conn:
        tables = {
            f"{schema}.{name}"
            for schema, name in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema <> 'pg_catalog'"
            )
        }
    assert "public.feature_views" in tables and "public.feast_metadata" in tables  # the SQL registry
    assert "public.feast_applies" in tables  # the applied digest (state DB; here the same database)
    assert any(t.startswith("feast_online.") and "zone_hourly" in t for t in tables), tables  # the online store
    for worker_home in (home, tmp_path / "other-worker-home"):
        left = [str(p) for p in worker_home.rglob("*") if p.is_file()] if worker_home.exists() else []
        assert left == [], left
