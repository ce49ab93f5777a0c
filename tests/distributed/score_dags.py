"""Score DAGs for the distributed fault tests and benchmark: stage a dataset in S3 + a sealed champion, then score.

The first task generates a scoring set (deterministic, ``rows`` rows), saves it below ``[mlops] storage_url``
(S3 on the stack) and, when the model has no champion yet, trains a small pipeline on generated data and
registers it in the MLflow server, sealed, as champion. The second is the real :class:`BatchScoreOperator`
writing to the scores database of the connection in ``dag_run.conf["scores_conn_id"]`` (``scores_db`` by default).
No Feast: the stand-in for materialize makes the calls ``operators/features.py`` makes (``save_parquet``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .compose import PROJECT

# docker-compose.yaml sets AIRFLOW__MLOPS__STORAGE_URL (the stack runs with it); the DAG file only defaults it, so the
# same DAG also runs where it is unset, under a prefix of the bucket the aws_default user owns.
STORAGE_URL = "s3://aws_default@mlops-reports/dist-score"

DAG = '''"""Distributed score DAG {dag_id}: stage a dataset in S3 and a champion in MLflow, then BatchScoreOperator."""

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from airflow_mlops.operators.score import BatchScoreOperator

os.environ.setdefault("AIRFLOW__MLOPS__STORAGE_URL", "{storage_url}")
SPEC = {spec!r}
MODEL = {model!r}

with DAG(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["distributed"]):

    @task(multiple_outputs=True, retries=1, retry_delay=timedelta(seconds=2))
    def stage(dag_run=None):
        import numpy as np
        import pandas as pd

        from airflow_mlops import settings
        from airflow_mlops.datasets import save_parquet
        from airflow_mlops.hooks.mlflow import MLflowHook

        rows = int(dag_run.conf.get("rows", 1000))

        def generated(n, seed):
            rng = np.random.default_rng(seed)
            return pd.DataFrame({{
                "zone_id": np.arange(n, dtype="int64"),
                "event_timestamp": pd.Timestamp("2026-03-01", tz="UTC")
                + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
                "hour": rng.integers(0, 24, n),
                "day_of_week": rng.integers(0, 7, n),
                "temperature": rng.normal(15, 8, n),
                "trips_lag_1h": rng.poisson(20, n).astype("float64"),
                "zone_type": rng.choice(["downtown", "residential", "airport"], n),
            }})

        path, digest = save_parquet(generated(rows, 42), settings.model_datasets_dir(MODEL, "score"))
        hook = MLflowHook()
        hook.configure()
        if hook.version_by_alias(MODEL, "champion") is None:
            import mlflow
            from sklearn.linear_model import LinearRegression

            from airflow_mlops.training.preprocess import build_pipeline
            from airflow_mlops.training.serialize import pip_requirements, skops_trusted_types

            train = generated(5_000, 7)
            label = 3 * train["trips_lag_1h"] + train["hour"] - 0.5 * train["temperature"]
            features = ["hour", "day_of_week", "temperature", "trips_lag_1h", "zone_type"]
            pipeline = build_pipeline(LinearRegression(), features[:-1], ["zone_type"]).fit(train[features], label)
            with mlflow.start_run(experiment_id=hook.ensure_experiment(MODEL)):
                info = mlflow.sklearn.log_model(
                    pipeline, name="model", registered_model_name=MODEL,
                    skops_trusted_types=skops_trusted_types(pipeline), pip_requirements=pip_requirements(),
                )
            version = str(info.registered_model_version)
            hook.seal_version(MODEL, version)
            hook.get_conn().set_registered_model_alias(MODEL, "champion", version)
        return {{"dataset": str(path), "digest": digest}}

    staged = stage()
    BatchScoreOperator(
        task_id="score", spec_path=SPEC, dataset=staged["dataset"], digest=staged["digest"],
        scores_conn_id="{{{{ dag_run.conf.get('scores_conn_id', 'scores_db') }}}}",
        retries=2, retry_delay=timedelta(seconds=2),
    )
'''


def write_spec(folder: Path, model: str, table: str) -> Path:
    """ride_demand's spec renamed to ``model``, scoring into ``table`` of ``scores_db`` (no promotion rules)."""
    spec = yaml.safe_load((PROJECT / "dags" / "ride_demand.yaml").read_text())
    spec["model"]["name"] = model
    spec["scoring"]["destination"] = {"conn_id": "scores_db", "table": table}
    spec["promotion"]["rule_files"] = []
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def write_score_dag(dags_folder: Path, specs: Path, dag_id: str, model: str, table: str) -> str:
    """Write the DAG file (and its spec, outside the dags folder so no spec DAG is generated); return the id."""
    spec = write_spec(specs, model, table)
    text = DAG.format(dag_id=dag_id, spec=str(spec), model=model, storage_url=STORAGE_URL)
    (dags_folder / f"{dag_id}.py").write_text(text)
    return dag_id
