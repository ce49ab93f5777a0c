"""Issue 13 through real Airflow (`airflow dags test`): an empty scoring batch fails loudly and destroys
nothing; re-scoring a date with a new champion keeps what was served; a re-run of the same run replaces
only its own rows. "What did we serve for D" is answered from the database (hook and ``served`` CLI).

The DAG is the score task behind a stand-in ``validate`` task that hands it the dataset named in the
run's conf, so each run can score a chosen file (the full set, or an empty one).
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.cli.demo import dag_run_state
from tests.conftest import PROJECT, airflow_env, run_cli
from tests.scoring.test_operator import FEATURES, _frame, _register

pytestmark = pytest.mark.timeout(900)
MODEL = "served_reg"
DAG_ID = "served_reg_score"
DATE = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
DAG_FILE = """
from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from airflow_mlops.operators.score import BatchScoreOperator


def _validated(**context):
    return {{"dataset": context["dag_run"].conf["dataset"], "digest": None}}


with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    validate = PythonOperator(task_id="validate", python_callable=_validated, multiple_outputs=True)
    inputs = {{"dataset": validate.output["dataset"], "scores_conn_id": "scores_lite"}}
    BatchScoreOperator(task_id="score", spec_path={spec!r}, retries=3, **inputs)

with DAG("{dag_id}_twice", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    validate = PythonOperator(task_id="validate", python_callable=_validated, multiple_outputs=True)
    inputs = {{"dataset": validate.output["dataset"], "scores_conn_id": "scores_lite"}}
    score = BatchScoreOperator(task_id="score", spec_path={spec!r}, **inputs)
    score >> BatchScoreOperator(task_id="score_again", spec_path={spec!r}, **inputs)  # what a retry does
"""


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    """A migrated Airflow home, an MLOps home with champion v1 and challenger v2, a DAG and its spec."""
    from sklearn.linear_model import LinearRegression, Ridge

    root = tmp_path_factory.mktemp("served")
    dags = root / "dags"
    dags.mkdir()
    env = airflow_env(root / "home", dags)
    env["AIRFLOW_CONN_SCORES_LITE"] = json.dumps({"conn_type": "sqlite", "host": str(root / "scores.db")})
    mp = pytest.MonkeyPatch()
    mp.setenv("AIRFLOW_MLOPS_HOME", env["AIRFLOW_MLOPS_HOME"])
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    for key in ("AIRFLOW_CONN_SCORES_LITE", "AIRFLOW_HOME"):
        mp.setenv(key, env[key])
    frame = _frame()
    label = 2 * frame["hour"] + frame["temperature"] + np.random.default_rng(1).normal(0, 1, len(frame))
    models = {"champion": LinearRegression(), "challenger": Ridge(alpha=50.0)}
    versions = _register(MODEL, models, frame, label.to_numpy())
    full, empty = root / "full.parquet", root / "empty.parquet"
    frame.to_parquet(full)
    frame.iloc[:0].to_parquet(empty)
    spec = dags / f"{MODEL}.yaml"
    spec.write_text(
        f"""
model: {{name: {MODEL}, team: t, task: regression}}
features:
  entity: zone_id
  refs: [zone_hourly:hour, zone_hourly:temperature]
  label: y
  label_source: labels.parquet
training: {{estimator: sklearn.linear_model.Ridge}}
scoring:
  destination: {{conn_id: scores_lite, table: served_scores}}
  chunk_rows: 250
  shadow: true
"""
    )
    (dags / "served_dag.py").write_text(DAG_FILE.format(dag_id=DAG_ID, spec=str(spec)))
    subprocess.run([str(PROJECT / ".venv/bin/airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    yield {"env": env, "root": root, "spec": spec, "versions": versions, "full": full, "empty": empty, "frame": frame}
    mp.undo()


def _dags_test(home: dict, dataset, label: str, dag_id: str = DAG_ID) -> tuple[str | None, str]:
    out = run_cli(["airflow", "dags", "test", dag_id, DATE.isoformat(), "-c", json.dumps({"dataset": str(dataset)})],
                  env=home["env"], timeout=600)  # fmt: skip
    log = out.stdout + out.stderr
    (home["root"] / f"{label}.log").write_text(log)
    return dag_run_state(log), log


def _db_and_table():
    from airflow_mlops.hooks.scores_db import ScoresDbHook
    from airflow_mlops.scoring.table import ScoresTable

    return ScoresDbHook("scores_lite"), ScoresTable("served_scores", "zone_id")


def _state(db, table) -> tuple:
    return tuple(db.checksum(table, exclude=(), part=p) for p in ("current", "superseded", "runs"))


def test_empty_batch_fails_rescore_keeps_served_rows_retry_replaces_its_own(airflow_home):
    from mlflow.tracking import MlflowClient

    home, rows = airflow_home, len(airflow_home["frame"])
    versions = home["versions"]
    state, log = _dags_test(home, home["full"], "1-first")
    assert state == "success", log[-4000:]
    db, table = _db_and_table()
    first = _state(db, table)
    assert first[0][0] == 2 * rows  # champion + shadow challenger

    # 1. an empty batch: the task fails (no retries, though it has 3), the scores stay byte-for-byte
    state, log = _dags_test(home, home["empty"], "2-empty")
    assert state == "failed", log[-4000:]
    assert f"refusing to replace {rows} champion rows of {MODEL} scored for {DATE.isoformat()}" in log
    assert f"model version {versions['champion']}" in log and "the earlier rows are kept" in log
    assert "AirflowFailException" in log and "up_for_retry" not in log.lower()
    assert _state(db, table) == first

    # 2. a new champion re-scores the date: the rows served before stay queryable
    client = MlflowClient()
    client.set_registered_model_alias(MODEL, "champion", versions["challenger"])
    client.set_registered_model_alias(MODEL, "challenger", versions["champion"])
    state, log = _dags_test(home, home["full"], "3-rescore")  # each `dags test` is a new DAG run
    assert state == "success", log[-4000:]
    served = db.served(table, MODEL, DATE)
    champion = [
        (r["model_version"], r["is_current"], r["rows"], r["rows_kept"]) for r in served if r["role"] == "champion"
    ]
    assert champion == [(versions["challenger"], True, rows, True), (versions["champion"], False, rows, True)]
    assert db.query("SELECT model_version, count(*) FROM {t} WHERE role = 'champion' GROUP BY 1", t=table.name) == [
        (versions["challenger"], rows)
    ]
    by_run = db.query(
        "SELECT model_version, is_current, count(*) FROM {h} WHERE role = 'champion' GROUP BY 1, 2 ORDER BY 1",
        h=table.history,
    )
    assert sorted((v, bool(c), n) for v, c, n in by_run) == sorted(
        [(versions["champion"], False, rows), (versions["challenger"], True, rows)]
    )
    old = next(r for r in served if r["role"] == "champion" and not r["is_current"])
    frame = home["frame"]
    assert [p for _, p, _ in db.run_predictions(table, old)] == pytest.approx(
        _refit_champion(frame).predict(frame[FEATURES]).tolist(), rel=1e-9
    )

    # ... and the CLI answers "what did we serve for D", before and after the re-score
    out = run_cli(
        ["airflow-mlops", "served", MODEL, "--logical-date", DATE.isoformat(), "--spec", str(home["spec"]),
         "--role", "champion", "--json"], env=home["env"],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert [(r["model_version"], r["is_current"]) for r in listed] == [
        (versions["challenger"], True),
        (versions["champion"], False),
    ]
    as_of = listed[0]["scored_at"][:-1] if listed[0]["scored_at"].endswith("Z") else listed[0]["scored_at"]
    out = run_cli(
        ["airflow-mlops", "served", MODEL, "--logical-date", DATE.isoformat(), "--spec", str(home["spec"]),
         "--role", "champion", "--as-of", datetime.fromisoformat(as_of).replace(microsecond=0).isoformat()],
        env=home["env"],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"version {versions['champion']:>4}  superseded" in out.stdout
    assert f"version {versions['challenger']:>4}  current" not in out.stdout

    # 3. a DAG run whose score task runs twice (same run id, same champion: what a retry does) supersedes the
    #    previous run once, and its second write replaces only its own rows
    before = db.checksum(table, part="superseded")[0]
    state, log = _dags_test(home, home["full"], "4-twice", dag_id=f"{DAG_ID}_twice")
    assert state == "success", log[-4000:]
    assert log.count(f"{MODEL}: wrote {rows} champion rows") == 2
    assert db.checksum(table, part="superseded")[0] == before + 2 * rows  # one more superseded run per role
    assert db.query("SELECT count(*), count(DISTINCT row_id) FROM {t} WHERE role = 'champion'", t=table.name) == [
        (rows, rows)
    ]
    champion_runs = [r for r in db.served(table, MODEL, DATE) if r["role"] == "champion"]
    assert [r["is_current"] for r in champion_runs] == [True, False, False]
    assert champion_runs[0]["dag_run_id"] != champion_runs[1]["dag_run_id"]


def _refit_champion(frame: pd.DataFrame):
    """The first champion, fitted exactly as the fixture fitted it (deterministic)."""
    from sklearn.linear_model import LinearRegression

    label = 2 * frame["hour"] + frame["temperature"] + np.random.default_rng(1).normal(0, 1, len(frame))
    return LinearRegression().fit(frame[FEATURES], label.to_numpy())
