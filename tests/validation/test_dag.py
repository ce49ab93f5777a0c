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

    @task
    def materialize(dag_run=None):
        conf = dag_run.conf
        return {{"dataset": conf["dataset"], "digest": None, "rows": conf["rows"], "purpose": "train"}}

    materialize() >> GXValidateOperator(task_id="validate", purpose="train", spec_path={spec!r})
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
        features, _ = ride_demand(zones=5, days=3, defects=Defects(bad_hour_fraction=fraction))
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
