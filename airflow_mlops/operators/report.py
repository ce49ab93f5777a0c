"""Evidently monitoring report: feature drift, prediction drift and live model quality of the champion."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from airflow_mlops.links import ReportLink
from airflow_mlops.operators.base import MLflowSpecOperator

PLUGIN_PREFIX = "/mlops-reports"


class EvidentlyReportOperator(MLflowSpecOperator):
    """Compare the newest scoring input with the champion's training set and save an Evidently report.

    Reference: the training set recorded on the champion's run (tag ``mlops.dataset_path``). Current: the
    newest parquet in ``datasets/<model>/score/``. Each side is sampled to ``monitoring.drift.sample_rows``
    rows (uniform, seeded) so a large input costs a bounded time and memory. Both sides are predicted with
    the champion (prediction drift); labels for the current rows are joined from the label source on
    entity + timestamp, and when they have arrived the live quality metrics are computed.

    Saves ``report.html``/``report.json`` under ``reports/<model>/monitoring/<report_id>/`` below the storage
    root (``[mlops] storage_url``, else the MLOps home, where ``monitoring.report_conn_id`` + ``report_bucket``
    send them to S3); reads both datasets through :func:`airflow_mlops.datasets.read_parquet`. Logs the headline
    numbers to a monitoring run in the model's MLflow experiment and returns them (XCom): ``report_id``,
    ``html``, ``json``, ``drift`` (``share``, ``count``, ``threshold``, ``detected``, ``scores``),
    ``prediction_drift``, ``quality``, ``labelled_rows``, ``champion_version``, ``reference_rows``,
    ``current_rows``, ``sampled``, ``mlflow_run_id``. Returns ``{"report_id": None, "skipped": why}`` when
    there is nothing to compare.

    :param mlflow_conn_id: MLflow connection (templated).
    """

    operator_extra_links = (ReportLink(),)
    ui_color = "#fde8e8"

    def execute(self, context: Any) -> dict[str, Any]:
        import pandas as pd

        from airflow_mlops.datasets import read_parquet
        from airflow_mlops.monitoring import data
        from airflow_mlops.monitoring.evidently_report import build_report
        from airflow_mlops.monitoring.quality import quality_metrics
        from airflow_mlops.monitoring.store import save_report

        spec, model = self.spec, self.spec.model.name
        hook = self.hook
        champion = data.champion(hook, model)
        if champion is None:
            return self._skip(f"{model} has no champion yet")
        if not champion.dataset_path:
            return self._skip(f"champion v{champion.version} has no mlops.dataset_path tag")
        current_path = data.newest_score_input(model)
        if current_path is None:
            return self._skip(f"no scoring input under datasets/{model}/score/")

        f, rows = spec.features, spec.monitoring.drift.sample_rows
        with data.log_duration(self.log, "loading and sampling inputs"):
            reference_full = read_parquet(champion.dataset_path)
            current_full = read_parquet(current_path)
            reference = data.sample(reference_full, rows).reset_index(drop=True)
            current = data.sample(current_full, rows).reset_index(drop=True)
        self.log.info(
            "reference %s: %d rows (%d used); current %s: %d rows (%d used)",
            champion.dataset_path,
            len(reference_full),
            len(reference),
            current_path,
            len(current_full),
            len(current),
        )
        with data.log_duration(self.log, f"predicting with champion v{champion.version}"):
            estimator = hook.load_model(champion.name, champion.version)  # sealed, verified, skops only
            reference[data.PREDICTION] = data.prediction_column(estimator, spec.model.task, reference[f.feature_names])
            current[data.PREDICTION] = data.prediction_column(estimator, spec.model.task, current[f.feature_names])
        current = data.attach_labels(spec, current)
        labelled = current[f.label].notna() if f.label in current.columns else pd.Series(False, index=current.index)
        quality = None
        if labelled.any():
            quality = quality_metrics(
                spec.model.task, current.loc[labelled, f.label], current.loc[labelled, data.PREDICTION]
            )
        with_quality = bool(labelled.all()) and f.label in reference.columns
        t0 = time.monotonic()
        snapshot, headline = build_report(spec, reference, current, with_quality=with_quality)
        self.log.info("Evidently report took %.2fs", time.monotonic() - t0)
        headline.update(
            quality=quality,
            labelled_rows=int(labelled.sum()),
            champion_version=champion.version,
            champion_run_id=champion.run_id,
            reference_path=str(champion.dataset_path),
            current_path=str(current_path),
            reference_rows=len(reference_full),
            current_rows=len(current_full),
            sampled=len(reference) < len(reference_full) or len(current) < len(current_full),
            sample_rows=rows,
            created=datetime.now(UTC).isoformat(),
        )
        report_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
        mon = spec.monitoring
        headline = save_report(model, report_id, snapshot, headline, mon.report_conn_id, mon.report_bucket)
        headline["mlflow_run_id"] = self._log_to_mlflow(hook, context, headline)
        ReportLink.persist(context, report_url(model, report_id))
        drift = headline["drift"]
        self.log.info(
            "%s: %d of %d feature columns drifted (share %.2f, threshold %.2f, dataset drift %s); quality %s; "
            "report %s",
            model,
            drift["count"],
            drift["columns"],
            drift["share"],
            drift["threshold"],
            drift["detected"],
            quality,
            headline["html"],
        )
        return headline

    def _skip(self, why: str) -> dict[str, Any]:
        self.log.warning("no monitoring report: %s", why)
        return {"report_id": None, "skipped": why}

    def _log_to_mlflow(self, hook: Any, context: Any, headline: dict[str, Any]) -> str:
        """A monitoring run in the model's experiment with the headline numbers; returns its run id."""
        dag_run = context.get("dag_run")
        tags = {
            "mlops.kind": "monitoring",
            "mlops.report_id": headline["report_id"],
            "mlops.report_html": headline["html"],
            "mlops.champion_version": headline["champion_version"],
            "mlops.dag_id": getattr(dag_run, "dag_id", "") or "",
            "mlops.dag_run_id": getattr(dag_run, "run_id", "") or "",
        }
        drift = headline["drift"]
        values = {"drift/share": drift["share"], "drift/count": drift["count"], "drift/detected": drift["detected"]}
        values.update({f"drift/score/{c}": s["score"] for c, s in drift["scores"].items()})
        if headline.get("prediction_drift"):
            values["prediction_drift/score"] = headline["prediction_drift"]["score"]
        values.update({f"live/{k}": v for k, v in (headline.get("quality") or {}).items()})
        values["live/labelled_rows"] = headline["labelled_rows"]
        local_html = "://" not in str(headline["html"])  # an object in storage is not re-logged to MLflow
        return hook.log_finished_run(
            headline["model"],
            f"monitor-{headline['report_id']}",
            tags=tags,
            metrics=values,
            artifacts=[headline["html"]] if local_html else [],
            artifact_path="monitoring",
        )


def report_url(model: str, report_id: str) -> str:
    """URL of a report page served by the airflow-mlops plugin of the Airflow API server."""
    try:
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback="") or ""
    except Exception:
        base = ""
    base = base.rstrip("/") or "http://localhost:8080"
    return f"{base}{PLUGIN_PREFIX}/{model}/{report_id}/report.html"
