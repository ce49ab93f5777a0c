"""Rollback in one step: re-point ``champion`` to an earlier, existing and servable version, and record it.

The actor (``who``) comes from the caller's authentication: the Airflow user who triggered the rollback DAG
run (``DagRun.triggering_user_name``), or the OS user of the CLI. A reason is required.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_mlops import settings
from airflow_mlops.promotion.history import AliasHistory, Move
from airflow_mlops.promotion.servability import check_servable

if TYPE_CHECKING:
    from airflow_mlops.hooks.mlflow import MLflowHook


class RollbackError(ValueError):
    """The rollback was refused: bad request, no such version, or it cannot be served."""


class RollbackFailed(RuntimeError):
    """MLflow did not apply the move (``failed``), or its outcome could not be confirmed (``pending``)."""

    def __init__(self, message: str, move: Move) -> None:
        super().__init__(message)
        self.move = move


def check_request(alias: str, reason: str | None) -> str:
    """The stripped reason; raises :class:`RollbackError` for an empty reason or a malformed alias."""
    from airflow_mlops.spec.schema import NAME_PATTERN

    reason = (reason or "").strip()
    if not reason:
        raise RollbackError("a reason is required (it is recorded in the alias history)")
    if not re.fullmatch(NAME_PATTERN.strip("^$"), alias or ""):
        raise RollbackError(f"alias {alias!r} is not a valid alias name (e.g. champion, challenger)")
    return reason


def latest_sample(model: str) -> Path | None:
    """Newest materialized dataset of the model (scoring first, then training), a sample of real input."""
    for purpose in ("score", "train"):
        folder = settings.mlops_home() / "datasets" / model / purpose
        files = (
            sorted(folder.glob("*.parquet"), key=lambda p: p.stat().st_mtime, reverse=True) if folder.exists() else []
        )
        if files:
            return files[0]
    return None


def rollback(
    hook: MLflowHook,
    model: str,
    version: str | int,
    reason: str,
    *,
    alias: str = "champion",
    who: str | None = None,
    dag_id: str | None = None,
    dag_run_id: str | None = None,
    sample: str | Path | None = None,
    columns: list[str] | None = None,
    task: str = "regression",
    history: AliasHistory | None = None,
) -> Move:
    """Point ``alias`` at ``version`` after checking it exists and can be served; every attempt is recorded.

    Raises :class:`RollbackError` when refused and :class:`RollbackFailed` when MLflow did not move the alias.
    """
    reason = check_request(alias, reason)
    version = str(version)
    history = history or AliasHistory(hook=hook)
    fields = {"reason": reason, "who": who, "dag_id": dag_id, "dag_run_id": dag_run_id}
    if not version.isdigit() or hook.get_version(model, version) is None:
        known = sorted((int(v.version) for v in hook.versions(model)), reverse=True)
        message = f"model {model!r} has no version {version} (registered: {known or 'none'})"
        history.record(
            model, alias, version, action="rollback", status="refused", details={"detail": message}, **fields
        )
        raise RollbackError(message)
    sample = sample or latest_sample(model)
    served = check_servable(
        model,
        version,
        tracking_uri=hook.tracking_uri,
        sample=sample,
        columns=columns if sample else None,
        task=task,
    )
    if not served.ok:
        message = f"version {version} of {model!r} cannot be served: {served.detail}"
        history.record(
            model, alias, version, action="rollback", status="refused", details={"detail": message}, **fields
        )
        raise RollbackError(message)
    move = history.move(
        model,
        alias,
        version,
        action="rollback",
        details={"servability": served.detail, "sample": str(sample)},
        **fields,
    )
    if move.status in ("failed", "pending"):
        hint = (
            " (run `airflow-mlops history MODEL --reconcile` once MLflow answers)" if move.status == "pending" else ""
        )
        raise RollbackFailed(f"{model}@{alias} → v{version}: {move.status}: {move.detail}{hint}", move)
    return move
