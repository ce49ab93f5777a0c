"""BatchScoreOperator and ``airflow-mlops reproduce`` with real MLflow models, PostgreSQL and SQLite."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.operators.score import BatchScoreOperator, NoChampionError

LOGICAL_DATE = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FEATURES = ["hour", "temperature"]


class TaskInstance:
    """The one piece of Airflow's runtime the operator touches: upstream XComs."""

    def __init__(self, xcoms: dict) -> None:
        self.xcoms = xcoms

    def xcom_pull(self, task_ids: str):
        return self.xcoms.get(task_ids)


@pytest.fixture(scope="module")
def mlops_home(tmp_path_factory):
    """A private MLOps home (MLflow store) for this module's registered models."""
    home = tmp_path_factory.mktemp("score-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("AIRFLOW_MLOPS_HOME", str(home))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield home
    mp.undo()


def _frame(rows: int = 900) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "zone_id": np.arange(rows, dtype="int64") % 37,
            "event_timestamp": pd.date_range("2024-05-30", periods=rows, freq="min", tz="UTC"),
            "hour": rng.integers(0, 24, rows),
            "temperature": rng.normal(15, 8, rows),
        }
    )


def _register(name: str, models: dict[str, object], frame: pd.DataFrame, label: np.ndarray) -> dict[str, str]:
    """Fit and register one version per alias; returns alias → version."""
    import mlflow

    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.training.serialize import pip_requirements, skops_trusted_types

    hook = MLflowHook()
    client = hook.get_conn()
    experiment = hook.ensure_experiment(name)
    versions = {}
    for alias, model in models.items():
        model.fit(frame[FEATURES], label)
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=name,
                pip_requirements=pip_requirements(),
                skops_trusted_types=skops_trusted_types(model),
            )
        versions[alias] = str(info.registered_model_version)
        hook.seal_version(name, versions[alias])  # as the training DAG does
        client.set_registered_model_alias(name, alias, versions[alias])
    return versions


def _spec(tmp_path, name: str, task: str, conn_id: str, table: str, shadow: bool) -> str:
    estimator = "sklearn.linear_model.LogisticRegression" if task == "classification" else "sklearn.linear_model.Ridge"
    path = tmp_path / "dags" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""
model: {{name: {name}, team: t, task: {task}}}
features:
  entity: zone_id
  refs: [zone_hourly:hour, zone_hourly:temperature]
  label: y
  label_source: labels.parquet
training: {{estimator: {estimator}}}
scoring:
  destination: {{conn_id: {conn_id}, table: {table}}}
  chunk_rows: 250
  shadow: {str(shadow).lower()}
"""
    )
    return str(path)


@pytest.fixture(scope="module")
def scoring_set(tmp_path_factory) -> tuple[str, pd.DataFrame]:
    frame = _frame()
    path = tmp_path_factory.mktemp("scoring-set") / "validated.parquet"
    frame.to_parquet(path)
    return str(path), frame


@pytest.fixture(scope="module")
def regressors(mlops_home, scoring_set):
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = scoring_set[1]
    label = 2 * frame["hour"] + frame["temperature"] + np.random.default_rng(1).normal(0, 1, len(frame))
    models = {"champion": make_pipeline(StandardScaler(), LinearRegression()), "challenger": Ridge(alpha=50.0)}
    return "score_reg", _register("score_reg", models, frame, label.to_numpy()), models


def _run(spec_path: str, dataset: str, run_id: str = "scheduled__2024-06-01") -> dict:
    from airflow_mlops.spec import load_spec

    conn_id = load_spec(spec_path).scoring.destination.conn_id  # what the factory wires
    op = BatchScoreOperator(task_id="score", spec_path=spec_path, dataset=dataset, scores_conn_id=conn_id)
    context = {
        "ti": TaskInstance({"validate": {"dataset": dataset, "digest": None}}),
        "logical_date": LOGICAL_DATE,
        "run_id": run_id,
    }
    return op.execute(context)


def _reproduce(spec_path: str, model: str) -> tuple[int, str]:
    from airflow_mlops.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["reproduce", model, "--logical-date", LOGICAL_DATE.isoformat(), "--spec", spec_path])
    return code, out.getvalue()


def test_shadow_scoring_writes_both_roles_and_reproduces(conn_id, table_name, tmp_path, regressors, scoring_set):
    from airflow_mlops.hooks.scores_db import ScoresDbHook

    name, versions, models = regressors
    dataset, frame = scoring_set
    spec_path = _spec(tmp_path, name, "regression", conn_id, table_name, shadow=True)
    result = _run(spec_path, dataset)
    assert result["rows"] == len(frame) and result["table"] == table_name
    assert result["model_version"] == versions["champion"]
    assert result["shadow"]["model_version"] == versions["challenger"]
    assert result["logical_date"] == LOGICAL_DATE.isoformat()

    db = ScoresDbHook(conn_id)
    by_role = db.query(
        f'SELECT role, model_version, dag_run_id, count(*) FROM "{table_name}" '
        "GROUP BY role, model_version, dag_run_id ORDER BY role"
    )
    assert by_role == [
        ("challenger", versions["challenger"], "scheduled__2024-06-01", len(frame)),
        ("champion", versions["champion"], "scheduled__2024-06-01", len(frame)),
    ]
    stored = [p for (_, p, _) in db.predictions(_table(spec_path), name, "champion", LOGICAL_DATE)]
    np.testing.assert_allclose(stored, models["champion"].predict(frame[FEATURES]), rtol=1e-12)

    _run(spec_path, dataset)  # a re-run replaces, never duplicates
    assert db.query(f'SELECT count(*) FROM "{table_name}"') == [(2 * len(frame),)]

    code, out = _reproduce(spec_path, name)
    assert code == 0, out
    assert out.count(f"{len(frame)} matched, 0 mismatched") == 2

    db.execute(
        f'UPDATE "{table_name}" SET prediction = prediction + 0.001 WHERE role = ? AND row_id IN (3, 77)', ["champion"]
    )
    code, out = _reproduce(spec_path, name)
    assert code == 1
    assert f"champion version {versions['champion']}" in out and "MISMATCH" in out
    assert f"{len(frame) - 2} matched, 2 mismatched" in out
    assert "row 3:" in out


def _table(spec_path: str):
    from airflow_mlops.scoring.table import ScoresTable
    from airflow_mlops.spec import load_spec

    spec = load_spec(spec_path)
    return ScoresTable(spec.scoring.destination.table, spec.features.entity)


def test_classifier_scores_carry_probabilities(sqlite_conn_id, table_name, tmp_path, mlops_home, scoring_set):
    from sklearn.linear_model import LogisticRegression

    from airflow_mlops.hooks.scores_db import ScoresDbHook

    dataset, frame = scoring_set
    label = (frame["temperature"] > 15).astype(int).to_numpy()
    model = LogisticRegression()
    versions = _register("score_clf", {"champion": model}, frame, label)
    spec_path = _spec(tmp_path, "score_clf", "classification", sqlite_conn_id, table_name, shadow=True)
    result = _run(spec_path, dataset)
    assert result["model_version"] == versions["champion"] and result["shadow"] is None  # no challenger
    rows = ScoresDbHook(sqlite_conn_id).predictions(_table(spec_path), "score_clf", "champion", LOGICAL_DATE)
    np.testing.assert_allclose([r[2] for r in rows], model.predict_proba(frame[FEATURES])[:, 1], rtol=1e-12)
    assert [r[1] for r in rows] == model.predict(frame[FEATURES]).astype(float).tolist()


def test_fails_clearly_without_a_champion(sqlite_conn_id, tmp_path, mlops_home, scoring_set):
    spec_path = _spec(tmp_path, "never_trained", "regression", sqlite_conn_id, "never_scores", shadow=False)
    with pytest.raises(NoChampionError, match=r"no 'champion' version.*never_trained__train"):
        _run(spec_path, scoring_set[0])


def test_reproduce_without_recorded_scores_fails(sqlite_conn_id, tmp_path, mlops_home):
    spec_path = _spec(tmp_path, "nothing_here", "regression", sqlite_conn_id, "empty_scores", shadow=False)
    code, out = _reproduce(spec_path, "nothing_here")
    assert code == 1 and "no scores recorded" in out
