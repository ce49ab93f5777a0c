"""Train the spec's scikit-learn pipeline, log it to MLflow and register it as the ``challenger``."""

from __future__ import annotations

import time
from typing import Any

from airflow_mlops.hooks.mlflow import MLflowHook
from airflow_mlops.links import MLflowRunLink
from airflow_mlops.monitoring.reason import trigger_reason
from airflow_mlops.operators.base import MLflowSpecOperator, mlflow_template_fields, required

CHALLENGER = "challenger"
MODEL_ARTIFACT = "model"


def run_tags(context: Any, spec: Any, dataset: str, digest: str) -> dict[str, str]:
    """The ``mlops.*`` run tags of docs/architecture.md."""
    from airflow_mlops.training.hashing import code_version, spec_hash

    ti = context["ti"]
    tags = {
        "mlops.spec_hash": spec_hash(spec),
        "mlops.code_version": code_version(),
        "mlops.dag_id": str(ti.dag_id),
        "mlops.dag_run_id": str(context.get("run_id") or ti.run_id),
        "mlops.trigger_reason": trigger_reason(context),
        "mlops.dataset_path": dataset,
        "mlops.dataset_digest": digest,
        "mlops.model_name": spec.model.name,
        "mlops.team": spec.model.team,
        "mlops.domain": spec.model.domain,
    }
    note = (context.get("params") or {}).get("note")
    if note:
        tags["mlops.note"] = str(note)
    return tags


class MLflowTrainOperator(MLflowSpecOperator):
    """Fit ``spec.training.estimator`` on the validated training set and register it in MLflow.

    Reads ``dataset`` (the validated training set), holds out the most recent ``training.holdout.fraction``
    of rows, fits on the rest, logs params, holdout metrics (overall and per slice), the dataset input,
    the model (signature + input example) and the ``mlops.*`` tags, registers a new version of
    ``spec.model.name``, seals it (sha256 of every model file as tag ``mlops.model_sha256`` on the version and
    the run; see :mod:`airflow_mlops.hooks.model_artifact`) and points the ``challenger`` alias at it.

    :param dataset: parquet path of the validated training set (templated; e.g. ``validate.output["dataset"]``).
    :param digest: its sha256 (templated); computed from the file when not given.
    :param mlflow_conn_id: connection of the MLflow tracking server / registry (templated).
    :return: ``run_id``, ``experiment_id``, ``model_version``, ``model_uri``, ``model_sha256``, ``metrics``,
        ``slice_metrics``, ``window``, ``dataset``, ``digest`` (each also an XCom of its own).
    """

    template_fields = mlflow_template_fields("dataset", "digest")
    operator_extra_links = (MLflowRunLink(),)
    ui_color = "#d4f1e8"

    def __init__(self, *, dataset: str, digest: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.digest = digest

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_mlops.threads import thread_limit
        from airflow_mlops.validation.errors import DataError

        try:
            with thread_limit():
                return self._train(context)
        except DataError as exc:  # the same data fails the same way: no retry
            raise AirflowFailException(f"data error: {exc}") from exc

    def _train(self, context: Any) -> dict[str, Any]:

        from airflow_mlops.datasets import file_digest, read_parquet
        from airflow_mlops.training.fit import train
        from airflow_mlops.training.metrics import flatten

        spec = self.spec
        dataset = str(required(self.dataset, "dataset"))
        digest = str(self.digest or file_digest(dataset))
        frame = read_parquet(dataset)
        self.log.info("training %s on %s (%d rows, digest %s)", spec.model.name, dataset, len(frame), digest[:12])

        result = train(frame, spec)
        self.log.info(
            "fit %s on %d rows in %.2f s; fresh window %s..%s (%d rows): %s",
            spec.training.estimator,
            result.window.train_rows,
            result.fit_seconds,
            result.window.start,
            result.window.end,
            result.window.rows,
            result.metrics,
        )

        hook = self.hook
        started = time.perf_counter()
        run_id, experiment_id, model_uri = self._log_run(hook, context, frame, dataset, digest, result, flatten)
        logged = time.perf_counter()
        version = hook.register_version(spec.model.name, model_uri, tags={"mlops.run_id": run_id})
        model_sha256 = hook.seal_version(spec.model.name, version.version)  # loads verify every file against it
        hook.set_alias(spec.model.name, CHALLENGER, version.version)
        self.log.info(
            "logged run %s in %.2f s; registered %s version %s (model sha256 %s) as %s in %.2f s",
            run_id,
            logged - started,
            spec.model.name,
            version.version,
            model_sha256[:12],
            CHALLENGER,
            time.perf_counter() - logged,
        )
        MLflowRunLink.persist(context, hook.run_url(experiment_id, run_id))
        return {
            "run_id": run_id,
            "experiment_id": experiment_id,
            "model_version": str(version.version),
            "model_uri": hook.model_uri(spec.model.name, version.version),
            "model_sha256": model_sha256,
            "metrics": result.metrics,
            "slice_metrics": result.slice_metrics,
            "window": result.window.as_dict(),
            "dataset": dataset,
            "digest": digest,
        }

    def _log_run(
        self, hook: MLflowHook, context: Any, frame: Any, dataset: str, digest: str, result: Any, flatten: Any
    ) -> tuple[str, str, str]:
        """Log params, metrics, dataset, tags and the model in one MLflow run; returns (run, experiment, model uri)."""
        import mlflow
        import mlflow.sklearn
        from mlflow.models import infer_signature

        from airflow_mlops.training.serialize import pip_requirements, quiet_skops, skops_trusted_types

        spec = self.spec
        hook.configure()
        experiment_id = hook.ensure_experiment(spec.model.name)
        features = spec.features.feature_names
        tags = run_tags(context, spec, dataset, digest)
        with mlflow.start_run(experiment_id=experiment_id, run_name=tags["mlops.dag_run_id"], tags=tags) as run:
            mlflow.log_params(self._params(result))
            mlflow.log_metrics(flatten(result.metrics, result.slice_metrics))
            data = mlflow.data.from_pandas(
                frame, source=dataset, targets=spec.features.label, name=f"{spec.model.name}-train"
            )
            mlflow.log_input(data, context="training")
            example = result.train[features].head(5)
            sample = result.train[features].head(500)
            with quiet_skops():
                info = mlflow.sklearn.log_model(
                    result.pipeline,
                    name=MODEL_ARTIFACT,
                    signature=infer_signature(sample, result.pipeline.predict(sample)),
                    input_example=example,
                    pip_requirements=pip_requirements(),
                    skops_trusted_types=skops_trusted_types(result.pipeline),
                )
            mlflow.set_tag("mlops.mlflow_dataset_digest", data.digest)
        return run.info.run_id, experiment_id, info.model_uri

    def _params(self, result: Any) -> dict[str, str]:
        t = self.spec.training
        params = {f"estimator.{k}": v for k, v in result.params.items()}
        params.update(
            {
                "estimator": t.estimator,
                "holdout.by": t.holdout.by,
                "holdout.fraction": t.holdout.fraction,
                "features.numeric": ",".join(result.numeric),
                "features.categorical": ",".join(result.categorical),
                "rows.train": result.window.train_rows,
                "rows.holdout": result.window.rows,
                "window.start": result.window.start,
                "window.end": result.window.end,
            }
        )
        return {k: str(v)[:6000] for k, v in params.items()}
