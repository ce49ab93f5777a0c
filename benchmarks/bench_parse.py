"""DAG parse time per spec: our factory vs astronomer's dag-factory on equivalent YAML, same run.

For N specs, each tool gets its own dags folder with one small .py per YAML file (our stub; for
dag-factory a ``load_yaml_dags(config_filepath=...)`` file) and the same DAGs and tasks per spec (the
dag-factory YAML copies the task graph our factory builds, with EmptyOperator tasks). A fresh
interpreter per case imports ``airflow.sdk`` first (the DAG processor has Airflow loaded already),
then the timed part: a ``DagBag`` of the whole folder, as the DAG processor fills it, in CPU seconds of that
process (so other work on a shared machine does not tilt a case). Interpreter start and Airflow's own import
are not counted; each tool's own import is (once, on its first file).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
SIZES = (1, 10, 100, 500)
QUICK_SIZES = (1, 10, 50)

WORKER = r"""
import json, sys, time
import airflow.sdk  # loaded already in Airflow's DAG processor: not counted
from airflow.dag_processing.dagbag import DagBag
t0 = time.process_time()  # CPU of this process: other work on the machine does not count
bag = DagBag(sys.argv[1], safe_mode=True)
seconds = time.process_time() - t0
first = sorted(bag.dags)[:1] and sorted(bag.dags)[0].split("__")[0]
shape = {dag_id.split("__", 1)[1]: {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}
         for dag_id, dag in bag.dags.items() if dag_id.startswith(f"{first}__")}
print(json.dumps({"seconds": seconds, "dags": len(bag.dags), "tasks": sum(len(d.tasks) for d in bag.dags.values()),
                  "errors": {k: v[-300:] for k, v in bag.import_errors.items()}, "shape": shape}))
"""

OUR_STUB = (PROJECT / "dags" / "ride_demand.py").read_text()
DAGFACTORY_FILE = '''"""Airflow DAG file: builds the DAGs of the dag-factory YAML beside it."""
from pathlib import Path

from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals(), config_filepath=str(Path(__file__).with_suffix(".yaml")))
'''


def _spec_names(n: int) -> list[str]:
    return [f"m{i:04d}_ride_demand" for i in range(n)]


def write_ours(folder: Path, n: int, shape: dict | None = None) -> None:
    """``n`` copies of dags/ride_demand.yaml under distinct model names, each with its stub."""
    base = yaml.safe_load((PROJECT / "dags" / "ride_demand.yaml").read_text())
    for name in _spec_names(n):
        base["model"]["name"] = name
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
        (folder / f"{name}.py").write_text(OUR_STUB.replace("ride_demand.yaml", f"{name}.yaml"))
    shutil.copy2(PROJECT / "dags" / "airflow_mlops_specs.py", folder / "airflow_mlops_specs.py")


def write_dagfactory(folder: Path, n: int, shape: dict | None = None) -> None:
    """The same DAG ids, schedules, tags, default args and task graphs (``shape``: kind -> task -> upstream ids,
    as our factory built them) as dag-factory YAML with EmptyOperator tasks."""
    schedules = {"train": "@weekly", "score": "*/30 * * * *", "monitor": "@daily", "rollback": None}
    for name in _spec_names(n):
        config = {}
        for kind, tasks in (shape or {}).items():
            config[f"{name}__{kind}"] = {
                "schedule": schedules[kind],
                "start_date": "2026-01-01",
                "catchup": False,
                "max_active_runs": 1,
                "description": f"{name}: {kind} (regression, team marketplace)",
                "tags": ["airflow-mlops", kind, "marketplace", "UberX", "regression"],
                "default_args": {"owner": "marketplace", "retries": 1},
                "tasks": {
                    task: {
                        "operator": "airflow.providers.standard.operators.empty.EmptyOperator",
                        **({"dependencies": upstream} if upstream else {}),
                    }
                    for task, upstream in tasks.items()
                },
            }
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        (folder / f"{name}.py").write_text(DAGFACTORY_FILE)


def parse(folder: Path, env: dict[str, str]) -> dict:
    """Parse ``folder`` into a DagBag in a fresh interpreter; returns seconds, DAG/task counts, import errors."""
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(folder)], env=env, capture_output=True, text=True, timeout=1800
    )
    if proc.returncode != 0:
        raise RuntimeError(f"parse of {folder} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _env(root: Path, folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as deployed: modules load from .pyc, not compiled per process
    env.update(
        {
            "AIRFLOW_HOME": str(root / "airflow"),
            "AIRFLOW_MLOPS_HOME": str(root / "mlops"),
            "AIRFLOW_MLOPS_PROJECT": str(PROJECT),
            "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH", "")])),
            "GIT_PYTHON_REFRESH": "quiet",
        }
    )
    return env


def measure(n: int, root: Path, shape: dict, repeats: int = 1) -> dict[str, dict]:
    """Best of ``repeats`` parses of n specs with each tool; checks both built the DAGs and tasks ``shape`` says."""
    results = {}
    for tool, write in (("ours", write_ours), ("dag-factory", write_dagfactory)):
        folder = root / f"{tool}-{n}"
        folder.mkdir()
        write(folder, n, shape)
        runs = [parse(folder, _env(root, folder)) for _ in range(repeats)]
        result = min(runs, key=lambda r: r["seconds"])
        expected = (len(shape) * n, sum(map(len, shape.values())) * n)
        if result["errors"] or (result["dags"], result["tasks"]) != expected:
            raise RuntimeError(
                f"{tool}, {n} specs: built {result['dags']} DAGs / {result['tasks']} tasks, "
                f"expected {expected}; import errors: {result['errors']}"
            )
        results[tool] = result
        shutil.rmtree(folder)
    return results


def shape_of_our_dags(root: Path) -> dict:
    """kind -> task -> upstream task ids of the DAGs our factory builds from one spec."""
    folder = root / "shape"
    folder.mkdir()
    write_ours(folder, 1)
    result = parse(folder, _env(root, folder))
    shutil.rmtree(folder)
    if result["errors"] or not result["shape"]:
        raise RuntimeError(f"our factory built no DAGs: {result['errors']}")
    return result["shape"]


def run(quick: bool = False) -> list[dict]:
    """Rows per size: ms per spec beyond the first (the first file pays each tool's one-time import)."""
    rows, marginal = [], {}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-parse-") as tmp:
        shape = shape_of_our_dags(Path(tmp))
        dags, tasks = len(shape), sum(map(len, shape.values()))
        first: dict[str, float] = {}
        for n in QUICK_SIZES if quick else SIZES:
            res = measure(n, Path(tmp), shape, repeats=1 if quick else 3)
            secs = {tool: r["seconds"] for tool, r in res.items()}
            if n == 1:
                first = secs
                per = secs
                unit = "ms (incl. import)"
            else:
                per = {tool: (secs[tool] - first.get(tool, 0.0)) / (n - 1) for tool in secs}
                unit = "ms/spec"
            marginal[n] = per["ours"]
            rows.append(
                {
                    "benchmark": "parse",
                    "case": f"{n} specs ({dags * n} DAGs, {tasks * n} tasks)",
                    "ours": f"{per['ours'] * 1000:.1f} {unit}",
                    "baseline": f"dag-factory {per['dag-factory'] * 1000:.1f} {unit}",
                    "ratio": per["dag-factory"] / per["ours"],
                    "note": f"whole folder {secs['ours']:.2f}s vs {secs['dag-factory']:.2f}s (best of "
                    f"{1 if quick else 3})",
                }
            )
    rows[0]["note"] += "; ours also validates each spec (pydantic), compiles its rules (lark), renders doc_md"
    sizes = sorted(n for n in marginal if n > 1)
    if len(sizes) >= 2:
        low, high = sizes[0], sizes[-1]
        rows[-1]["note"] += f"; ours per spec {low}→{high} specs: x{marginal[high] / marginal[low]:.2f}"
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
