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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_mlops import settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from airflow_mlops.hooks.model_artifact import VerifiedModel


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
    def for_tracking_uri(cls, uri: str) -> MLflowHook:
        """A hook on ``uri`` itself, no Airflow connection (the servability subprocess gets it from its env)."""
        hook = cls()
        hook.__dict__["_settings"] = {"tracking_uri": uri, "artifact_root": None}
        return hook

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

    @staticmethod
    def model_uri(name: str, version: str | int) -> str:
        """The registry URI of one concrete version (never an alias: what serves must be pinned)."""
        return f"models:/{name}/{version}"

    def register_version(self, name: str, model_uri: str, tags: dict[str, str] | None = None) -> ModelVersionRef:
        """Register ``model_uri`` as a new version of registered model ``name`` (created when missing)."""
        import mlflow

        self.configure()
        return ModelVersionRef.of(mlflow.register_model(model_uri, name, tags=tags, await_registration_for=60))

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` of registered model ``name`` at ``version``."""
        self.get_conn().set_registered_model_alias(name, alias, str(version))

    def version_by_alias(self, name: str, alias: str) -> ModelVersionRef | None:
        """The version behind ``name@alias``; None only when the model or the alias does not exist."""
        with _none_if_missing():
            return ModelVersionRef.of(self.get_conn().get_model_version_by_alias(name, alias))
        return None

    def get_version(self, name: str, version: str | int) -> ModelVersionRef | None:
        """Version ``version`` of ``name``; None only when it does not exist."""
        with _none_if_missing():
            return ModelVersionRef.of(self.get_conn().get_model_version(name, str(version)))
        return None

    def versions(self, name: str) -> list[ModelVersionRef]:
        """Every registered version of ``name``, newest first ([] when the model does not exist)."""
        from mlflow.store.entities.paged_list import PagedList

        client, found, token = self.get_conn(), [], None
        while True:
            page: PagedList = client.search_model_versions(f"name='{name}'", page_token=token)
            found += [ModelVersionRef.of(mv) for mv in page]
            token = page.token
            if not token:
                break
        return sorted(found, key=lambda v: int(v.version), reverse=True)

    def aliases(self, name: str) -> dict[str, str] | None:
        """Current aliases of ``name`` (alias → version); None when MLflow does not know the model."""
        with _none_if_missing():
            found = self.get_conn().get_registered_model(name).aliases or {}
            return {str(k): str(v) for k, v in found.items()}
        return None

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        """Set one tag on a model version."""
        self.get_conn().set_model_version_tag(name, str(version), key, value)

    def load_model(self, name: str, version: str, *, known: ModelVersionRef | None = None) -> Any:
        """The scikit-learn model of ``name`` version ``version``, only as our training DAG registered it.

        Checks the version's seal and every file's sha256, then reads ``model.skops`` with our own trust list;
        never pickle. Raises :class:`~airflow_mlops.hooks.model_artifact.ModelArtifactError` otherwise.
        ``known``: the version as just read from the registry (e.g. by :meth:`version_by_alias`): one lookup less.
        """
        return self.load_verified(name, version, known=known).model

    def load_verified(
        self, name: str, version: str, *, with_input: bool = False, known: ModelVersionRef | None = None
    ) -> VerifiedModel:
        """Like :meth:`load_model`, with what the verified MLmodel says about the input (``with_input``)."""
        from airflow_mlops.hooks import model_artifact

        return model_artifact.load_version(self.get_conn(), name, str(version), with_input=with_input, known=known)

    def seal_version(self, name: str, version: str) -> str:
        """Record the digests of a version we just registered (tags ``mlops.model_sha256``/``mlops.model_files``)."""
        from airflow_mlops.hooks import model_artifact

        return model_artifact.seal(self.get_conn(), name, str(version))

    # --- runs ---------------------------------------------------------------------------------------

    def run_tags(self, run_id: str) -> dict[str, str]:
        """Tags of run ``run_id``."""
        return dict(self.get_conn().get_run(run_id).data.tags)

    def run_metrics(self, run_id: str) -> dict[str, float]:
        """Latest value of every metric of run ``run_id`` (flat MLflow names)."""
        return dict(self.get_conn().get_run(run_id).data.metrics)

    def run_experiment_id(self, run_id: str) -> str:
        """The experiment that holds run ``run_id``."""
        return self.get_conn().get_run(run_id).info.experiment_id

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        """Log many metrics to an existing (possibly finished) run in one batch (NaN values are left out)."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items() if v is not None and float(v) == float(v)]
        client = self.get_conn()
        for start in range(0, len(batch), 1000):
            client.log_batch(run_id, metrics=batch[start : start + 1000])

    def log_artifacts(self, run_id: str, paths: list[str], artifact_path: str | None = None) -> None:
        """Upload local files to an existing run's artifacts."""
        client = self.get_conn()
        for path in paths:
            client.log_artifact(run_id, path, artifact_path)

    def log_finished_run(
        self,
        experiment: str,
        run_name: str,
        *,
        tags: dict[str, str],
        metrics: dict[str, float],
        artifacts: list[str] = (),
        artifact_path: str | None = None,
    ) -> str:
        """A new run in ``experiment`` (created when missing) with tags, metrics and files, then ended."""
        client = self.get_conn()
        run = client.create_run(self.ensure_experiment(experiment), run_name=run_name, tags=tags)
        run_id = run.info.run_id
        self.log_metrics(run_id, metrics)
        self.log_artifacts(run_id, list(artifacts), artifact_path)
        client.set_terminated(run_id)
        return run_id


@dataclass(frozen=True)
class ModelVersionRef:
    """One registered model version, as every caller of the hook sees it."""

    name: str
    version: str
    run_id: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    created_time: float = 0.0  # seconds since the epoch; 0.0 when unknown

    @classmethod
    def of(cls, mv: Any) -> ModelVersionRef:
        """From MLflow's ``ModelVersion``."""
        created = getattr(mv, "creation_timestamp", None)
        return cls(
            name=str(mv.name),
            version=str(mv.version),
            run_id=mv.run_id or "",
            tags=dict(getattr(mv, "tags", None) or {}),
            created_time=(created or 0) / 1000.0,
        )


_MISSING_CODES = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}


def is_missing(exc: BaseException) -> bool:
    """True for MLflow's "does not exist" answers (a missing model or version; an unset alias)."""
    from mlflow.exceptions import MlflowException

    if not isinstance(exc, MlflowException):
        return False
    code = getattr(exc, "error_code", "")
    # An unset alias is INVALID_PARAMETER_VALUE "Registered model alias X not found." (stores and REST alike).
    return code in _MISSING_CODES or (code == "INVALID_PARAMETER_VALUE" and "not found" in str(exc))


@contextmanager
def _none_if_missing() -> Iterator[None]:
    """Swallow only "does not exist" (the caller then returns None); every other error propagates."""
    try:
        yield
    except Exception as exc:
        if not is_missing(exc):
            raise
