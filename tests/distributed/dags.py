"""DAG files the distributed tests add to the repo's dags folder."""

from __future__ import annotations

FANOUT_DAG = "dist_fanout"
FANOUT_TASKS = 6

FANOUT = '''"""Distributed smoke DAG: parallel tasks that report which machine ran them."""

from datetime import datetime

from airflow.sdk import DAG, task

with DAG(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), tags=["distributed"]):

    @task
    def where(i: int) -> dict:
        import os
        import time

        time.sleep(4)  # long enough that one worker cannot take them all
        return {{k: os.environ.get(k) for k in ("MLOPS_HOSTNAME", "HOME", "AIRFLOW_MLOPS_HOME", "TMPDIR")}}

    where.expand(i=list(range({n})))
'''

EXTRA_DAGS = {f"{FANOUT_DAG}.py": FANOUT.format(dag_id=FANOUT_DAG, n=FANOUT_TASKS)}
