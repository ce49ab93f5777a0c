"""The validate task in a real Airflow run (`airflow dags test`): quarantine goes on, 30 % bad fails with no retry."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ..conftest import airflow_env, run_cli
from .conftest import RIDE_SPEC

# The factory's materialize task needs Feast; this DAG stands in a task that returns a dataset path.
DAG_FILE = '''"""Test DAG for airflow: a stand-in materialize task, then the real GX validate task."""

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from airflow_mlops.operators.validate import GXValidateOperator

with DAG(
    "gx_gate",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={{"retries": 2, "retry_delay": timedelta(seconds=1)}},
):

    @task(multiple_outputs=True)
    def materialize(dag_run=None):
        conf = dag_run.conf
        return {{"dataset": conf["dataset"], "digest": None, "rows": conf["rows"], "purpose": "train"}}

    GXValidateOperator(task_id="validate", purpose="train", spec_path={spec!r}, dataset=materialize()["dataset"])
'''


def _validate_rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "select ti.run_id, ti.state, ti.try_number, ti.max_tries, "
            "(select count(*) from task_instance_history h where h.task_id = ti.task_id and h.run_id = ti.run_id), "
            "(select value from xcom x where x.task_id = ti.task_id and x.run_id = ti.run_id "
            "and x.key = 'return_value') "
            "from task_instance ti where ti.task_id = 'validate' order by ti.start_date"
        ).fetchall()


@pytest.mark.slow
def test_validate_task_in_airflow_dags_test(tmp_path):
    from include.datagen import Defects, ride_demand

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "gx_gate.py").write_text(DAG_FILE.format(spec=str(RIDE_SPEC)))
    env = airflow_env(tmp_path / "home", dags)
    assert run_cli(["airflow", "db", "migrate"], env).returncode == 0
    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"

    runs = {}
    for name, fraction in (("bad", 0.3), ("some", 0.05)):
        features, labels = ride_demand(zones=5, days=3, defects=Defects(bad_hour_fraction=fraction))
        features = features.merge(labels, on=["zone_id", "event_timestamp"])  # a training set has its label
        features.to_parquet(tmp_path / f"{name}.parquet", index=False)
        conf = json.dumps({"dataset": str(tmp_path / f"{name}.parquet"), "rows": len(features)})
        runs[name] = run_cli(["airflow", "dags", "test", "gx_gate", "-c", conf], env)

    assert runs["bad"].returncode != 0
    assert "hour: 108 rows outside [0, 23], e.g. 77" in runs["bad"].stdout + runs["bad"].stderr
    assert runs["some"].returncode == 0, runs["some"].stdout[-3000:] + runs["some"].stderr[-3000:]

    bad, some = _validate_rows(db)
    # failed at once: first try, retries configured (max_tries 2) but none spent, no earlier tries in history
    assert bad[1:5] == ("failed", 1, 2, 0)
    assert some[1:3] == ("success", 1)
    result = json.loads(some[5])
    assert (result["rows_in"], result["rows_good"], result["rows_quarantined"]) == (360, 342, 18)
    assert Path(result["quarantine"]).is_file() and Path(result["report_html"]).is_file()


@pytest.mark.slow
def test_data_defects_in_airflow_dags_test(tmp_path):
    """Empty input fails at once, by name; duplicates, future rows, int nulls and null labels are quarantined."""
    import numpy as np
    import pandas as pd

    from include.datagen import ride_demand

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "gx_gate.py").write_text(DAG_FILE.format(spec=str(RIDE_SPEC)))
    env = airflow_env(tmp_path / "home", dags)
    assert run_cli(["airflow", "db", "migrate"], env).returncode == 0
    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"

    features, labels = ride_demand(zones=5, days=3)  # ends now: the run's time
    base = features.merge(labels, on=["zone_id", "event_timestamp"])
    defects = pd.concat(
        [
            base,
            base.iloc[:4],  # exact copies: dropped, counted
            base.iloc[100:103].assign(temperature=lambda d: d.temperature + 5),  # conflicting: 6 rows quarantined
            base.iloc[200:205].assign(event_timestamp=lambda d: d.event_timestamp + pd.Timedelta(days=365)),
        ],
        ignore_index=True,
    )
    defects["hour"] = defects["hour"].astype("float64")  # an int column with nulls, as Feast returns it
    defects.loc[[50, 51], "hour"] = np.nan
    defects.loc[60, "trips"] = np.nan
    frames = {"empty": base.iloc[:0], "defects": defects}
    runs = {}
    for name, frame in frames.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        conf = json.dumps({"dataset": str(tmp_path / f"{name}.parquet"), "rows": len(frame)})
        runs[name] = run_cli(["airflow", "dags", "test", "gx_gate", "-c", conf], env)

    empty_log = runs["empty"].stdout + runs["empty"].stderr
    assert runs["empty"].returncode != 0
    assert "table: 0 rows, at least 100 expected" in empty_log
    assert "NaTType" not in empty_log
    assert runs["defects"].returncode == 0, runs["defects"].stdout[-3000:] + runs["defects"].stderr[-3000:]

    empty, ok = _validate_rows(db)
    assert empty[1:5] == ("failed", 1, 2, 0)  # a data error: no retry spent
    result = json.loads(ok[5])
    assert (result["rows_in"], result["duplicates_dropped"], result["rows_quarantined"], result["rows_good"]) == (
        372,
        4,
        14,
        354,
    )
    good = pd.read_parquet(result["dataset"])
    assert str(good["hour"].dtype) == "Int64" and len(good) == 354
    assert not good.duplicated(["zone_id", "event_timestamp"]).any() and good["trips"].notna().all()
    reasons = pd.read_parquet(result["quarantine"])["quarantine_reason"]
    assert reasons.str.startswith("duplicate key").sum() == 6
    assert reasons.str.contains("in the future").sum() == 5
    assert (reasons == "hour is null").sum() == 2 and (reasons == "trips is null").sum() == 1
