"""Parse cost per spec file in a real ``airflow dag-processor -n 1`` loop, against plain Python DAG files.

Airflow's DAG processor forks one process per DAG file and, before forking, pre-imports only the
``airflow.*`` modules named in that file; whatever else a file imports is paid again in every fork, on
every loop. The in-process benchmark (bench_parse) cannot see that, this one does.

For each case a fresh Airflow home (a copy of one migrated SQLite DB) and a dags folder with N files:

- ours: N copies of ``dags/ride_demand.yaml`` under new model names, each with its ``airflow-mlops stub``
  file (plus the catch-all ``airflow_mlops_specs.py``, as in ``dags/``);
- plain: N Python files building the same DAGs (ids, schedules, tags, task graphs) with EmptyOperators.

``airflow dag-processor -n 1`` (2 parsing processes) parses every file once and exits. CPU is the
process tree's user + system time (the parsing processes are the dag-processor's children, reaped by
it); wall is the command's. Per-file figures are marginal: (cost at N - cost of the same tool's folder
at N = 0) / N, so Airflow's start-up and DB set-up cancel out. Each run is checked: every DAG in the
DB, no import errors.
"""

from __future__ import annotations

import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.bench_parse import OUR_STUB, PROJECT, _env, shape_of_our_dags, write_ours

SIZES = (50, 200)
QUICK_SIZES = (10, 50)
PARSING_PROCESSES = 2
AIRFLOW = str(Path(sys.executable).with_name("airflow"))

PLAIN_FILE = '''"""Plain Airflow DAG file (benchmark baseline): the DAGs of one spec, with EmptyOperator tasks."""
from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronDataIntervalTimetable, Param

NAME = {name!r}
SHAPE = {shape!r}
CRONS = {crons!r}
NEW_DATA = Asset(name=f"mlops.{{NAME}}.new_labels", uri=f"x-mlops://{{NAME}}/new_labels", group="airflow-mlops")
REASONS = ["schedule", "manual", "drift", "new_data", "metric_drop", "code_change"]
PARAMS = {{
    "train": {{
        "reason": Param("schedule", enum=REASONS, description="Why this training run starts."),
        "note": Param("", type="string", description="Free text recorded on the MLflow run."),
    }},
    "rollback": {{
        "version": Param(1, type="integer", minimum=1, description="Registered model version to serve."),
        "reason": Param("manual rollback", type="string", minLength=1, description="Why (recorded in history)."),
    }},
}}

for kind, tasks in SHAPE.items():
    timetable = CRONS[kind] and CronDataIntervalTimetable(CRONS[kind], timezone="UTC")
    if kind == "train":
        timetable = AssetOrTimeSchedule(timetable=timetable, assets=NEW_DATA)
    with DAG(
        dag_id=f"{{NAME}}__{{kind}}",
        schedule=timetable,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        description=f"{{NAME}}: {{kind}} (regression, team marketplace)",
        tags=["airflow-mlops", kind, "marketplace", "UberX", "regression"],
        default_args={{"owner": "marketplace", "retries": 1}},
        params=PARAMS.get(kind),
    ) as dag:
        ops = {{
            task: EmptyOperator(task_id=task, outlets=[NEW_DATA] if task == "signal_new_data" else None)
            for task in tasks
        }}
        for task, upstream in tasks.items():
            for up in upstream:
                ops[up] >> ops[task]
    globals()[dag.dag_id] = dag
'''
# The spec's schedules; the factory makes each cron a CronDataIntervalTimetable (UTC), the train DAG's or-ed
# with the new-data Asset (factory/build.py), and so does the baseline.
CRONS = {"train": "@weekly", "score": "*/30 * * * *", "monitor": "@daily", "rollback": None}


def write_plain(folder: Path, n: int, shape: dict) -> None:
    for i in range(n):
        name = f"m{i:04d}_ride_demand"
        (folder / f"{name}.py").write_text(PLAIN_FILE.format(name=name, shape=shape, crons=CRONS))


def migrated_db(root: Path) -> Path:
    """One ``airflow db migrate`` on a fresh home; each case starts from a copy of its SQLite file."""
    home = root / "template-home"
    env = _env(root, root / "empty") | {"AIRFLOW_HOME": str(home)}
    (root / "empty").mkdir(exist_ok=True)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    return home / "airflow.db"


def dag_processor(root: Path, case: str, folder: Path, db: Path) -> dict:
    """Run ``airflow dag-processor -n 1`` over ``folder`` in a fresh home; CPU and wall seconds, DAG count."""
    home = root / f"home-{case}"
    home.mkdir()
    shutil.copy2(db, home / "airflow.db")
    env = _env(root, folder) | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": str(PARSING_PROCESSES),
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "600",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "0",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [AIRFLOW, "dag-processor", "-n", "1"], env=env, capture_output=True, text=True, timeout=3600
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"dag-processor on {folder} failed:\n{proc.stderr[-3000:]}")
    with sqlite3.connect(home / "airflow.db") as con:
        dags = con.execute("select count(*) from dag where is_stale = 0").fetchone()[0]
        serialized = con.execute("select count(distinct dag_id) from serialized_dag").fetchone()[0]
        errors = [row[0][-400:] for row in con.execute("select stacktrace from import_error")]
    shutil.rmtree(home)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu": cpu, "wall": wall, "dags": dags, "serialized": serialized, "errors": errors}


def measure(root: Path, db: Path, shape: dict, tool: str, n: int) -> dict:
    folder = root / f"{tool}-{n}"
    folder.mkdir()
    if tool == "ours":
        write_ours(folder, n)  # with the catch-all airflow_mlops_specs.py, as in dags/
    else:
        write_plain(folder, n, shape)
    result = dag_processor(root, f"{tool}-{n}", folder, db)
    shutil.rmtree(folder)
    expected = len(shape) * n
    if result["errors"] or result["dags"] != expected or result["serialized"] != expected:
        raise RuntimeError(
            f"{tool}, {n} files: {result['dags']} DAGs / {result['serialized']} serialized, expected {expected}; "
            f"import errors: {result['errors']}"
        )
    return result


def run(quick: bool = False) -> list[dict]:
    """Rows per N: marginal CPU and wall per file, ours vs plain, from one dag-processor loop each."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlops-bench-dagproc-") as tmp:
        root = Path(tmp)
        # as deployed: byte-code compiled once (a fork that compiles airflow_mlops from source pays ~0.15 s)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(PROJECT / "airflow_mlops")], check=True)
        shape = shape_of_our_dags(root)
        db = migrated_db(root)
        base = {tool: measure(root, db, shape, tool, 0) for tool in ("ours", "plain")}
        for n in QUICK_SIZES if quick else SIZES:
            res = {tool: measure(root, db, shape, tool, n) for tool in ("ours", "plain")}
            print(f"{datetime.now():%H:%M:%S} N={n}: {res}, empty folder {base}", file=sys.stderr, flush=True)
            per = {
                tool: {k: (res[tool][k] - base[tool][k]) / n * 1000 for k in ("cpu", "wall")} for tool in res
            }
            tasks = sum(map(len, shape.values()))
            for k, label in (("cpu", "CPU"), ("wall", "wall")):
                rows.append(
                    {
                        "benchmark": "dagprocessor",
                        "case": f"{n} files, {label} per file ({len(shape)} DAGs / {tasks} tasks each)",
                        "ours": f"{per['ours'][k]:.0f} ms",
                        "baseline": f"plain Python DAG file {per['plain'][k]:.0f} ms",
                        "ratio": per["plain"][k] / per["ours"][k],
                        "note": f"ours costs {per['ours'][k] / per['plain'][k]:.2f}x plain; "
                        f"`airflow dag-processor -n 1`, {PARSING_PROCESSES} parsing processes; whole loop "
                        f"{res['ours'][k]:.1f}s vs {res['plain'][k]:.1f}s {label}, empty folder "
                        f"{base['ours'][k]:.1f}s vs {base['plain'][k]:.1f}s",
                    }
                )
    return rows


if __name__ == "__main__":
    print(f"{datetime.now():%H:%M:%S} stub:\n{OUR_STUB}", file=sys.stderr)
    for row in run(quick="--quick" in sys.argv):
        print(row)
