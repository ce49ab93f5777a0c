"""Where airflow-mlops keeps its state.

Everything the embedded defaults write (MLflow store, Feast registry and online store, scores
database, state database, reports, datasets) lives under one folder, the *MLOps home*: ``$AIRFLOW_MLOPS_HOME``, else
``[mlops] home`` of Airflow's config (the demo writes it into its Airflow home), else ``$AIRFLOW_HOME/mlops``.
Deleting that folder starts over. A deployment moves each kind of state to a service: datasets and reports
to ``[mlops] storage_url`` (object storage), the rest to connections (docs/deploy.md has the map).

Deployment limits live in Airflow's config, section ``[mlops]`` (or ``AIRFLOW__MLOPS__<KEY>``), read by
:func:`mlops_option` without importing Airflow (``airflow-mlops validate`` stays fast).
"""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path
from typing import Any

HOME_ENV = "AIRFLOW_MLOPS_HOME"

# Upper bounds of estimator parameters that size a training job (CPU, memory, time), by parameter name.
# Override per deployment: ``[mlops] estimator_param_limits = n_estimators=20000, n_jobs=32``.
DEFAULT_PARAM_LIMITS: dict[str, int] = {
    "n_estimators": 5_000,
    "max_iter": 100_000,
    "max_fun": 1_000_000,
    "n_jobs": 16,
    "max_depth": 128,
    "max_leaf_nodes": 65_536,
    "hidden_layer_sizes": 10_000,
    "n_neighbors": 10_000,
    "n_components": 10_000,
    "n_clusters": 10_000,
    "n_init": 100,
    "n_restarts_optimizer": 100,
    "n_alphas": 10_000,
    "max_trials": 100_000,
    "cache_size": 4_096,
    "batch_size": 1_000_000,
}
PARAM_LIMITS_OPTION = "estimator_param_limits"
STORAGE_OPTION = "storage_url"


def mlops_home() -> Path:
    """The folder holding all embedded state; created on first use."""
    raw = os.environ.get(HOME_ENV) or mlops_option("home")
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
    """Local parquet inputs: feature sources, labels, scoring entities (readers use :func:`input_path`)."""
    return _dir("data")


def input_path(relative: str) -> Any:
    """An input file named relative to the data folder (a spec's ``label_source`` / ``scoring_source``).

    ``<MLOps home>/data/<relative>`` (symbolic links resolved, kept inside), or with ``[mlops] storage_url``
    the object ``<storage_url>/data/<relative>``, which every worker reads alike.
    """
    url = storage_url()
    if url is None:
        from airflow_mlops.spec.paths import inside

        return inside(data_dir(), relative)
    from airflow_mlops.datasets import location
    from airflow_mlops.spec.paths import check_relative

    return location(f"{url}/data/{check_relative(relative)}")


def reports_dir() -> Path:
    """Evidently, validation and evaluation reports (HTML + JSON)."""
    return _dir("reports")


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


def storage_url() -> str | None:
    """``[mlops] storage_url``: the base URL of datasets and reports (e.g. ``s3://aws_default@bucket/prefix``).

    Unset (the embedded default): they are files under the MLOps home. See :mod:`airflow_mlops.datasets`.
    """
    value = (mlops_option(STORAGE_OPTION) or "").strip().rstrip("/")
    return value or None


def _stored(relative: str) -> Any:
    """``<storage root>/<relative>``: a created folder under the MLOps home, or an object-store prefix."""
    if storage_url() is None:
        return _dir(relative)
    from airflow_mlops.datasets import storage_root

    return storage_root() / relative


def model_datasets_dir(model: str, purpose: str) -> Any:
    """Datasets of one model and purpose (``train`` or ``score``): ``datasets/<model>/<purpose>/``.

    A :class:`~pathlib.Path` under the MLOps home, or an :class:`~airflow.sdk.ObjectStoragePath` below
    ``[mlops] storage_url``.
    """
    return _stored(f"datasets/{model}/{purpose}")


def model_reports_dir(model: str) -> Any:
    """Reports of one model: ``reports/<model>/`` (a local folder or an object-store prefix, as datasets)."""
    return _stored(f"reports/{model}")


def mlops_option(key: str) -> str | None:
    """``[mlops] <key>``: ``AIRFLOW__MLOPS__<KEY>``, else Airflow's loaded config, else ``airflow.cfg``."""
    env = os.environ.get(f"AIRFLOW__MLOPS__{key.upper()}")
    if env is not None:
        return env
    if "airflow.configuration" in sys.modules:  # inside Airflow: its config, secrets backends included
        from airflow.configuration import conf

        return conf.get("mlops", key, fallback=None)
    airflow_home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(os.environ.get("AIRFLOW_CONFIG") or Path(airflow_home) / "airflow.cfg", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    return parser.get("mlops", key, fallback=None)


def estimator_param_limits() -> dict[str, int]:
    """:data:`DEFAULT_PARAM_LIMITS` with ``[mlops] estimator_param_limits`` (``name=int, ...``) applied.

    :raises ValueError: the setting has an entry that is not ``name=integer``.
    """
    limits = dict(DEFAULT_PARAM_LIMITS)
    raw = mlops_option(PARAM_LIMITS_OPTION) or ""
    for entry in filter(None, (e.strip() for e in raw.replace("\n", ",").split(","))):
        name, sep, value = (part.strip() for part in entry.partition("="))
        if not (sep and name and value.isdigit()):
            raise ValueError(f"[mlops] {PARAM_LIMITS_OPTION}: {entry[:60]!r} is not name=integer")
        limits[name] = int(value)
    return limits
