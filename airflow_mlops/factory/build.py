"""Turn a validated spec into its DAGs: train, score, monitor and rollback.

Only Airflow and this package's light modules are imported here: the DAG processor runs this on
every parse. Operators import their ML libraries inside ``execute``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator, ShortCircuitOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, AssetOrTimeSchedule, Param

from airflow_mlops.factory.docs import render_doc
from airflow_mlops.factory.timetables import interval_schedule
from airflow_mlops.monitoring.assets import new_data_asset
from airflow_mlops.operators.evaluate import EvaluateOperator
from airflow_mlops.operators.features import FeastMaterializeOperator
from airflow_mlops.operators.promotion import PromotionGateOperator, RollbackOperator, trigger_requests
from airflow_mlops.operators.report import EvidentlyReportOperator
from airflow_mlops.operators.retrain import NewDataSignalOperator, RetrainDecisionOperator
from airflow_mlops.operators.score import BatchScoreOperator
from airflow_mlops.operators.train import MLflowTrainOperator
from airflow_mlops.operators.validate import GXValidateOperator
from airflow_mlops.spec import ModelSpec

START_DATE = datetime(2026, 1, 1)
TRIGGER_REASONS = ["schedule", "manual", "drift", "new_data", "metric_drop", "code_change"]


def _dag(spec: ModelSpec, kind: str, spec_file: str, schedule: Any, **kwargs) -> DAG:
    m = spec.model
    return DAG(
        dag_id=spec.dag_ids[kind],
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["airflow-mlops", kind, m.team, m.domain, m.task, *m.tags],
        doc_md=render_doc(spec, kind, spec_file),
        description=f"{m.name}: {kind} ({m.task}, team {m.team})",
        default_args={"owner": m.team, "retries": 1, "retry_delay": timedelta(minutes=1)},
        **kwargs,
    )


def train_schedule(spec: ModelSpec) -> Any:
    """The train DAG's schedule: its cron (``schedule`` in ``retrain_on``), or-ed with the new-data Asset
    (``new_data`` in ``retrain_on``); None (manual and monitor-triggered only) when neither applies."""
    retrain_on = spec.monitoring.retrain_on
    cron = interval_schedule(spec.schedule.train) if "schedule" in retrain_on else None
    if "new_data" not in retrain_on:
        return cron
    asset = new_data_asset(spec.model.name)
    if cron is None:
        return [asset]
    return AssetOrTimeSchedule(timetable=cron, assets=asset)


def was_promoted(promoted: Any) -> bool:
    """True when the gate moved ``champion``: the deployment steps after it run only then."""
    return bool(promoted)


def build_train_dag(spec: ModelSpec, spec_path: str) -> DAG:
    """materialize → validate → train → evaluate → promote → if_promoted → refresh_scores; promote → trigger_requests
    → trigger_actions.

    Each operator's inputs are the outputs of the one before (XComArgs: ``validate.output["dataset"]``).
    ``refresh_scores`` (a deployment step) re-runs the score DAG at once so the new champion's predictions
    land without waiting for the next scoring slot; it is skipped when nothing was promoted.
    ``trigger_actions`` starts the DAGs the promotion rules' ``trigger_dag`` actions asked for (one mapped
    ``TriggerDagRunOperator`` per request; skipped when there is none).
    """
    params = {
        "reason": Param("schedule", enum=TRIGGER_REASONS, description="Why this training run starts."),
        "note": Param("", type="string", description="Free text recorded on the MLflow run."),
    }
    with _dag(spec, "train", spec_path, train_schedule(spec), params=params) as dag:
        common = {"spec_path": spec_path}
        materialize = FeastMaterializeOperator(task_id="materialize", purpose="train", **common)
        validate = GXValidateOperator(
            task_id="validate",
            purpose="train",
            dataset=materialize.output["dataset"],
            digest=materialize.output["digest"],
            **common,
        )
        train = MLflowTrainOperator(
            task_id="train", dataset=validate.output["dataset"], digest=validate.output["digest"], **common
        )
        evaluate = EvaluateOperator(
            task_id="evaluate",
            dataset=train.output["dataset"],
            model_version=train.output["model_version"],
            run_id=train.output["run_id"],
            **common,
        )
        promote = PromotionGateOperator(
            task_id="promote", evaluation=evaluate.output, sample=validate.output["dataset"], **common
        )
        if_promoted = ShortCircuitOperator(
            task_id="if_promoted", python_callable=was_promoted, op_kwargs={"promoted": promote.output["promoted"]}
        )
        refresh_scores = TriggerDagRunOperator(
            task_id="refresh_scores",
            trigger_dag_id=spec.dag_ids["score"],
            conf={"reason": "promotion", "version": promote.output["version"]},
            retries=0,
        )
        if_promoted >> refresh_scores
        requests = PythonOperator(
            task_id="trigger_requests", python_callable=trigger_requests, op_args=[promote.output["triggers"]]
        )
        TriggerDagRunOperator.partial(task_id="trigger_actions", retries=0).expand_kwargs(requests.output)
    return dag


def build_score_dag(spec: ModelSpec, spec_path: str) -> DAG:
    """materialize → validate → score; plus ``signal_new_data`` (new-data Asset) when retrain_on has new_data."""
    with _dag(spec, "score", spec_path, interval_schedule(spec.schedule.score)) as dag:
        common = {"spec_path": spec_path}
        materialize = FeastMaterializeOperator(task_id="materialize", purpose="score", **common)
        validate = GXValidateOperator(
            task_id="validate",
            purpose="score",
            dataset=materialize.output["dataset"],
            digest=materialize.output["digest"],
            **common,
        )
        BatchScoreOperator(
            task_id="score",
            dataset=validate.output["dataset"],
            digest=validate.output["digest"],
            scores_conn_id=spec.scoring.destination.conn_id,
            **common,
        )
        if "new_data" in spec.monitoring.retrain_on:  # independent of scoring: new labels are news either way
            NewDataSignalOperator(task_id="signal_new_data", outlets=[new_data_asset(spec.model.name)], **common)
    return dag


def build_monitor_dag(spec: ModelSpec, spec_path: str) -> DAG:
    """report → decide_retrain → trigger_train (skipped with decide_retrain when no retrain is due)."""
    with _dag(spec, "monitor", spec_path, interval_schedule(spec.schedule.monitor)) as dag:
        common = {"spec_path": spec_path}
        report = EvidentlyReportOperator(task_id="report", **common)
        decide = RetrainDecisionOperator(task_id="decide_retrain", report=report.output, **common)
        TriggerDagRunOperator(
            task_id="trigger_train",
            trigger_dag_id=spec.dag_ids["train"],
            conf={"reason": decide.output["reason"], "note": decide.output["note"]},
            retries=0,
        )
    return dag


def build_rollback_dag(spec: ModelSpec, spec_path: str) -> DAG:
    """One task that re-points ``champion`` to the version given as a Param."""
    params = {
        "version": Param(1, type="integer", minimum=1, description="Registered model version to serve."),
        "reason": Param("manual rollback", type="string", minLength=1, description="Why (recorded in history)."),
    }
    with _dag(spec, "rollback", spec_path, None, params=params) as dag:
        RollbackOperator(
            task_id="rollback",
            spec_path=spec_path,
            version="{{ params.version }}",
            reason="{{ params.reason }}",
            retries=0,
        )
    return dag


BUILDERS = {
    "train": build_train_dag,
    "score": build_score_dag,
    "monitor": build_monitor_dag,
    "rollback": build_rollback_dag,
}


def build_dags(spec: ModelSpec, spec_path: str | Path) -> dict[str, DAG]:
    """All DAGs of one spec, keyed by dag_id."""
    path = str(Path(spec_path).resolve())
    return {spec.dag_ids[kind]: build(spec, path) for kind, build in BUILDERS.items()}
