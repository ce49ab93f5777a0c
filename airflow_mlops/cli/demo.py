"""``airflow-mlops demo``: the main job, a full example pipeline on embedded defaults.

All state lives under ``--home``: Airflow home (SQLite metadata DB), MLflow store, Feast registry and
online store, scores database, datasets and reports. Delete that folder to start over. The settings the
demo runs with are also persisted in its Airflow home (:mod:`airflow_mlops.cli._demo_home`), so
``airflow-mlops ui`` (``./dev ui``) and any ``AIRFLOW_HOME=<home>/airflow airflow ...`` see the same world.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from airflow_mlops.cli import _demo_home

EXAMPLE_MODELS = ("ride_demand", "rider_churn")
PIPELINE = ("train", "score", "monitor")
INHERITED_MLFLOW_SETTINGS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "AIRFLOW_CONN_MLFLOW_DEFAULT")


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
    p.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="models to run (default: the examples and every model with a generator in include/generators)",
    )
    p.add_argument(
        "--no-drift",
        dest="drift",
        action="store_false",
        help="skip phase 2 (drifted data → drift report → retrain of ride_demand)",
    )
    p.set_defaults(handler=run)


def project_root(explicit: str | None = None) -> Path:
    """The checkout holding dags/, configs/ and include/."""
    candidates = [Path(explicit)] if explicit else [Path.cwd(), Path(__file__).resolve().parents[2]]
    for root in candidates:
        if (root / "dags").is_dir() and (root / "include").is_dir():
            return root.resolve()
    raise SystemExit(f"no project checkout (with dags/ and include/) at {', '.join(map(str, candidates))}")


def demo_models(project: Path) -> list[str]:
    """The example models, then each model with a spec in dags/ and a generator in include/generators/."""
    folder = project / "include" / "generators"
    made = sorted(p.stem for p in folder.glob("*.py") if not p.name.startswith("_"))
    made = [m for m in made if m not in EXAMPLE_MODELS and (project / "dags" / f"{m}.yaml").exists()]
    return [*EXAMPLE_MODELS, *made]


def demo_env(home: Path, project: Path) -> dict[str, str]:
    """Environment that points Airflow and airflow-mlops at the embedded defaults under ``home``."""
    home = home.resolve()
    # The demo's MLflow store is the embedded one under ``home``: drop any tracking URI or MLflow connection
    # inherited from the caller (mlflow.set_tracking_uri() also exports MLFLOW_TRACKING_URI to children).
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_MLFLOW_SETTINGS}
    env.update(
        {
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(_demo_home.spec_bundles(home)),
            "AIRFLOW_MLOPS_HOME": str(home),
            "AIRFLOW_MLOPS_PROJECT": str(project),
            "AIRFLOW_CONN_SCORES_DB": json.dumps(_demo_home.scores_conn(home)),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(project), env.get("PYTHONPATH", "")])),
            "GIT_PYTHON_REFRESH": "quiet",
            # MLflow's telemetry thread sets and unsets an environment variable while task threads iterate
            # os.environ (requests' proxy lookup): a rare KeyError failing an MLflow call. Nothing is sent offline.
            "MLFLOW_DISABLE_TELEMETRY": env.get("MLFLOW_DISABLE_TELEMETRY", "true"),
        }
    )
    return env


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def prepare(home: Path, project: Path, env: dict[str, str]) -> None:
    """Generate example data, migrate the Airflow metadata DB and persist the demo's settings in it."""
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
    _demo_home.persist(home.resolve(), project.resolve(), env, _bin("airflow"))


def dags_test(
    dag_id: str,
    env: dict[str, str],
    log_dir: Path,
    conf: dict | None = None,
    suffix: str = "",
    logical_date: str | None = None,
) -> tuple[bool, Path]:
    """Run ``airflow dags test`` for one DAG (at ``logical_date``, default now); its output goes to a log file."""
    cmd = [_bin("airflow"), "dags", "test", dag_id, *([logical_date] if logical_date else [])]
    if conf:
        cmd += ["-c", json.dumps(conf)]
    log = log_dir / f"{dag_id}{'.' + suffix if suffix else ''}.log"
    with log.open("w") as out:
        proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc.returncode == 0 and dag_run_state(log.read_text(errors="replace")) == "success", log


def score_date(project: Path, home: Path, model: str) -> str | None:
    """The logical date at which ``airflow dags test`` scores the newest complete interval holding rows.

    Airflow gives a manual run the last complete interval before its logical date: the interval's end is that
    date. None (the run's own inference at now) when the schedule is not a cron or no interval holds rows.
    """
    from datetime import UTC, datetime

    import pyarrow.parquet as pq

    from airflow_mlops.features.window import newest_complete_interval
    from airflow_mlops.spec import load_spec
    from airflow_mlops.spec.schedule import NON_CRON_PRESETS

    spec = load_spec(project / "dags" / f"{model}.yaml")
    f, cron = spec.features, spec.schedule.score
    if cron is None or cron in NON_CRON_PRESETS:
        return None
    stamps = pq.read_table(home / "data" / (f.scoring_source or f.label_source), columns=[f.timestamp])
    found = newest_complete_interval(cron, set(stamps.column(0).to_pylist()), datetime.now(UTC))
    return found[1].isoformat() if found else None


def dag_run_state(output: str) -> str | None:
    """The final DAG run state printed by ``airflow dags test`` (None when it never finished)."""
    found = re.findall(r"DagRun Finished: .*?\bstate=(\w+)", output)
    return found[-1] if found else None


def _cli_lines(args: list[str], env: dict[str, str], keep: int) -> list[str]:
    """The first ``keep`` lines an ``airflow-mlops`` subcommand prints (for the demo's summary)."""
    out = subprocess.run([_bin("airflow-mlops"), *args], env=env, capture_output=True, text=True)
    return (out.stdout or out.stderr).splitlines()[:keep]


def _scores_lines(home: Path, model: str) -> list[str]:
    """Rows per model version and role in the demo's SQLite scores table."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(home / "scores.db")) as db:
        try:
            rows = db.execute(
                f'SELECT model_version, role, COUNT(*) FROM "{model}_scores" GROUP BY 1, 2 ORDER BY 1, 2'
            ).fetchall()
        except sqlite3.Error as exc:
            return [f"no scores yet ({exc})"]
    return [f"v{version} {role}: {count} rows" for version, role, count in rows]


class Runner:
    """Runs DAGs with ``airflow dags test`` and prints one line per run."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir, self.failures = env, log_dir, 0

    def __call__(self, dag_id: str, conf: dict | None = None, label: str = "", logical_date: str | None = None) -> bool:
        t0 = time.monotonic()
        ok, log = dags_test(dag_id, self.env, self.log_dir, conf, label.replace(" ", "-"), logical_date)
        note = f" ({label})" if label else ""
        print(f"  {'ok  ' if ok else 'FAIL'} {dag_id:<24} {time.monotonic() - t0:6.1f}s{note}  log: {log}")
        if not ok:
            self.failures += 1
            print("\n".join("       " + line for line in log.read_text(errors="replace").splitlines()[-25:]))
        return ok


def drift_phase(runner: Runner, home: Path, project: Path, env: dict[str, str], model: str) -> None:
    """Production shifts: drifted data arrives, monitoring catches it, the retrain compares on fresh data."""
    print(f"\nphase 2: the world shifts for {model} (hotter, busier, more airport trips)")
    subprocess.run(
        [sys.executable, "-m", "include.datagen", str(home / "data"), "--drift"],
        cwd=project,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    runner(f"{model}__score", label="drifted data", logical_date=score_date(project, home, model))
    runner(f"{model}__monitor", label="drifted data")
    for line in _cli_lines(["report", model, "-n", "1"], env, 6)[4:5]:
        print(f"       {line.strip()}")
    from airflow_mlops.monitoring.ledger import Ledger

    requests = Ledger(home / "monitoring.db").history(model, limit=1)
    reason = requests[0].reason if requests else None
    # The detail is "reason: why; reason: why"; list every reason that was due, the first one names the run.
    due = [part.split(":", 1)[0].strip() for part in requests[0].detail.split("; ")] if requests else []
    print(f"       retrain requested: {reason or 'none'}" + (f" (due: {', '.join(due)})" if due else ""))
    # In a running Airflow the monitor DAG's trigger_train task starts this run; `dags test` only queues it.
    runner(f"{model}__train", {"reason": reason or "manual", "note": "demo: retrain after drift"}, label="retrain")
    # the train DAG's refresh_scores does this in Airflow
    runner(f"{model}__score", label="after the retrain", logical_date=score_date(project, home, model))


def run(args: argparse.Namespace) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # progress lines appear as each DAG finishes, even when piped
    project = project_root(args.project)
    args.models = args.models or demo_models(project)
    home = Path(args.home).resolve()
    env = demo_env(home, project)
    started = time.monotonic()
    print(f"airflow-mlops demo: project {project}, state under {home}")
    prepare(home, project, env)
    print(f"  data generated in {home / 'data'}; Airflow metadata DB ready in {home / 'airflow'}")
    runner = Runner(env, home / "logs")
    print("\nphase 1: train, score and monitor each example model")
    for model in args.models:
        for kind in PIPELINE:
            conf = {"reason": "manual", "note": "airflow-mlops demo"} if kind == "train" else None
            runner(f"{model}__{kind}", conf, logical_date=score_date(project, home, model) if kind == "score" else None)
    if args.drift and "ride_demand" in args.models:
        drift_phase(runner, home, project, env, "ride_demand")
    print(f"\ndone in {time.monotonic() - started:.0f}s; {runner.failures} DAG run(s) failed")
    for model in args.models:
        print(f"\n{model}:")
        history = _cli_lines(["history", model], env, 50)
        print("  champion history:\n" + "\n".join(f"    {line}" for line in history[-4:]))
        print("  scores:  " + "; ".join(_scores_lines(home, model)))
        report = _cli_lines(["report", model, "-n", "1"], env, 5)
        print("  latest monitoring report:\n" + "\n".join(f"    {line.strip()}" for line in report[1:2] + report[4:5]))
    mlflow_db = home / "mlflow" / "mlflow.db"
    print(f"\nMLflow:      mlflow ui --backend-store-uri sqlite:///{mlflow_db}")
    print(f"scores:      {home / 'scores.db'} (SQLite; airflow-mlops reproduce MODEL --logical-date D)")
    print(f"reports:     {home / 'reports'} (open the .html files; airflow-mlops report MODEL)")
    default_home = Path("mlops-demo").resolve() == home
    print(f"Airflow UI:  ./dev ui{'' if default_home else f' --home {home}'}  (airflow-mlops ui: same state)")
    return 1 if runner.failures else 0
