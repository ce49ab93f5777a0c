"""Promotion gate and rollback operators: they orchestrate :mod:`airflow_mlops.promotion` (imported in execute)."""

from __future__ import annotations

import json
from typing import Any

from airflow_mlops.operators.base import MLflowSpecOperator, mlflow_template_fields, required


def _who(context: Any) -> str:
    """The authenticated Airflow user who triggered the run (``DagRun.triggering_user_name``, set by the API
    server from the caller's token), else ``airflow:<run type>``; never anything from the run's conf."""
    run = context.get("dag_run")
    user = getattr(run, "triggering_user_name", None) if run is not None else None
    if user:
        return str(user)
    run_type = getattr(run, "run_type", None)
    return f"airflow:{getattr(run_type, 'value', run_type) or 'unknown'}"


class TriggerRequests:
    """Collects the gate's ``trigger_dag`` actions; a downstream ``TriggerDagRunOperator`` starts them.

    Each request is the keyword arguments of one ``TriggerDagRunOperator`` (``trigger_dag_id``,
    ``trigger_run_id``, ``conf``), so the DAG maps one over the list: ``.expand_kwargs(...)``. The run id is
    chosen here, so the decision records the id the triggered run will have.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def __call__(self, dag_id: str, conf: dict) -> str:
        from datetime import UTC, datetime

        run_id = f"mlops_promotion__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}_{len(self.requests)}"
        self.requests.append({"trigger_dag_id": dag_id, "trigger_run_id": run_id, "conf": conf})
        return run_id


def trigger_requests(triggers: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The gate's ``triggers`` result as a list to map a ``TriggerDagRunOperator`` over (empty: it is skipped)."""
    return list(triggers or [])


class PromotionGateOperator(MLflowSpecOperator):
    """Apply the spec's selection and action rules to the challenger and registered versions.

    ``trigger_dag`` actions are not started here: they are returned under ``triggers`` for a downstream
    ``TriggerDagRunOperator`` (the factory maps one over them).

    :param evaluation: the evaluate task's result, fresh-window metrics (templated; ``evaluate.output``).
    :param sample: parquet path of real input for the servability check (templated; optional).
    :param mlflow_conn_id: MLflow connection (templated; see :class:`airflow_mlops.hooks.mlflow.MLflowHook`).
    :return: ``promoted`` (bool), ``version`` (str or None), ``decision`` (dict), ``triggers`` (list of
        ``TriggerDagRunOperator`` keyword arguments).
    """

    template_fields = mlflow_template_fields("evaluation", "sample")
    ui_color = "#fde8c8"

    def __init__(self, *, evaluation: dict[str, Any], sample: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.evaluation = evaluation
        self.sample = sample

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_mlops.promotion.gate import GateContext, run_gate
        from airflow_mlops.promotion.history import AliasHistory
        from airflow_mlops.promotion.rulesets import rules_for

        spec = self.spec
        evaluation = required(self.evaluation, "evaluation")
        if not isinstance(evaluation, dict):
            raise ValueError(f"input 'evaluation' must be the evaluate task's result (a dict), got {evaluation!r}")
        triggers = TriggerRequests()
        hook = self.hook
        rules = rules_for(spec, self.project_path)
        ctx = GateContext(
            hook=hook,
            history=AliasHistory(hook=hook),
            sample=self.sample or None,
            columns=spec.features.feature_names,
            task=spec.model.task,
            dag_id=context["dag"].dag_id if context.get("dag") else None,
            dag_run_id=context["run_id"] if "run_id" in context else None,
            who=_who(context),
            trigger_dag=triggers,
        )
        result = {**run_gate(spec, rules, evaluation, ctx), "triggers": triggers.requests}
        self.log.info("promotion decision: %s", json.dumps(result, default=str)[:20000])
        return result


class RollbackOperator(MLflowSpecOperator):
    """Re-point ``champion`` to ``version`` (templated), refusing missing or unservable ones.

    :param version: registered version to serve (templated; the rollback DAG passes ``{{ params.version }}``).
    :param reason: why, recorded in the alias history (templated; ``{{ params.reason }}``).
    :param mlflow_conn_id: MLflow connection (templated).
    :return: ``model``, ``version``, ``previous_version``, ``status``, ``reason``.
    """

    template_fields = mlflow_template_fields("version", "reason")
    ui_color = "#f8d7da"

    def __init__(self, *, version: str | int, reason: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.version = version
        self.reason = reason

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_mlops.promotion.rollback import rollback

        version, reason = str(self.version), str(self.reason or "").strip()
        move = rollback(
            self.hook,
            self.spec.model.name,
            version,
            reason,
            who=_who(context),
            dag_id=context["dag"].dag_id if context.get("dag") else None,
            dag_run_id=context.get("run_id"),
            columns=self.spec.features.feature_names,
            task=self.spec.model.task,
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
