"""Issue 17 (a) through real Airflow: a factory score DAG (``@hourly``, a ``CronDataIntervalTimetable``) run over
consecutive intervals and over a past range scores every input row exactly once, under the start of its interval;
a re-run of an interval changes no score; an interval without rows skips and writes nothing.

Each interval is one ``airflow dags test <dag> <interval end>`` (Airflow gives a manual run the last complete
interval before its logical date, as a backfill run gets its own interval). ``airflow backfill create`` needs a
running scheduler and api-server (≈ 70 s to start here, on top of the runs); the past range is therefore run
interval by interval, which is what a backfill's runs are: one run per interval, each with that interval.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.cli.demo import dag_run_state
from tests.conftest import PROJECT, airflow_env, run_cli
from tests.scoring.test_operator import _register

pytestmark = pytest.mark.timeout(1500)
MODEL, DAG_ID = "tiny", "tiny__score"
END = datetime(2026, 3, 1, tzinfo=UTC)  # the example data's newest hour
HOUR = timedelta(hours=1)
CONSECUTIVE = [END - 4 * HOUR, END - 3 * HOUR, END - 2 * HOUR]  # interval starts
PAST_RANGE = [END - 30 * HOUR, END - 29 * HOUR]  # run after the consecutive ones, as a backfill would be
SPEC = f"""
model: {{name: {MODEL}, team: t, task: regression}}
schedule: {{train: null, score: "@hourly", monitor: null}}
features:
  entity: zone_id
  refs: [zone_hourly:hour, zone_hourly:temperature]
  label: trips
  label_source: ride_demand_labels.parquet
training: {{estimator: sklearn.linear_model.Ridge}}
monitoring: {{retrain_on: [manual]}}
scoring:
  destination: {{conn_id: scores_lite, table: tiny_scores}}
  chunk_rows: 250
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """Airflow and MLOps homes, example data ending at END (4 zones, hourly), a champion, the spec's DAGs."""
    from sklearn.linear_model import LinearRegression

    from airflow_mlops.factory import write_stubs
    from include.datagen import write_example_data

    root = tmp_path_factory.mktemp("intervals")
    dags = root / "dags"
    dags.mkdir()
    env = airflow_env(root / "home", dags)
    env["AIRFLOW_CONN_SCORES_LITE"] = json.dumps({"conn_type": "sqlite", "host": str(root / "scores.db")})
    mp = pytest.MonkeyPatch()
    for key in ("AIRFLOW_MLOPS_HOME", "AIRFLOW_CONN_SCORES_LITE"):
        mp.setenv(key, env[key])
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    written = write_example_data(root / "home" / "data", end=END, zones=4, days=2)
    labels = pd.read_parquet(written["ride_demand_labels"])
    features = pd.read_parquet(written["ride_demand_features"])
    _register(MODEL, {"champion": LinearRegression()}, features, 2 * features["hour"].to_numpy() + 1.0)
    (dags / f"{MODEL}.yaml").write_text(SPEC)
    write_stubs(dags)
    subprocess.run([str(PROJECT / ".venv/bin/airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    yield {"env": env, "root": root, "labels": labels}
    mp.undo()


def _run(home: dict, start: datetime, label: str) -> tuple[str | None, str]:
    """``airflow dags test`` of the interval starting at ``start`` (its end is the run's logical date)."""
    out = run_cli(["airflow", "dags", "test", DAG_ID, (start + HOUR).isoformat()], env=home["env"], timeout=900)
    log = out.stdout + out.stderr
    (home["root"] / f"{label}.log").write_text(log)
    return dag_run_state(log), log


def _scores() -> pd.DataFrame:
    from airflow_mlops.hooks.scores_db import ScoresDbHook

    db = ScoresDbHook("scores_lite")
    rows = db.query("SELECT zone_id, event_timestamp, logical_date, prediction FROM {t} WHERE role = 'champion'",
                    t="tiny_scores")  # fmt: skip
    frame = pd.DataFrame(rows, columns=["zone_id", "event_timestamp", "logical_date", "prediction"])
    for column in ("event_timestamp", "logical_date"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


@pytest.mark.slow
def test_consecutive_intervals_and_a_past_range_score_each_row_once_under_its_interval(home):
    labels = home["labels"]
    for start in CONSECUTIVE + PAST_RANGE:
        state, log = _run(home, start, f"run-{start:%d%H}")
        assert state == "success", log[-4000:]
        assert f"score window of {MODEL}: [{start.isoformat()}, {(start + HOUR).isoformat()}) (data interval)" in log
    scores = _scores()
    starts = CONSECUTIVE + PAST_RANGE
    expected = labels[labels.event_timestamp.isin(starts)]  # hourly stamps: the rows on each interval's start
    assert len(expected) == 4 * len(starts)
    # every input row of the intervals run is scored exactly once ...
    key = ["zone_id", "event_timestamp"]
    assert not scores.duplicated(key).any(), scores[scores.duplicated(key, keep=False)]
    assert sorted(map(tuple, scores[key].astype(str).values)) == sorted(map(tuple, expected[key].astype(str).values))
    # ... under the logical date of its interval (its start), and rows on an interval's end are the next one's
    assert (scores.logical_date == scores.event_timestamp).all()
    assert sorted(scores.logical_date.unique()) == sorted(pd.Timestamp(s) for s in starts)
    assert np.allclose(scores.prediction, 2 * scores.event_timestamp.dt.hour + 1.0)  # the champion, on Feast's hour

    # a re-run of one interval (a retry, a clear, a manual run of it) changes no score
    before = scores.sort_values(key).reset_index(drop=True)
    state, log = _run(home, CONSECUTIVE[1], "rerun")
    assert state == "success", log[-4000:]
    after = _scores().sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)


@pytest.mark.slow
def test_interval_without_rows_skips_and_writes_nothing(home):
    before = _scores()
    start = END - 20 * 24 * HOUR  # long before the example data
    state, log = _run(home, start, "empty")
    assert state == "success", log[-4000:]  # a skip, not a failure: the DAG run succeeds
    assert "no rows of ride_demand_labels.parquet stamped in" in log and "nothing to score" in log
    assert "AirflowSkipException" in log or "skipped" in log.lower()
    pd.testing.assert_frame_equal(before, _scores())


def test_future_rows_are_never_scored(home, monkeypatch):
    """Rows stamped after the run time + max_clock_skew are left out even when their interval is run."""
    from airflow.sdk.exceptions import AirflowSkipException

    from airflow_mlops.operators.features import FeastMaterializeOperator

    monkeypatch.setenv("AIRFLOW_MLOPS_PROJECT", str(PROJECT))
    data = home["root"] / "home" / "data" / "future_labels.parquet"
    soon = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + 3 * HOUR  # skew is 1h
    pd.DataFrame({"zone_id": [1, 2], "event_timestamp": [soon, soon], "trips": [1.0, 2.0]}).to_parquet(data)
    spec = home["root"] / "dags" / "future.yaml"
    spec.write_text(SPEC.replace("name: tiny", "name: future").replace("ride_demand_labels", "future_labels"))
    op = FeastMaterializeOperator(task_id="materialize", purpose="score", spec_path=str(spec))
    with pytest.raises(AirflowSkipException, match="nothing to score"):
        op.execute({"data_interval_start": soon, "data_interval_end": soon + HOUR, "dag_run": None})


class _Dag:
    def __init__(self, schedule):
        from airflow_mlops.factory.timetables import interval_schedule

        self.timetable = interval_schedule(schedule)


def test_window_rules():
    """The data interval; else Airflow's inference for the schedule at the run's time; else the whole source."""
    from airflow_mlops.features.window import run_window, training_end

    at = datetime(2026, 3, 1, 5, 17, tzinfo=UTC)
    interval = {"data_interval_start": END, "data_interval_end": END + HOUR, "logical_date": END}
    window = run_window(interval)
    assert (window.start, window.end, window.logical_date) == (END, END + HOUR, END)
    # REST trigger with "logical_date": null: no data interval, the schedule's last complete interval before the run
    manual = {"data_interval_start": None, "data_interval_end": None, "logical_date": None, "dag": _Dag("@hourly")}
    manual["dag_run"] = type("Run", (), {"run_after": at})()
    window = run_window(manual)
    assert (window.start, window.end, window.logical_date) == (
        at.replace(minute=0) - HOUR,
        at.replace(minute=0),
        at.replace(minute=0) - HOUR,
    )
    daily = run_window({**manual, "dag": _Dag("@daily")})
    assert (daily.start, daily.end) == (END - 24 * HOUR, END)
    # no interval schedule (schedule: null, a point interval): every row up to the run, under its logical date
    point = {"data_interval_start": at, "data_interval_end": at, "logical_date": at, "dag": _Dag(None)}
    window = run_window(point)
    assert (window.start, window.end, window.logical_date) == (None, at, at)
    assert training_end(interval) == END + HOUR and training_end(point) == at


def test_newest_complete_interval_holding_rows():
    from airflow_mlops.features.window import newest_complete_interval

    now = datetime(2026, 3, 1, 20, 17, tzinfo=UTC)
    hourly_rows = [now.replace(minute=0) - k * HOUR for k in range(48)]
    assert newest_complete_interval("@daily", hourly_rows, now) == (END - 24 * HOUR, END)  # not today, still open
    assert newest_complete_interval("*/30 * * * *", hourly_rows, now) == (END + 19 * HOUR, END + 19.5 * HOUR)
    weekly = [END - 7 * k * 24 * HOUR for k in range(4)]  # snapshots at midnight: today's starts an open interval
    assert newest_complete_interval("@daily", weekly, now) == (END - 7 * 24 * HOUR, END - 6 * 24 * HOUR)
    assert newest_complete_interval("@daily", [], now) is None
    assert newest_complete_interval("@daily", [now + HOUR], now) is None  # future rows never count
