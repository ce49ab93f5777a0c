"""Durable state on the distributed stack: in services by connection, never on a worker's disk."""

from __future__ import annotations

import psycopg
import pytest

from .cluster import files_under
from .dags import MLFLOW_DAG, MLFLOW_TASKS, STATE_DAG, STATE_TASKS
from .plan import WORKERS

pytestmark = pytest.mark.distributed


def test_ledger_written_by_both_workers_lands_in_postgres(cluster):
    run_id = cluster.trigger(STATE_DAG)
    cluster.wait_for_run(STATE_DAG, run_id, timeout=240)
    tis = cluster.task_instances(STATE_DAG, run_id)
    writers = sorted(ti["hostname"] for ti in tis if ti["task_id"] == "record")
    assert set(writers) == set(WORKERS), f"not both workers: {writers}"
    # a task (on either worker) reads every record, whoever wrote it: one state database, not two files
    assert cluster.xcom(STATE_DAG, run_id, "read") == writers
    dsn = cluster.dsn("mlops_state")
    with psycopg.connect(dsn) as db:
        rows = db.execute("SELECT detail FROM retrain_requests WHERE model = %s", (f"dist_{run_id}",)).fetchall()
    assert sorted(r[0] for r in rows) == writers
    assert len(rows) == STATE_TASKS
    for worker in WORKERS:
        home = cluster.processes[worker].env["AIRFLOW_MLOPS_HOME"]
        assert files_under(home) == [], f"{worker} wrote state to its own disk"


def test_mlflow_runs_from_both_workers_land_in_s3(cluster):
    """Runs logged by tasks on either worker go through `mlflow server` (PostgreSQL store) to S3, not to disk."""
    import boto3

    run_id = cluster.trigger(MLFLOW_DAG)
    cluster.wait_for_run(MLFLOW_DAG, run_id, timeout=240)
    tis = [ti for ti in cluster.task_instances(MLFLOW_DAG, run_id) if ti["task_id"] == "log"]
    writers = {ti["map_index"]: ti["hostname"] for ti in tis}
    assert set(writers.values()) == set(WORKERS), f"not both workers: {writers}"
    experiment_id = cluster.xcom(MLFLOW_DAG, run_id, "experiment")
    env = cluster.processes["mlflow"].env
    s3 = boto3.client(
        "s3",
        endpoint_url=cluster.s3_endpoint,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    found = {}
    for i in writers:
        mlflow_run = cluster.xcom(MLFLOW_DAG, run_id, "log", i)
        key = f"{experiment_id}/{mlflow_run}/artifacts/where.txt"
        found[i] = s3.get_object(Bucket="mlflow", Key=key)["Body"].read().decode()
    assert found == writers
    assert len(found) == MLFLOW_TASKS
    for worker in WORKERS:
        home = cluster.processes[worker].env["AIRFLOW_MLOPS_HOME"]
        assert files_under(home) == [], f"{worker} wrote MLflow state to its own disk"
