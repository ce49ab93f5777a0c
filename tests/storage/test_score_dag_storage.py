"""A score DAG run (`airflow dags test`) with ``[mlops] storage_url=s3://…`` and the state and scores databases
on PostgreSQL writes nothing durable under the worker's AIRFLOW_MLOPS_HOME: the materialized and validated
datasets, the validation report and the Evidently monitoring report are objects in moto's S3 bucket.

The run's worker home is a different, empty folder from the setup's (which holds only the MLflow store, the
stand-in for a tracking server). The materialize task is a stand-in that makes the calls
``operators/features.py`` makes (``save_parquet(frame, settings.model_datasets_dir(model, "score"))``) on a
prepared frame (Feast's own state is covered elsewhere); validate, score and report are the real operators.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml

from tests.conftest import PROJECT, airflow_env, run_cli

from .conftest import files_under

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
MODEL = "ride_demand"
DATE = datetime(2026, 3, 1, tzinfo=UTC)
DAG_FILE = '''"""Score DAG for airflow with object storage: stand-in materialize, real validate, score and report."""

from datetime import datetime

from airflow.sdk import DAG, task

from airflow_mlops.operators.report import EvidentlyReportOperator
from airflow_mlops.operators.score import BatchScoreOperator
from airflow_mlops.operators.validate import GXValidateOperator

SPEC = {spec!r}

with DAG("storage_score", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):

    @task(multiple_outputs=True)
    def materialize(dag_run=None):
        import pandas as pd

        from airflow_mlops import settings
        from airflow_mlops.datasets import save_parquet

        frame = pd.read_parquet(dag_run.conf["source"])
        path, digest = save_parquet(frame, settings.model_datasets_dir("{model}", "score"))  # as features.py
        return {{"dataset": str(path), "digest": digest}}

    found = materialize()
    check = GXValidateOperator(
        task_id="validate", purpose="score", spec_path=SPEC, dataset=found["dataset"], digest=found["digest"]
    )
    score = BatchScoreOperator(
        task_id="score", spec_path=SPEC, dataset=check.output["dataset"], digest=check.output["digest"],
        scores_conn_id="scores_pg",
    )
    score >> EvidentlyReportOperator(task_id="report", spec_path=SPEC)
'''


def register_champion(spec_path, storage_url: str) -> str:
    """Train on 14 days, save the training set to object storage, register the champion with its location."""
    import mlflow
    from sklearn.linear_model import LinearRegression

    from airflow_mlops import settings
    from airflow_mlops.datasets import save_parquet
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.spec import load_spec
    from airflow_mlops.training.preprocess import build_pipeline
    from airflow_mlops.training.serialize import pip_requirements, skops_trusted_types
    from tests.monitoring.conftest import FEATURES, training_frame

    spec = load_spec(spec_path)
    train = training_frame().drop(columns=["created"], errors="ignore")
    path, _ = save_parquet(train, settings.model_datasets_dir(MODEL, "train"))
    assert str(path).startswith(storage_url)
    pipeline = build_pipeline(LinearRegression(), [c for c in FEATURES if c != "zone_type"], ["zone_type"])
    pipeline.fit(train[FEATURES], train[spec.features.label])
    hook = MLflowHook()
    hook.configure()
    experiment = hook.ensure_experiment(MODEL)
    with mlflow.start_run(experiment_id=experiment, tags={"mlops.dataset_path": str(path)}):
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            registered_model_name=MODEL,
            skops_trusted_types=skops_trusted_types(pipeline),
            pip_requirements=pip_requirements(),
        )
    version = str(info.registered_model_version)
    hook.seal_version(MODEL, version)
    hook.get_conn().set_registered_model_alias(MODEL, "champion", version)
    return version


def test_score_run_with_object_storage_leaves_the_worker_home_empty(storage, pg, tmp_path, monkeypatch):
    from tests.monitoring.conftest import period

    setup, worker = tmp_path / "setup", tmp_path / "worker-home"
    tracking = f"sqlite:///{setup / 'mlflow.db'}"
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(setup))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    spec = yaml.safe_load((PROJECT / "dags" / "ride_demand.yaml").read_text())
    spec["promotion"]["rule_files"] = []
    spec_path = tmp_path / "specs" / f"{MODEL}.yaml"
    spec_path.parent.mkdir()
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    register_champion(spec_path, storage.url)
    features, _ = period(days=2, seed=11, drift=True)
    source = tmp_path / "incoming.parquet"  # the input the stand-in materialize reads (not state)
    features.drop(columns=["created"], errors="ignore").to_parquet(source, index=False)

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "storage_score.py").write_text(DAG_FILE.format(spec=str(spec_path), model=MODEL))
    env = airflow_env(tmp_path / "af", dags) | storage.env()
    env |= {
        "AIRFLOW_MLOPS_HOME": str(worker),
        "MLFLOW_TRACKING_URI": tracking,
        "AIRFLOW_CONN_SCORES_PG": pg.airflow_conn_json,
        "AIRFLOW_CONN_MLOPS_STATE": pg.airflow_conn_json,
        "AIRFLOW_MLOPS_EMBEDDED": "false",  # any embedded fallback fails the run instead of writing locally
    }
    assert run_cli(["airflow", "db", "migrate"], env).returncode == 0
    before = files_under(worker)
    conf = json.dumps({"source": str(source)})
    out = run_cli(["airflow", "dags", "test", "storage_score", DATE.isoformat(), "-c", conf], env)
    log = out.stdout + out.stderr
    (tmp_path / "dags-test.log").write_text(log)
    assert "DagRun Finished" in log and "state=success" in log, log[-6000:]

    # Nothing durable on the worker. The one thing left is the DAG-parse rule cache (rules/cache.py): empty
    # marker files that only spare a re-check of a rule's syntax, rebuilt by any parse; losing them loses nothing.
    after = files_under(worker)
    cache = [f for f in after if f.startswith("cache/rules/")]
    assert before == [] and [f for f in after if f not in cache] == [], after
    assert all((worker / f).stat().st_size == 0 for f in cache)
    keys = storage.keys()
    under = {k.removeprefix(storage.prefix + "/").split("/")[0] for k in keys}
    assert under == {"datasets", "reports"}, keys
    score_sets = [k for k in keys if "/datasets/ride_demand/score/" in k and k.endswith(".parquet")]
    assert score_sets, keys
    assert any("/reports/ride_demand/validation/" in k and k.endswith(".html") for k in keys), keys
    monitoring = [k for k in keys if "/reports/ride_demand/monitoring/" in k]
    assert sorted(k.rsplit("/", 1)[1] for k in monitoring) == ["headline.json", "report.html", "report.json"], keys

    import psycopg

    with psycopg.connect(pg.dsn) as conn:
        runs = conn.execute(
            "SELECT dataset_path, rows FROM mlops_score_runs WHERE model_name = %s AND is_current", (MODEL,)
        ).fetchall()
    assert runs and all(path.startswith(storage.url + "/datasets/ride_demand/score/") for path, _ in runs), runs
    assert runs[0][1] == len(features)
