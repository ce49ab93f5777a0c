"""MLflow hook: tracking URI (and credentials) from an Airflow connection.

Connection ``mlflow_default`` (any conn type): ``host`` is the tracking URI, e.g.
``http://mlflow:5000`` or ``sqlite:////data/mlflow.db``; ``login``/``password`` become
``MLFLOW_TRACKING_USERNAME``/``PASSWORD``; extra ``{"artifact_root": "s3://bucket/mlflow"}`` sets where
new experiments store artifacts. Without that connection (defined by no secrets backend) the hook uses
``MLFLOW_TRACKING_URI``, else the embedded store under the MLOps home: SQLite plus a local artifact folder.
A connection that cannot be read fails, naming the conn id; URIs are redacted in logs and registered with
Airflow's secrets masker (:mod:`airflow_mlops.redact`).
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_mlops import settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


class MLflowHook(BaseHook):
    """Gives an :class:`mlflow.tracking.MlflowClient` configured from ``mlflow_conn_id``."""

    conn_name_attr = "mlflow_conn_id"
    default_conn_name = "mlflow_default"
    conn_type = "mlflow"
    hook_name = "MLflow"

    def __init__(self, mlflow_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mlflow_conn_id = mlflow_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form: the tracking URI as host, credentials as login/password."""
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"host": "Tracking URI", "login": "Username", "password": "Password"},
            "placeholders": {
                "host": "http://mlflow:5000 or sqlite:////data/mlflow.db",
                "login": "MLFLOW_TRACKING_USERNAME (optional)",
                "extra": '{"artifact_root": "s3://bucket/mlflow"}',
            },
        }

    def test_connection(self) -> tuple[bool, str]:
        """Ask the tracking server (or store) for one experiment."""
        from airflow_mlops.redact import redact_text

        try:
            self.get_conn().search_experiments(max_results=1)
        except Exception as exc:
            return False, f"MLflow at {self.redacted_uri}: {type(exc).__name__}: {redact_text(str(exc))[:500]}"
        return True, f"MLflow at {self.redacted_uri} answered"

    @cached_property
    def _settings(self) -> dict[str, Any]:
        """Tracking URI and credentials: the connection, else ``MLFLOW_TRACKING_URI``, else the embedded store.

        Only a connection that no secrets backend defines falls through; a failed lookup raises, naming the
        conn id (see :mod:`airflow_mlops.hooks.connections`). Credentials are registered with the masker.
        """
        from airflow_mlops.hooks.connections import check_embedded_allowed, get_optional
        from airflow_mlops.redact import mask, mask_uri

        conn = get_optional(self.mlflow_conn_id, self.get_connection)  # raises on lookup errors
        if conn is not None and conn.host:
            uri = conn.host if "://" in conn.host else f"http://{conn.host}:{conn.port or 5000}"
            mask(conn.password)
            self.log.info("MLflow tracking URI from connection %r: %s", self.mlflow_conn_id, mask_uri(uri))
            return {
                "tracking_uri": uri,
                "username": conn.login,
                "password": conn.password,
                "artifact_root": conn.extra_dejson.get("artifact_root"),
            }
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if uri:
            source = "MLFLOW_TRACKING_URI"
        else:
            check_embedded_allowed(self.mlflow_conn_id, "MLflow store (SQLite under the MLOps home)")
            uri, source = settings.default_mlflow_uri(), "the embedded store"
        self.log.info(
            "connection %r %s: MLflow tracking URI from %s: %s",
            self.mlflow_conn_id,
            "has no host" if conn is not None else "is not defined",
            source,
            mask_uri(uri),
        )
        # A tracking server decides where artifacts go; for a local store (sqlite, file) MLflow would
        # otherwise default to ./mlruns in the worker's current folder.
        remote = uri.startswith(("http://", "https://", "databricks"))
        return {"tracking_uri": uri, "artifact_root": None if remote else settings.default_artifact_root()}

    @property
    def redacted_uri(self) -> str:
        """The tracking URI without credentials, for log lines and error messages."""
        from airflow_mlops.redact import redact_uri

        return redact_uri(self.tracking_uri)

    @property
    def tracking_uri(self) -> str:
        return self._settings["tracking_uri"]

    def configure(self) -> str:
        """Point the ``mlflow`` module at this connection; returns the tracking URI."""
        import mlflow

        if self._settings.get("username"):
            os.environ["MLFLOW_TRACKING_USERNAME"] = self._settings["username"]
            os.environ["MLFLOW_TRACKING_PASSWORD"] = self._settings["password"] or ""
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        return self.tracking_uri

    def get_conn(self) -> MlflowClient:
        """An MlflowClient for this connection."""
        from mlflow.tracking import MlflowClient

        self.configure()
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def ensure_experiment(self, name: str) -> str:
        """Experiment id of ``name``, creating it (with the configured artifact root) when missing."""
        client = self.get_conn()
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        return client.create_experiment(name, artifact_location=self._artifact_location(name))

    def _artifact_location(self, name: str) -> str | None:
        root = self._settings.get("artifact_root")
        return f"{root.rstrip('/')}/{name}" if root else None

    def run_url(self, experiment_id: str, run_id: str) -> str:
        """Link to a run in the MLflow UI (set ``[mlops] mlflow_ui_url`` / MLFLOW_UI_URL for the embedded store)."""
        base = os.environ.get("MLFLOW_UI_URL") or (
            self.tracking_uri if self.tracking_uri.startswith("http") else "http://localhost:5000"
        )
        return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"

    # --- registry -----------------------------------------------------------------------------------

    def register_version(self, name: str, model_uri: str, tags: dict[str, str] | None = None) -> Any:
        """Register ``model_uri`` as a new version of registered model ``name`` (created when missing)."""
        import mlflow

        self.configure()
        return mlflow.register_model(model_uri, name, tags=tags, await_registration_for=60)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` of registered model ``name`` at ``version``."""
        self.get_conn().set_registered_model_alias(name, alias, str(version))

    def version_by_alias(self, name: str, alias: str) -> Any | None:
        """The ModelVersion behind ``name@alias``, or None when the model or the alias does not exist."""
        from mlflow.exceptions import MlflowException

        try:
            return self.get_conn().get_model_version_by_alias(name, alias)
        except MlflowException:
            return None

    def load_model(self, name: str, version: str) -> Any:
        """The scikit-learn model of ``name`` version ``version``, only as our training DAG registered it.

        Checks the version's seal and every file's sha256, then reads ``model.skops`` with our own trust list;
        never pickle. Raises :class:`~airflow_mlops.hooks.model_artifact.ModelArtifactError` otherwise.
        """
        from airflow_mlops.hooks import model_artifact

        return model_artifact.load_version(self.get_conn(), name, str(version)).model

    def seal_version(self, name: str, version: str) -> str:
        """Record the digests of a version we just registered (tags ``mlops.model_sha256``/``mlops.model_files``)."""
        from airflow_mlops.hooks import model_artifact

        return model_artifact.seal(self.get_conn(), name, str(version))

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        """Log many metrics to an existing (possibly finished) run in one batch."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(key, float(value), now, step) for key, value in metrics.items()]
        client = self.get_conn()
        for start in range(0, len(batch), 1000):
            client.log_batch(run_id, metrics=batch[start : start + 1000])

    def log_artifacts(self, run_id: str, paths: list[str], artifact_path: str | None = None) -> None:
        """Upload local files to an existing run's artifacts."""
        client = self.get_conn()
        for path in paths:
            client.log_artifact(run_id, path, artifact_path)
