"""A temporary MLflow store and MLOps home per test, with helpers that register small sklearn models."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from airflow_mlops.spec import load_spec

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path, monkeypatch):
    """``(client, tracking_uri)`` of an empty SQLite MLflow store; history and home under tmp_path."""
    from mlflow.tracking import MlflowClient

    home = tmp_path / "mlops"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("AIRFLOW_MLOPS_HISTORY_URI", raising=False)
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("ride_demand", artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    return client, uri


@pytest.fixture
def sample(tmp_path) -> Path:
    """A parquet of real-looking input with the columns the test models take."""
    import pandas as pd

    path = tmp_path / "sample.parquet"
    pd.DataFrame({"x1": [float(i) for i in range(50)], "x2": [float(i % 7) for i in range(50)]}).to_parquet(path)
    return path


DESIGN_SKETCH_WHEN = 'metrics["mae"] <= 5'


@pytest.fixture
def spec(tmp_path):
    """The ride_demand example spec with the design sketch's selection rule (WHEN mae <= 5)."""
    text = (PROJECT / "dags" / "ride_demand.yaml").read_text()
    sketch = re.sub(r'when: metrics\["mae"\] <= \d+', f"when: {DESIGN_SKETCH_WHEN}", text, count=1)
    assert DESIGN_SKETCH_WHEN in sketch
    path = tmp_path / "ride_demand.yaml"
    path.write_text(sketch)
    return load_spec(path)


def register(name: str, metrics: dict[str, float], broken: bool = False) -> str:
    """Train a tiny LinearRegression, log it with ``metrics`` and register it; returns the version."""
    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LinearRegression

    from airflow_mlops.hooks.model_artifact import seal

    x = pd.DataFrame({"x1": np.arange(20, dtype=float), "x2": np.arange(20, dtype=float) % 7})
    model = LinearRegression().fit(x, x["x1"] * 2 + x["x2"])
    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics)
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=x.head(3), pip_requirements=["scikit-learn"], registered_model_name=name
        )
    version = str(info.registered_model_version)
    seal(MlflowClient(tracking_uri=mlflow.get_tracking_uri()), name, version)  # as the training DAG does
    if broken:  # keep the registry entry, lose the weights: loading fails
        folder = Path(mlflow.get_logged_model(info.model_id).artifact_location.removeprefix("file://"))
        for item in folder.iterdir():
            if item.name != "MLmodel":
                shutil.rmtree(item) if item.is_dir() else item.unlink()
    assert run.info.run_id
    return version


def evaluation(challenger: tuple[str, dict] | None, champion: tuple[str, dict] | None = None) -> dict:
    """An evaluate-like XCom value."""

    def entry(item):
        return None if item is None else {"version": item[0], "run_id": None, "metrics": item[1], "slice_metrics": {}}

    return {"challenger": entry(challenger), "champion": entry(champion), "better": "challenger"}


def hook_for(client):
    """An MLflowHook whose every call goes through ``client`` (an MlflowClient, or a test double that
    misbehaves: a dying or slow tracking server cannot be had here)."""
    from airflow_mlops.hooks.mlflow import MLflowHook

    class ClientHook(MLflowHook):
        def get_conn(self):
            return client

    uri = getattr(client, "tracking_uri", None) or os.environ.get("MLFLOW_TRACKING_URI", "")
    hook = ClientHook.for_tracking_uri(uri)
    return hook
