"""FeastMaterializeOperator: run directly with a task context, and inside real `airflow dags test` runs."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from airflow_mlops.cli.demo import dag_run_state

from ..conftest import PROJECT, run_cli
from .conftest import END, SIZES


def _operator(model: str, purpose: str):
    from airflow_mlops.operators.features import FeastMaterializeOperator

    spec_path = str(PROJECT / "dags" / f"{model}.yaml")
    return FeastMaterializeOperator(task_id="materialize", purpose=purpose, spec_path=spec_path)


def _context(start=None, end=None) -> dict:
    return {"data_interval_start": start, "data_interval_end": end, "dag_run": None}


@pytest.mark.parametrize("model", ["ride_demand", "rider_churn"])
def test_train_dataset_is_content_addressed_and_repeatable(feast_home, specs, model):
    spec = specs[model]
    interval = _context(END - timedelta(days=1), END)
    first = _operator(model, "train").execute(interval)
    labels = pd.read_parquet(feast_home / "data" / spec.features.label_source)
    labels = labels[labels.event_timestamp < END].reset_index(drop=True)  # the rows before the interval's end
    f = spec.features
    assert first["purpose"] == "train" and first["rows"] == len(labels)
    assert first["dataset"] == str(feast_home / "datasets" / model / "train" / f"{first['digest']}.parquet")
    data = pd.read_parquet(first["dataset"])
    assert list(data.columns) == [f.entity, f.timestamp, *f.feature_names, f.label]
    assert len(data) == len(labels) and data[f.feature_names].notna().all().all()
    assert list(data[f.label]) == list(labels[f.label])
    again = _operator(model, "train").execute(interval)
    assert (again["digest"], again["dataset"], again["rows"]) == (first["digest"], first["dataset"], first["rows"])
    assert len(list((feast_home / "datasets" / model / "train").glob("*.parquet"))) == 1


def test_score_dataset_is_the_data_interval_without_label(feast_home, specs):
    f = specs["ride_demand"].features
    out = _operator("ride_demand", "score").execute(_context(END - timedelta(hours=3), END))
    data = pd.read_parquet(out["dataset"])
    assert out["purpose"] == "score" and f.label not in data.columns
    assert list(data.columns) == [f.entity, f.timestamp, *f.feature_names]
    assert out["rows"] == len(data) == SIZES["zones"] * 3  # [start, end): three hourly stamps per zone
    assert data[f.timestamp].min() == END - timedelta(hours=3) and data[f.timestamp].max() < END
    assert out["logical_date"] == (END - timedelta(hours=3)).isoformat()
    assert out["materialized"] == {}  # batch scoring reads features offline: the online store is not touched


def test_score_without_rows_in_the_interval_skips(feast_home):
    from airflow.sdk.exceptions import AirflowSkipException

    long_ago = END - timedelta(days=400)
    with pytest.raises(AirflowSkipException, match=r"no rows of ride_demand_labels.parquet stamped in \[2025-"):
        _operator("ride_demand", "score").execute(_context(long_ago, long_ago + timedelta(hours=1)))


def test_run_without_interval_schedule_scores_the_whole_source_up_to_the_run(feast_home):
    churn = _operator("rider_churn", "score").execute(_context())  # no interval, no DAG: every row up to now
    assert churn["rows"] == SIZES["riders"] * SIZES["snapshots"] and churn["interval"][0] is None


def test_train_reads_label_rows_before_the_interval_end(feast_home, specs):
    out = _operator("rider_churn", "train").execute(_context(END - timedelta(days=7), END))
    data = pd.read_parquet(out["dataset"])
    assert out["rows"] == SIZES["riders"] * (SIZES["snapshots"] - 1)  # the snapshot at END is not before END
    assert data.event_timestamp.max() == END - timedelta(days=7) and out["materialized"] == {}


def test_purpose_is_checked():
    with pytest.raises(ValueError, match="purpose"):
        _operator("ride_demand", "predict")


PATTERN = "(?!materialize$|trigger_requests$|trigger_actions$).*"


@pytest.mark.slow
@pytest.mark.parametrize("model, kind", [("ride_demand", "train"), ("rider_churn", "score")])
def test_dag_materializes_in_airflow_dags_test(demo_home, model, kind):
    """The real task runner runs materialize; the later stages (other issues) are marked successful."""
    from airflow_mlops.cli.demo import score_date

    home, env = demo_home
    dates = [score_date(PROJECT, home, model)] if kind == "score" else []  # the newest complete interval with rows
    started = time.monotonic()
    out = run_cli(
        # trigger_requests runs (a missing upstream result is no request) so the mapped trigger_actions can expand
        ["airflow", "dags", "test", f"{model}__{kind}", *dates, "--mark-success-pattern", PATTERN],
        env=env,
    )
    log = out.stdout + out.stderr
    assert out.returncode == 0 and dag_run_state(log) == "success", log[-3000:]
    match = re.search(r"dataset (\S+\.parquet): (\d+) rows, sha256 (\w+)", log)
    assert match, log[-3000:]
    path, rows, digest = Path(match[1]), int(match[2]), match[3]
    assert path.parent == home / "datasets" / model / kind and path.name == f"{digest}.parquet"
    data = pd.read_parquet(path)
    assert len(data) == rows
    labels = pd.read_parquet(home / "data" / f"{model}_labels.parquet")
    if kind == "train":  # label rows before the end of the last complete @weekly interval (Airflow's inference)
        end = _last_complete_interval_end("0 0 * * 0")
        assert rows == (labels.event_timestamp < end).sum() and data.event_timestamp.max() < end
    else:  # the interval the demo picks: one weekly snapshot of every rider
        assert "churned" not in data.columns and rows == labels.rider_id.nunique()
        assert data.event_timestamp.nunique() == 1
        assert data.event_timestamp.max() + timedelta(days=1) == pd.Timestamp(dates[0])
    print(f"{model}__{kind}: airflow dags test {time.monotonic() - started:.1f}s")


def _last_complete_interval_end(cron: str) -> pd.Timestamp:
    import pendulum
    from airflow.timetables.interval import CronDataIntervalTimetable

    interval = CronDataIntervalTimetable(cron, pendulum.UTC).infer_manual_data_interval(run_after=pendulum.now("UTC"))
    return pd.Timestamp(interval.end.isoformat())
