"""The main job: `airflow-mlops demo` runs every example pipeline end to end with `airflow dags test`."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing

import pytest

from airflow_mlops.cli.demo import dag_run_state

from .conftest import run_cli


def test_dag_run_state_reads_the_final_state():
    out = "x DagRun Finished: dag_id=a, state=running, y\nDagRun Finished: dag_id=a, run_id=r, state=failed, z"
    assert dag_run_state(out) == "failed"
    assert dag_run_state("no run here") is None


@pytest.mark.slow
def test_demo_runs_every_example_pipeline(tmp_path):
    home = tmp_path / "demo"
    out = run_cli(["airflow-mlops", "demo", "--home", str(home)], timeout=1800)
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-3000:]
    for model in ("ride_demand", "rider_churn"):
        for kind in ("train", "score", "monitor"):
            assert f"ok   {model}__{kind}" in out.stdout
    assert (home / "airflow" / "airflow.db").exists()
    assert (home / "data" / "zone_hourly.parquet").exists()
    # every scoring DAG wrote its predictions, each row naming the model version that made it
    with closing(sqlite3.connect(home / "scores.db")) as db:
        for model in ("ride_demand", "rider_churn"):
            table = f'"{model}_scores"'
            rows, versions = db.execute(f"SELECT COUNT(*), COUNT(DISTINCT model_version) FROM {table}").fetchone()
            assert rows > 0 and versions >= 1
            assert db.execute(f"SELECT COUNT(*) FROM {table} WHERE model_version IS NULL").fetchone() == (0,)
    # phase 2: drifted data is caught by monitoring and starts a retrain; drift is among the reasons due
    # (the drifted world also breaks the live MAE rule, and metric_drop ranks first when both hold)
    assert "ok   ride_demand__monitor" in out.stdout and "(drifted data)" in out.stdout
    requested = re.search(r"retrain requested: (\w+) \(due: ([\w, ]+)\)", out.stdout)
    assert requested, out.stdout
    assert requested.group(1) in ("drift", "metric_drop") and "drift" in requested.group(2).split(", ")
    assert "ok   ride_demand__train" in out.stdout.split("phase 2")[1]
    assert list((home / "reports" / "ride_demand" / "monitoring").glob("*/report.html"))
