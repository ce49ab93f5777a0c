"""Faults on the distributed stack: a worker dies mid-task, the scheduler dies mid-run."""

from __future__ import annotations

import signal
import time

import pytest

from .dags import SCHEDULER_KILL_DAG, WORKER_KILL_DAG

pytestmark = pytest.mark.distributed


def test_sigkilled_worker_task_retried_on_the_other(cluster):
    run_id = cluster.trigger(WORKER_KILL_DAG)
    first = cluster.wait_for_task(WORKER_KILL_DAG, run_id, "slow", "running")
    victim = first["hostname"]
    survivor, recovered, tries = cluster.kill_worker_and_recover(victim, WORKER_KILL_DAG, run_id, "slow")
    assert cluster.xcom(WORKER_KILL_DAG, run_id, "slow") == survivor
    print(f"\nworker {victim} killed mid-task: run done on {survivor} {recovered:.1f} s later ({len(tries)} tries)")


def test_scheduler_killed_and_restarted_mid_run(cluster):
    run_id = cluster.trigger(SCHEDULER_KILL_DAG)
    cluster.wait_for_task(SCHEDULER_KILL_DAG, run_id, "step_1", "running")
    cluster.kill("airflow-scheduler", signal.SIGKILL)
    time.sleep(5)
    assert cluster.run_state(SCHEDULER_KILL_DAG, run_id) == "running"
    cluster.restart("airflow-scheduler")
    cluster.wait_for_run(SCHEDULER_KILL_DAG, run_id, timeout=300)
    states = {ti["task_id"]: ti["state"] for ti in cluster.task_instances(SCHEDULER_KILL_DAG, run_id)}
    assert states == {f"step_{i}": "success" for i in range(4)}
    assert all(ti["try_number"] == 1 for ti in cluster.task_instances(SCHEDULER_KILL_DAG, run_id)), "a task ran twice"
