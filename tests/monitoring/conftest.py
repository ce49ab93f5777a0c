"""Monitoring fixtures: a model spec in a temp dags folder, a champion in a temp MLflow store, data periods."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT

END = datetime(2026, 3, 1, tzinfo=UTC)
FEATURES = ["hour", "day_of_week", "temperature", "trips_lag_1h", "zone_type"]


def deep_update(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


def write_spec(dags: Path, **changes: Any) -> Path:
    """ride_demand.yaml (+ its stub) in ``dags`` with ``changes`` applied (nested dicts merge)."""
    spec = yaml.safe_load((PROJECT / "dags" / "ride_demand.yaml").read_text())
    spec["promotion"]["rule_files"] = []
    deep_update(spec, changes)
    dags.mkdir(parents=True, exist_ok=True)
    path = dags / "ride_demand.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    shutil.copy(PROJECT / "dags" / "ride_demand.py", dags / "ride_demand.py")
    return path


@pytest.fixture(scope="session")
def champion_template(tmp_path_factory) -> Path:
    """An MLOps home whose MLflow store holds a ride_demand champion trained on 14 stable days (built once)."""
    import os

    from airflow_mlops.spec import load_spec

    root = tmp_path_factory.mktemp("monitoring-template")
    saved = {k: os.environ.get(k) for k in ("AIRFLOW_MLOPS_HOME", "MLFLOW_TRACKING_URI")}
    os.environ["AIRFLOW_MLOPS_HOME"] = str(root / "mlops")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        register_champion(load_spec(write_spec(root / "dags")), training_frame())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return root / "mlops"


@pytest.fixture
def home(tmp_path, monkeypatch, champion_template) -> Path:
    """A fresh MLOps home for one test: a copy of the template (champion registered, empty retrain ledger)."""
    mlops = tmp_path / "mlops"
    shutil.copytree(champion_template, mlops)
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(mlops))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return mlops


class TaskInstanceStandIn:
    """The two TaskInstance calls the operators make, for calling ``execute`` outside a DAG run.

    (The DAG-level tests in test_monitor_dag.py run the same operators in real Airflow task runs.)
    """

    def __init__(self, upstream: dict[str, Any] | None = None) -> None:
        self.upstream = upstream or {}
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str) -> Any:
        return self.upstream.get(task_ids)


@pytest.fixture
def spec_path(tmp_path, home) -> Path:
    return write_spec(tmp_path / "dags")


def period(days: int, seed: int, drift: bool = False, zones: int = 4):
    """``(features, labels)`` of ride_demand for ``days`` up to END; ``drift`` makes a drifted period."""
    from include.datagen import Defects, ride_demand

    return ride_demand(zones=zones, days=days, seed=seed, end=END, defects=Defects(drift=drift))


def write_score_input(model: str, frame, name: str = "score.parquet") -> Path:
    from airflow_mlops import settings

    path = settings.model_datasets_dir(model, "score") / name
    frame.drop(columns=["created"], errors="ignore").to_parquet(path, index=False)
    return path


def write_labels(spec, labels) -> Path:
    from airflow_mlops import settings

    path = settings.data_dir() / spec.features.label_source
    labels.to_parquet(path, index=False)
    return path


def register_champion(spec, train_frame, tags: dict[str, str] | None = None) -> str:
    """Fit a small pipeline on ``train_frame``, register it and point ``champion`` at it; returns the version."""
    import mlflow
    from sklearn.linear_model import LinearRegression

    from airflow_mlops import settings
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.training.hashing import code_version, spec_hash
    from airflow_mlops.training.preprocess import build_pipeline
    from airflow_mlops.training.serialize import pip_requirements, skops_trusted_types

    model = spec.model.name
    path = settings.model_datasets_dir(model, "train") / "train.parquet"
    train_frame.drop(columns=["created"], errors="ignore").to_parquet(path, index=False)
    pipeline = build_pipeline(LinearRegression(), [c for c in FEATURES if c != "zone_type"], ["zone_type"])
    pipeline.fit(train_frame[FEATURES], train_frame[spec.features.label])
    hook = MLflowHook()
    hook.configure()
    experiment = hook.ensure_experiment(model)
    run_tags = {
        "mlops.dataset_path": str(path),
        "mlops.spec_hash": spec_hash(spec),
        "mlops.code_version": code_version(),
        **(tags or {}),
    }
    with mlflow.start_run(experiment_id=experiment, tags=run_tags):
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            registered_model_name=model,
            skops_trusted_types=skops_trusted_types(pipeline),
            pip_requirements=pip_requirements(),
        )
    version = str(info.registered_model_version)
    hook.seal_version(model, version)  # as the training DAG does
    hook.get_conn().set_registered_model_alias(model, "champion", version)
    return version


def training_frame(days: int = 14, seed: int = 7):
    features, labels = period(days, seed)
    return features.assign(trips=labels["trips"].to_numpy())
