"""Where airflow-mlops keeps its state.

Everything the embedded defaults write (MLflow store, Feast registry and online store, scores
database, reports, datasets) lives under one folder, the *MLOps home*: ``$AIRFLOW_MLOPS_HOME``, or
``$AIRFLOW_HOME/mlops`` when unset. Deleting that folder starts over.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "AIRFLOW_MLOPS_HOME"


def mlops_home() -> Path:
    """The folder holding all embedded state; created on first use."""
    raw = os.environ.get(HOME_ENV)
    if raw:
        home = Path(raw)
    else:
        airflow_home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
        home = Path(airflow_home) / "mlops"
    home = home.expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def home_path(*parts: str) -> Path:
    """A path under the MLOps home, its parent folder created."""
    path = mlops_home().joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Parquet inputs: feature sources, labels, scoring entities."""
    return _dir("data")


def reports_dir() -> Path:
    """Evidently, validation and evaluation reports (HTML + JSON)."""
    return _dir("reports")


def datasets_dir() -> Path:
    """Training sets and scoring inputs materialized by a run, named by their content hash."""
    return _dir("datasets")


def _dir(name: str) -> Path:
    path = mlops_home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_mlflow_uri() -> str:
    """Embedded MLflow tracking store: SQLite under the MLOps home."""
    return f"sqlite:///{home_path('mlflow', 'mlflow.db')}"


def default_artifact_root() -> str:
    """Embedded MLflow artifact root: a local folder under the MLOps home."""
    return _dir("mlflow").joinpath("artifacts").as_uri()


def default_scores_uri() -> str:
    """Embedded scores database: SQLite under the MLOps home."""
    return f"sqlite:///{home_path('scores.db')}"


def model_datasets_dir(model: str, purpose: str) -> Path:
    """Datasets of one model and purpose (``train`` or ``score``): ``datasets/<model>/<purpose>/``."""
    return _dir(f"datasets/{model}/{purpose}")


def model_reports_dir(model: str) -> Path:
    """Reports of one model: ``reports/<model>/``."""
    return _dir(f"reports/{model}")
