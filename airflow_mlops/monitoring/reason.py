"""Why a training run started: the reason recorded on the MLflow run (tag ``mlops.trigger_reason``)."""

from __future__ import annotations

from typing import Any

RUN_TYPE_REASONS = {"asset_triggered": "new_data", "scheduled": "schedule"}


def trigger_reason(context: Any) -> str:
    """The reason of the current train DAG run.

    An explicit ``reason`` in the run's conf wins (``decide_retrain`` passes ``drift``, ``metric_drop`` or
    ``code_change``; a person triggering from the UI/REST passes ``manual``). Without one, the run type
    decides: asset-triggered runs are ``new_data``, scheduled runs ``schedule``; else the ``reason`` Param.
    """
    dag_run = context.get("dag_run")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    if conf.get("reason"):
        return str(conf["reason"])
    run_type = str(getattr(getattr(dag_run, "run_type", None), "value", getattr(dag_run, "run_type", "")) or "")
    if run_type in RUN_TYPE_REASONS:
        return RUN_TYPE_REASONS[run_type]
    params = context.get("params") or {}
    return str(params.get("reason") or "manual")
