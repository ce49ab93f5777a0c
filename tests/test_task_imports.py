"""Fixed cost of a task: each score-DAG task imports only the libraries it uses (issue 17).

Each task's operator runs in a fresh interpreter, as an executor runs it; what it left in ``sys.modules``
is checked against what it has no use for. The materialize task's imports are measured by
``benchmarks/bench_score_scale.py`` (it needs a Feast registry and generated sources).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT

pytestmark = pytest.mark.timeout(300)

VALIDATE = """
import json, sys
from pathlib import Path
from tests.validation.conftest import RIDE_SPEC, context_for, rides
from airflow_mlops.operators.validate import GXValidateOperator

df = rides()
source = Path(sys.argv[1]) / "materialized.parquet"
df.to_parquet(source, index=False)
before = set(sys.modules)
out = GXValidateOperator(task_id="validate", purpose="score", spec_path=str(RIDE_SPEC), dataset=str(source)).execute(
    context_for(source, len(df))
)
print("MODULES " + json.dumps({"rows": out["rows_in"], "modules": sorted(sys.modules)}))
"""

SCORE = """
import json, sys
import numpy as np
from sklearn.linear_model import LinearRegression
from tests.scoring.test_operator import LOGICAL_DATE, _frame, _register, _spec
from airflow_mlops.operators.score import BatchScoreOperator

tmp = __import__("pathlib").Path(sys.argv[1])
frame = _frame()
_register("imports_reg", {"champion": LinearRegression()}, frame, 2 * frame["hour"].to_numpy() + 1.0)
dataset = tmp / "set.parquet"
frame.to_parquet(dataset)
spec = _spec(tmp, "imports_reg", "regression", "scores_lite", "imports_scores", shadow=False)
op = BatchScoreOperator(task_id="score", spec_path=spec, dataset=str(dataset), scores_conn_id="scores_lite")
out = op.execute({"logical_date": LOGICAL_DATE, "run_id": "manual__1", "dag_run": None})
print("MODULES " + json.dumps({"rows": out["rows"], "modules": sorted(sys.modules)}))
"""


def _modules(script: str, tmp_path) -> tuple[int, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "MLFLOW_"))}
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW_MLOPS_HOME=str(tmp_path / "home"),
        AIRFLOW_CONN_SCORES_LITE=json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "s.db")}),
        PYTHONPATH=str(PROJECT),
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=PROJECT, env=env, capture_output=True, text=True
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("MODULES ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("MODULES ") :])
    return out["rows"], {name.split(".")[0] for name in out["modules"]}


def test_validate_task_imports_no_feast_mlflow_sklearn_or_evidently(tmp_path):
    rows, loaded = _modules(VALIDATE, tmp_path)
    assert rows == 360 and "great_expectations" in loaded
    assert not loaded & {"feast", "mlflow", "sklearn", "evidently", "ibis", "duckdb"}


def test_score_task_imports_no_feast_gx_or_evidently(tmp_path):
    rows, loaded = _modules(SCORE, tmp_path)
    assert rows == 900 and "mlflow" in loaded
    assert not loaded & {"feast", "great_expectations", "evidently", "ibis", "duckdb"}
