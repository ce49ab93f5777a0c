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

WORKER_KILL_DAG = "dist_worker_kill"
WORKER_KILL = '''"""Fault test DAG: one slow task with a retry; the test SIGKILLs the worker running its first try."""

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

with DAG(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), tags=["distributed"]):

    @task(retries=2, retry_delay=timedelta(seconds=1))
    def slow() -> str:
        import os
        import time

        time.sleep(15)
        return os.environ["MLOPS_HOSTNAME"]

    slow()
'''

SCHEDULER_KILL_DAG = "dist_scheduler_kill"
SCHEDULER_KILL = '''"""Fault test DAG: a chain of short tasks; the test SIGKILLs and restarts the scheduler mid-run."""

from datetime import datetime

from airflow.sdk import DAG, chain, task

with DAG(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), tags=["distributed"]):

    @task
    def step(i: int) -> int:
        import time

        time.sleep(5)
        return i

    chain(*[step.override(task_id=f"step_{{i}}")(i) for i in range(4)])
'''

STATE_DAG = "dist_state"
STATE_TASKS = 4
STATE = '''"""State test DAG: tasks on both workers record retrain requests in the ledger (connection mlops_state)."""

from datetime import datetime

from airflow.sdk import DAG, task

with DAG(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), tags=["distributed"]):

    @task
    def record(i: int, **context) -> str:
        import os
        import time

        from airflow_mlops.monitoring.ledger import Ledger

        time.sleep(3)  # long enough that one worker cannot take them all
        model = "dist_" + context["run_id"]
        with Ledger().locked(model) as ledger:
            ledger.record(model, "manual", None, os.environ["MLOPS_HOSTNAME"])
        return os.environ["MLOPS_HOSTNAME"]

    @task
    def read(recorded: list[str], **context) -> list[str]:
        from airflow_mlops.monitoring.ledger import Ledger

        return sorted(r.detail for r in Ledger().history("dist_" + context["run_id"], limit=100))

    read(record.expand(i=list(range({n}))))
'''

MLFLOW_DAG = "dist_mlflow"
MLFLOW_TASKS = 4
MLFLOW = '''"""MLflow test DAG: tasks on both workers log runs with an artifact via mlflow_default."""

from datetime import datetime

from airflow.sdk import DAG, task

with DAG(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), tags=["distributed"]):

    @task
    def experiment(**context) -> str:
        from airflow_mlops.hooks.mlflow import MLflowHook

        return MLflowHook().ensure_experiment("dist-" + context["run_id"])

    @task
    def log(experiment_id: str, i: int) -> str:
        import os
        import time

        from airflow_mlops.hooks.mlflow import MLflowHook

        time.sleep(3)  # long enough that one worker cannot take them all
        client = MLflowHook().get_conn()
        run = client.create_run(experiment_id)
        client.log_text(run.info.run_id, os.environ["MLOPS_HOSTNAME"], "where.txt")
        client.set_terminated(run.info.run_id)
        return run.info.run_id

    log.partial(experiment_id=experiment()).expand(i=list(range({n})))
'''

EXTRA_DAGS = {
    f"{MLFLOW_DAG}.py": MLFLOW.format(dag_id=MLFLOW_DAG, n=MLFLOW_TASKS),
    f"{STATE_DAG}.py": STATE.format(dag_id=STATE_DAG, n=STATE_TASKS),
    f"{FANOUT_DAG}.py": FANOUT.format(dag_id=FANOUT_DAG, n=FANOUT_TASKS),
    f"{WORKER_KILL_DAG}.py": WORKER_KILL.format(dag_id=WORKER_KILL_DAG),
    f"{SCHEDULER_KILL_DAG}.py": SCHEDULER_KILL.format(dag_id=SCHEDULER_KILL_DAG),
}
