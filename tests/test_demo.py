"""The main job: `airflow-mlops demo` runs every example pipeline end to end with `airflow dags test`."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest

from airflow_mlops.cli.demo import dag_run_state

from .conftest import PROJECT, run_cli
from .test_quiet_logs import assert_quiet
from .ui_stack import running_ui


def test_dag_run_state_reads_the_final_state():
    out = "x DagRun Finished: dag_id=a, state=running, y\nDagRun Finished: dag_id=a, run_id=r, state=failed, z"
    assert dag_run_state(out) == "failed"
    assert dag_run_state("no run here") is None


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One full demo run, shared by the demo's own test and the UI test on the state it leaves."""
    home = tmp_path_factory.mktemp("demo") / "demo"
    return home, run_cli(["airflow-mlops", "demo", "--home", str(home)], timeout=1800)


@pytest.mark.slow
def test_demo_runs_every_example_pipeline(demo):
    home, out = demo
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


@pytest.mark.slow
def test_demo_task_logs_are_quiet(demo):
    """No line more than 10 times in a task's log, each task's log under 200 lines (tests/test_quiet_logs.py)."""
    assert_quiet(demo[0] / "logs")


@pytest.mark.slow
def test_ui_shows_exactly_the_demo_state_and_runs_a_trigger(demo):
    """`airflow-mlops ui` (what `./dev ui` runs) on the demo's home, the caller's environment pointing elsewhere."""
    home, out = demo
    assert "./dev ui --home" in out.stdout and "airflow standalone" not in out.stdout  # the demo says how
    elsewhere = {"AIRFLOW_HOME": str(home / "elsewhere"), "AIRFLOW_MLOPS_HOME": str(home / "elsewhere")}
    elsewhere["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'elsewhere.db'}"
    with running_ui(home, elsewhere) as ui:
        specs = {p.stem for p in (PROJECT / "dags").glob("*.yaml")}
        deadline = time.monotonic() + 180
        while True:  # the DAG processor serializes the dags folder once after start
            resp = ui.client.get("/api/v2/dags", params={"limit": 500})
            assert resp.status_code == 200, resp.text
            dags = {d["dag_id"]: d for d in resp.json()["dags"]}
            if {f"{m}__{k}" for m in specs for k in ("train", "score", "monitor")} <= set(dags):
                break
            assert time.monotonic() < deadline, sorted(dags)
            time.sleep(3)
        assert all(dag_id.split("__")[0] in specs for dag_id in dags), sorted(dags)  # no Airflow example DAGs
        assert not [d for d in dags.values() if "example" in {t["name"] for t in d.get("tags") or []}]
        # every run the demo reported ok (through `airflow dags test`) is in this Airflow, successful
        ok = set(re.findall(r"^  ok   (\S+)", out.stdout, flags=re.MULTILINE))
        assert {"ride_demand__train", "ride_demand__score"} <= ok, out.stdout
        for dag_id in ok:
            runs = ui.client.get(f"/api/v2/dags/{dag_id}/dagRuns").json()
            assert "success" in {r["state"] for r in runs["dag_runs"]}, (dag_id, runs)
        # a triggered run executes in this Airflow's own processes: the champion comes from the demo's MLflow
        # and the scores land in the demo's scores.db, though the caller's environment pointed elsewhere
        dag_id = "ride_demand__score"
        assert ui.client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).status_code == 200
        run = ui.client.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": {}})
        assert run.status_code == 200, run.text
        run_id, state = run.json()["dag_run_id"], None
        deadline = time.monotonic() + 400
        while state not in ("success", "failed") and time.monotonic() < deadline:
            time.sleep(3)
            state = ui.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
        assert state == "success", f"{state}\n{(home / 'logs' / 'ui.log').read_text(errors='replace')[-4000:]}"
        with closing(sqlite3.connect(home / "scores.db")) as db:
            query = 'SELECT COUNT(*) FROM "ride_demand_scores" WHERE dag_run_id = ?'
            assert db.execute(query, (run_id,)).fetchone()[0] > 0
        # (the ui command's own Airflow import may create the caller's AIRFLOW_HOME/logs; no state goes there)
        assert not list((home / "elsewhere").rglob("*.db")) and not (home / "elsewhere.db").exists()
        # SIGTERM (or Ctrl-C) stops Airflow and everything it started
        assert ui.stop() == 0
        assert "stopping Airflow" in ui.out.read_text()
        deadline = time.monotonic() + 20  # SIGKILLed stragglers take a moment to be reaped
        while time.monotonic() < deadline:
            try:
                os.killpg(ui.group, 0)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"processes of group {ui.group} outlived the ui")
