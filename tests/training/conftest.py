"""Helpers to run the train/evaluate operators outside Airflow against a real SQLite MLflow store."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[2]


@dataclass
class FakeDagRun:
    run_id: str
    conf: dict[str, Any] = field(default_factory=dict)


class TaskInstance:
    """The part of an Airflow TaskInstance the operators use: XCom pull (from a dict) and push."""

    def __init__(self, dag_id: str, run_id: str, task_id: str, results: dict[str, Any]) -> None:
        self.dag_id, self.run_id, self.task_id = dag_id, run_id, task_id
        self.results = results
        self.pushed: dict[str, Any] = {}

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.results.get(task_ids) if key == "return_value" else None

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def make_context(
    model: str, task_id: str, results: dict[str, Any], run_id: str = "manual__1", reason: str = "manual"
) -> dict[str, Any]:
    """A small, real context: ti, params, dag_run and run_id, like Airflow passes to execute()."""
    ti = TaskInstance(f"{model}__train", run_id, task_id, results)
    return {
        "ti": ti,
        "params": {"reason": reason, "note": ""},
        "dag_run": FakeDagRun(run_id=run_id, conf={}),
        "run_id": run_id,
    }


def spec_path(model: str) -> str:
    return str(PROJECT / "dags" / f"{model}.yaml")


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory) -> Path:
    """An empty SQLite MLflow store with its schema created once (migrations take seconds)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(scope="module")
def mlops_home(tmp_path_factory, migrated_mlflow_db):
    """A fresh MLOps home (and so a fresh SQLite MLflow store, copied from the template) per test module."""
    home = tmp_path_factory.mktemp("mlops-home")
    (home / "mlflow").mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow" / "mlflow.db")
    old = {k: os.environ.get(k) for k in ("AIRFLOW_MLOPS_HOME", "MLFLOW_TRACKING_URI")}
    os.environ["AIRFLOW_MLOPS_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield home
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def write_training_set(model: str, out: Path, **sizes: Any) -> Path:
    """Features merged with labels on entity + event_timestamp, from include.datagen, as one parquet."""
    from include import datagen

    features, labels = datagen.GENERATORS[model](**sizes)
    entity = {"ride_demand": "zone_id", "rider_churn": "rider_id"}[model]
    frame = features.drop(columns=["created"]).merge(labels, on=[entity, "event_timestamp"])
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    return out
