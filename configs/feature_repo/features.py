"""Feast definitions of the example models: entities, sources, feature views and one service per model.

Where the source rows live is configuration, read from the environment when Feast loads this file:

- ``AIRFLOW_MLOPS_FEATURE_SOURCE``: ``file`` (default; parquet read by the DuckDB offline store) or
  ``postgres`` (tables ``zone_hourly`` and ``rider_activity``, read by Feast's PostgreSQL offline store;
  FeastHook sets this when the config's offline store is ``postgres``).
- ``AIRFLOW_MLOPS_FEATURE_DATA``: folder or URI of the parquet files for ``file`` sources, e.g.
  ``s3://bucket/features``; default ``${AIRFLOW_MLOPS_HOME}/data`` (written by ``include/datagen.py``).

The same feature views feed training (``purpose=train``) and batch scoring (``purpose=score``).
"""

from __future__ import annotations

import os
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64, String

SOURCE_KIND = os.environ.get("AIRFLOW_MLOPS_FEATURE_SOURCE", "file")
TIMESTAMP = "event_timestamp"
CREATED = "created"


def _data_root() -> str:
    root = os.path.expandvars(os.environ.get("AIRFLOW_MLOPS_FEATURE_DATA", "${AIRFLOW_MLOPS_HOME}/data"))
    if "$" in root:
        raise RuntimeError(f"feature data location {root!r}: set AIRFLOW_MLOPS_HOME or AIRFLOW_MLOPS_FEATURE_DATA")
    return root.rstrip("/")


def _source(name: str, timestamp: str = TIMESTAMP, created: str | None = CREATED):
    """A batch source named ``name``: parquet ``<data root>/<name>.parquet`` or PostgreSQL table ``name``.

    ``timestamp`` is the event-time column (any name; the spec's ``features.timestamp``). ``created`` is the
    optional ingestion-time column: when two rows share an entity and event time, Feast serves the one
    created last; with ``None`` the source needs no such column.
    """
    if SOURCE_KIND == "file":
        return FileSource(
            name=name,
            path=f"{_data_root()}/{name}.parquet",
            timestamp_field=timestamp,
            created_timestamp_column=created or "",
            s3_endpoint_override=os.environ.get("AWS_ENDPOINT_URL"),
        )
    if SOURCE_KIND == "postgres":
        from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource

        return PostgreSQLSource(
            name=name, query=f"SELECT * FROM {name}", timestamp_field=timestamp, created_timestamp_column=created or ""
        )
    raise ValueError(f"AIRFLOW_MLOPS_FEATURE_SOURCE={SOURCE_KIND!r}: expected 'file' or 'postgres'")


zone = Entity(name="zone", join_keys=["zone_id"], value_type=ValueType.INT64, description="A city zone.")
rider = Entity(name="rider", join_keys=["rider_id"], value_type=ValueType.INT64, description="A rider.")

zone_hourly_source = _source("zone_hourly")
rider_activity_source = _source("rider_activity")

zone_hourly = FeatureView(
    name="zone_hourly",
    entities=[zone],
    ttl=timedelta(days=1),
    schema=[
        Field(name="hour", dtype=Int64),
        Field(name="day_of_week", dtype=Int64),
        Field(name="temperature", dtype=Float64),
        Field(name="trips_lag_1h", dtype=Float64),
        Field(name="zone_type", dtype=String),
    ],
    source=zone_hourly_source,
    online=True,
    description="Hourly conditions per zone.",
    tags={"team": "marketplace"},
)

rider_activity = FeatureView(
    name="rider_activity",
    entities=[rider],
    ttl=timedelta(days=30),
    schema=[
        Field(name="tenure_days", dtype=Int64),
        Field(name="trips_last_30d", dtype=Int64),
        Field(name="avg_rating", dtype=Float64),
        Field(name="cancel_rate", dtype=Float64),
        Field(name="payment_type", dtype=String),
    ],
    source=rider_activity_source,
    online=True,
    description="Weekly activity snapshot per rider.",
    tags={"team": "growth"},
)

ride_demand = FeatureService(
    name="ride_demand",
    features=[zone_hourly[["hour", "day_of_week", "temperature", "trips_lag_1h", "zone_type"]]],
    description="Features of the ride_demand model (dags/ride_demand.yaml).",
)

rider_churn = FeatureService(
    name="rider_churn",
    features=[rider_activity[["tenure_days", "trips_last_30d", "avg_rating", "cancel_rate", "payment_type"]]],
    description="Features of the rider_churn model (dags/rider_churn.yaml).",
)
