"""Promotion gate and rollback operators: they orchestrate :mod:`airflow_mlops.promotion` (imported in execute)."""

from __future__ import annotations

import json
from typing import Any

from airflow_mlops.operators.base import SpecOperator, upstream


def _who(context: Any) -> str:
    """The authenticated Airflow user who triggered the run (``DagRun.triggering_user_name``, set by the API
    server from the caller's token), else ``airflow:<run type>``; never anything from the run's conf."""
    run = context.get("dag_run")
    user = getattr(run, "triggering_user_name", None) if run is not None else None
    if user:
        return str(user)
    run_type = getattr(run, "run_type", None)
    return f"airflow:{getattr(run_type, 'value', run_type) or 'unknown'}"


def _trigger_dag(dag_id: str, conf: dict) -> str:
    """Trigger a DAG run from inside a running task (the task SDK's supervisor channel, as TriggerDagRunOperator)."""
    from datetime import UTC, datetime

    from airflow.sdk.execution_time.comms import ErrorResponse, TriggerDagRun
    from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

    run_id = f"mlops_promotion__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
    reply = SUPERVISOR_COMMS.send(TriggerDagRun(dag_id=dag_id, run_id=run_id, conf=conf, logical_date=None))
    if isinstance(reply, ErrorResponse):
        raise RuntimeError(f"cannot trigger {dag_id}: {reply.error} {reply.detail}")
    return run_id


class PromotionGateOperator(SpecOperator):
    """Apply the spec's selection and action rules to the challenger and registered versions.

    Reads ``evaluate`` (fresh-window metrics) and ``validate`` (a sample of real input for the servability
    check) from XCom. Returns ``{"promoted": bool, "version": str | None, "decision": {...}}``.

    :param mlflow_conn_id: MLflow connection (see :class:`airflow_mlops.hooks.mlflow.MLflowHook`).
    """

    template_fields = ("spec_path", "mlflow_conn_id")
    ui_color = "#fde8c8"

    def __init__(self, *, mlflow_conn_id: str = "mlflow_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_mlops.hooks.mlflow import MLflowHook
        from airflow_mlops.promotion.gate import GateContext, run_gate
        from airflow_mlops.promotion.history import AliasHistory
        from airflow_mlops.promotion.rulesets import rules_for

        spec = self.spec
        evaluation = upstream(context, "evaluate")
        try:
            sample = upstream(context, "validate").get("dataset")
        except ValueError:
            sample = None
        hook = MLflowHook(self.mlflow_conn_id)
        client = hook.get_conn()
        rules = rules_for(spec, self.project_path)
        ctx = GateContext(
            client=client,
            tracking_uri=hook.tracking_uri,
            history=AliasHistory(client=client),
            sample=sample,
            columns=spec.features.feature_names,
            dag_id=context["dag"].dag_id if context.get("dag") else None,
            dag_run_id=context["run_id"] if "run_id" in context else None,
            who=_who(context),
            trigger_dag=_trigger_dag,
        )
        result = run_gate(spec, rules, evaluation, ctx)
        self.log.info("promotion decision: %s", json.dumps(result, default=str)[:20000])
        return result


class RollbackOperator(SpecOperator):
    """Re-point ``champion`` to Param ``version`` (reason: Param ``reason``), refusing missing or unservable ones."""

    template_fields = ("spec_path", "mlflow_conn_id")
    ui_color = "#f8d7da"

    def __init__(self, *, mlflow_conn_id: str = "mlflow_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_mlops.hooks.mlflow import MLflowHook
        from airflow_mlops.promotion.rollback import rollback

        params = context.get("params") or {}
        version, reason = str(params.get("version")), str(params.get("reason") or "").strip()
        hook = MLflowHook(self.mlflow_conn_id)
        client = hook.get_conn()
        move = rollback(
            client,
            hook.tracking_uri,
            self.spec.model.name,
            version,
            reason,
            who=_who(context),
            dag_id=context["dag"].dag_id if context.get("dag") else None,
            dag_run_id=context.get("run_id"),
            columns=self.spec.features.feature_names,
        )
        self.log.info(
            "rollback %s: champion %s → %s (%s)", self.spec.model.name, move.previous_version, version, move.status
        )
        return {
            "model": self.spec.model.name,
            "version": version,
            "previous_version": move.previous_version,
            "status": move.status,
            "reason": reason,
        }
