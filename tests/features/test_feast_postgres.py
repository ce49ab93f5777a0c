"""The same repo with its sources in PostgreSQL: selected by the config file alone, same training set."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from .conftest import END, REPO

pytest.importorskip("psycopg_pool", reason="Feast's PostgreSQL store needs feast[postgres] (psycopg-pool)")


def test_postgres_sources_give_the_same_training_set(pg, feast_home, hook, specs, tmp_path, monkeypatch):
    from sqlalchemy import create_engine

    from airflow_mlops.hooks.feast import FeastHook

    engine = create_engine(pg.dsn.replace("postgresql://", "postgresql+psycopg://"))
    for table in ("zone_hourly", "rider_activity"):
        pd.read_parquet(feast_home / "data" / f"{table}.parquet").to_sql(
            table, engine, if_exists="replace", index=False
        )
    engine.dispose()
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(tmp_path))  # its own registry and online store
    for name, value in {"HOST": pg.host, "PORT": pg.port, "DATABASE": pg.dbname, "USER": pg.user}.items():
        monkeypatch.setenv(f"FEAST_PG_{name}", str(value))
    monkeypatch.setenv("FEAST_PG_PASSWORD", pg.password)
    monkeypatch.delenv("AIRFLOW_MLOPS_FEATURE_SOURCE", raising=False)

    pg_hook = FeastHook(REPO, fs_yaml_file="feature_store.postgres.yaml")
    assert pg_hook.apply() is True
    source = pg_hook.store.get_feature_view("zone_hourly").batch_source
    assert (
        type(source).__name__ == "PostgreSQLSource" and source.get_table_query_string() == "(SELECT * FROM zone_hourly)"
    )
    ttl = pg_hook.store.get_feature_view("zone_hourly").ttl
    assert pg_hook.materialize(END, ["zone_hourly"]) == {"zone_hourly": [(END - ttl).isoformat(), END.isoformat()]}

    spec = specs["ride_demand"]
    labels = pd.read_parquet(feast_home / "data" / spec.features.label_source)
    entity_df = pd.concat([labels.tail(30), labels.tail(30)], ignore_index=True)
    entity_df["event_timestamp"] = entity_df["event_timestamp"] + timedelta(minutes=20)
    from_pg = pg_hook.training_set(entity_df, spec)
    from_duckdb = hook.training_set(entity_df, spec)
    assert len(from_pg) == len(entity_df) == 60
    pd.testing.assert_frame_equal(_utc(from_pg[from_duckdb.columns]), _utc(from_duckdb), check_dtype=False)


def _utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as UTC nanoseconds: PostgreSQL and DuckDB return the same instants with different units/zones."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = pd.to_datetime(out[column], utc=True).astype("datetime64[ns, UTC]")
    return out
