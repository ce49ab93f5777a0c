"""The stack itself: a fan-out DAG over the REST API runs on both Celery workers, each in its own home."""

from __future__ import annotations

import time

import pytest

from .dags import FANOUT_DAG, FANOUT_TASKS
from .plan import WORKERS

pytestmark = pytest.mark.distributed


def test_fanout_runs_on_both_workers(cluster):
    began = time.monotonic()
    run_id = cluster.trigger(FANOUT_DAG)
    cluster.wait_for_run(FANOUT_DAG, run_id, timeout=240)
    wall = time.monotonic() - began
    tis = [ti for ti in cluster.task_instances(FANOUT_DAG, run_id) if ti["task_id"] == "where"]
    assert sorted(ti["map_index"] for ti in tis) == list(range(FANOUT_TASKS))
    assert {ti["state"] for ti in tis} == {"success"}
    ran_on = {ti["map_index"]: ti["hostname"] for ti in tis}
    assert set(ran_on.values()) == set(WORKERS), f"not both workers: {ran_on}"
    for ti in tis:
        seen = cluster.xcom(FANOUT_DAG, run_id, "where", ti["map_index"])
        worker = cluster.processes[ti["hostname"]]
        assert seen["MLOPS_HOSTNAME"] == ti["hostname"]
        for key in ("HOME", "AIRFLOW_MLOPS_HOME", "TMPDIR"):
            assert seen[key] == worker.env[key], (key, seen, ti["hostname"])
    homes = {cluster.processes[w].env["AIRFLOW_MLOPS_HOME"] for w in WORKERS}
    assert len(homes) == 2
    print(f"\nfan-out of {FANOUT_TASKS} tasks: {wall:.1f} s; ran on {sorted(ran_on.items())}")
