"""``airflow-mlops demo``: the main job, a full example pipeline on embedded defaults.

All state lives under ``--home``: Airflow home (SQLite metadata DB), MLflow store, Feast registry and
online store, scores database, datasets and reports. Delete that folder to start over.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

EXAMPLE_MODELS = ("ride_demand", "rider_churn")
PIPELINE = ("train", "score", "monitor")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the example pipelines end to end on embedded defaults",
        description="Generate example data, set up Airflow, MLflow, Feast and a scores database under "
        "--home, then run each example model's train, score and monitor DAGs with `airflow dags test`.",
    )
    p.add_argument("--home", default="mlops-demo", help="folder for all demo state (default: ./mlops-demo)")
    p.add_argument(
        "--project",
        default=None,
        help="project checkout with dags/, configs/ and include/ "
        "(default: the current folder, else the package's checkout)",
    )
    p.add_argument("--models", nargs="+", default=list(EXAMPLE_MODELS), help="example models to run")
    p.set_defaults(handler=run)


def project_root(explicit: str | None = None) -> Path:
    """The checkout holding dags/, configs/ and include/."""
    candidates = [Path(explicit)] if explicit else [Path.cwd(), Path(__file__).resolve().parents[2]]
    for root in candidates:
        if (root / "dags").is_dir() and (root / "include").is_dir():
            return root.resolve()
    raise SystemExit(f"no project checkout (with dags/ and include/) at {', '.join(map(str, candidates))}")


def demo_env(home: Path, project: Path) -> dict[str, str]:
    """Environment that points Airflow and airflow-mlops at the embedded defaults under ``home``."""
    home = home.resolve()
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW_MLOPS_HOME": str(home),
            "AIRFLOW_MLOPS_PROJECT": str(project),
            "AIRFLOW_CONN_SCORES_DB": json.dumps({"conn_type": "sqlite", "host": str(home / "scores.db")}),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(project), env.get("PYTHONPATH", "")])),
            "GIT_PYTHON_REFRESH": "quiet",
        }
    )
    return env


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def prepare(home: Path, project: Path, env: dict[str, str]) -> None:
    """Generate example data and migrate the Airflow metadata DB."""
    (home / "logs").mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "include.datagen", str(home / "data")],
        cwd=project,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [_bin("airflow"), "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def dags_test(dag_id: str, env: dict[str, str], log_dir: Path, conf: dict | None = None) -> tuple[bool, Path]:
    """Run ``airflow dags test`` for one DAG; its output goes to a log file."""
    cmd = [_bin("airflow"), "dags", "test", dag_id]
    if conf:
        cmd += ["-c", json.dumps(conf)]
    log = log_dir / f"{dag_id}.log"
    with log.open("w") as out:
        proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc.returncode == 0 and dag_run_state(log.read_text(errors="replace")) == "success", log


def dag_run_state(output: str) -> str | None:
    """The final DAG run state printed by ``airflow dags test`` (None when it never finished)."""
    found = re.findall(r"DagRun Finished: .*?\bstate=(\w+)", output)
    return found[-1] if found else None


def run(args: argparse.Namespace) -> int:
    project = project_root(args.project)
    home = Path(args.home).resolve()
    env = demo_env(home, project)
    started = time.monotonic()
    print(f"airflow-mlops demo: project {project}, state under {home}")
    prepare(home, project, env)
    print(f"  data generated in {home / 'data'}; Airflow metadata DB ready in {home / 'airflow'}")
    failures = 0
    for model in args.models:
        for kind in PIPELINE:
            dag_id = f"{model}__{kind}"
            t0 = time.monotonic()
            conf = {"reason": "manual", "note": "airflow-mlops demo"} if kind == "train" else None
            ok, log = dags_test(dag_id, env, home / "logs", conf)
            print(f"  {'ok  ' if ok else 'FAIL'} {dag_id:<24} {time.monotonic() - t0:6.1f}s  log: {log}")
            if not ok:
                failures += 1
                print("\n".join("       " + line for line in log.read_text(errors="replace").splitlines()[-25:]))
    print(f"done in {time.monotonic() - started:.0f}s; {failures} DAG run(s) failed")
    mlflow_db = home / "mlflow" / "mlflow.db"
    print(f"  MLflow store:  {home / 'mlflow'}  (mlflow ui --backend-store-uri sqlite:///{mlflow_db})")
    print(f"  scores:        {home / 'scores.db'}")
    print(f"  reports:       {home / 'reports'}")
    print(f"  Airflow UI:    AIRFLOW_HOME={home / 'airflow'} airflow standalone")
    return 1 if failures else 0
