"""Durable state on the distributed stack: in services by connection, never on a worker's disk."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from .dags import STATE_DAG, STATE_TASKS
from .plan import WORKERS

pytestmark = pytest.mark.distributed


def files_under(folder: str) -> list[str]:
    return sorted(str(p) for p in Path(folder).rglob("*") if p.is_file())


def test_ledger_written_by_both_workers_lands_in_postgres(cluster):
    run_id = cluster.trigger(STATE_DAG)
    cluster.wait_for_run(STATE_DAG, run_id, timeout=240)
    tis = cluster.task_instances(STATE_DAG, run_id)
    writers = sorted(ti["hostname"] for ti in tis if ti["task_id"] == "record")
    assert set(writers) == set(WORKERS), f"not both workers: {writers}"
    # a task (on either worker) reads every record, whoever wrote it: one state database, not two files
    assert cluster.xcom(STATE_DAG, run_id, "read") == writers
    conn = json.loads(cluster.processes["worker-1"].env["AIRFLOW_CONN_MLOPS_STATE"])
    dsn = f"postgresql://{conn['login']}:{conn['password']}@{conn['host']}:{conn['port']}/{conn['schema']}"
    with psycopg.connect(dsn) as db:
        rows = db.execute("SELECT detail FROM retrain_requests WHERE model = %s", (f"dist_{run_id}",)).fetchall()
    assert sorted(r[0] for r in rows) == writers
    assert len(rows) == STATE_TASKS
    for worker in WORKERS:
        home = cluster.processes[worker].env["AIRFLOW_MLOPS_HOME"]
        assert files_under(home) == [], f"{worker} wrote state to its own disk"
