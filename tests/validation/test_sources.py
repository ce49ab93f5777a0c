"""Defects of the upstream sources, caught by the materialize task with real Feast before Feast reads them:
a renamed column is named with what arrived instead (no offline-store traceback, no retry), and future label
rows are never picked as the "newest day" to score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException

from ..conftest import PROJECT

END = datetime(2026, 3, 1, tzinfo=UTC)
SIZES = {"zones": 4, "days": 5, "riders": 50, "snapshots": 2}


@pytest.fixture
def home(tmp_path, monkeypatch):
    from include.datagen import write_example_data

    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_MLOPS_PROJECT", str(PROJECT))
    write_example_data(tmp_path / "data", end=END, **SIZES)
    return tmp_path


def _materialize(purpose: str, start=None, end=None) -> dict:
    from airflow_mlops.operators.features import FeastMaterializeOperator

    op = FeastMaterializeOperator(
        task_id="materialize", purpose=purpose, spec_path=str(PROJECT / "dags" / "ride_demand.yaml")
    )
    return op.execute({"data_interval_start": start, "data_interval_end": end, "dag_run": None})


def _rename(path, old: str, new: str) -> None:
    pd.read_parquet(path).rename(columns={old: new}).to_parquet(path, index=False)


def test_renamed_feature_column_is_named_before_feast_runs(home):
    _rename(home / "data" / "zone_hourly.parquet", "temperature", "temp_c")
    with pytest.raises(AirflowFailException) as failure:
        _materialize("train", END - timedelta(days=1), END)
    message = str(failure.value)
    assert message.startswith(
        "data error: feature view 'zone_hourly' source 'zone_hourly': column 'temperature' missing"
    )
    assert "arrived: zone_id, event_timestamp, hour, day_of_week, temp_c," in message
    assert message.endswith("; new: 'temp_c'")


def test_renamed_label_column_is_named(home):
    _rename(home / "data" / "ride_demand_labels.parquet", "trips", "n_trips")
    with pytest.raises(
        AirflowFailException, match=r"column 'trips' missing; arrived: zone_id, event_timestamp, n_trips"
    ):
        _materialize("train", END - timedelta(days=1), END)


def test_future_rows_are_never_scored_even_inside_the_window(home):
    labels_path = home / "data" / "ride_demand_labels.parquet"
    labels = pd.read_parquet(labels_path)
    future = labels.tail(9).assign(event_timestamp=lambda d: d.event_timestamp + pd.Timedelta(days=365 * 3))
    pd.concat([labels, future], ignore_index=True).to_parquet(labels_path, index=False)
    out = _materialize("score", END - timedelta(days=1), END + timedelta(days=365 * 3 + 1))  # holds the 9 rows
    data = pd.read_parquet(out["dataset"])
    assert out["rows"] == SIZES["zones"] * 25  # the real rows of [END - 1 day, END], not the 9 future rows
    assert data.event_timestamp.max() == END
