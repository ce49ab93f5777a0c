"""Model versions as rule inputs.

A candidate's ``attrs`` are the names a rule can use (see :data:`airflow_mlops.rules.types.CANDIDATE_FIELDS`).
Metrics: the challenger and the champion use their metrics on the fresh window from ``evaluate``; other
registered versions use their training run's metrics (``metrics_source`` says which). Only versions our training
DAG registered and sealed (``mlops.run_id`` and ``mlops.model_sha256`` tags, see
:mod:`airflow_mlops.hooks.model_artifact`) can be chosen; any other version is listed as excluded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlops.hooks.model_artifact import DIGEST_TAG, is_sealed
from airflow_mlops.spec.schema import ModelSpec

if TYPE_CHECKING:
    from airflow_mlops.hooks.mlflow import MLflowHook

NOT_OURS = f"not registered by the airflow-mlops training DAG (no {DIGEST_TAG} seal)"


@dataclass
class Candidate:
    version: str
    role: str  # challenger, champion, registered
    attrs: dict[str, Any]
    run_id: str | None = None
    metrics_source: str = "fresh"
    excluded: str | None = None  # why this version can never be chosen (e.g. not registered, unservable)

    @property
    def label(self) -> str:
        return f"v{self.version} ({self.role})"


def make_candidate(
    spec: ModelSpec,
    *,
    environment: str,
    version: str,
    role: str,
    created_time: float = 0.0,
    metrics: dict[str, float] | None = None,
    slices: dict[str, dict[str, dict[str, float]]] | None = None,
    tags: dict[str, str] | None = None,
    run_id: str | None = None,
    metrics_source: str = "fresh",
    is_champion: bool = False,
) -> Candidate:
    """A candidate from plain values: overall ``metrics`` and nested ``slices`` (``{column: {value: {m: x}}}``).

    ``created_time`` is in seconds since the epoch (0 when unknown). Flat MLflow names are decoded by the caller
    with :func:`airflow_mlops.training.metrics.unflatten`.
    """
    created = created_time or 0.0
    attrs = {
        "model_name": spec.model.name,
        "model_domain": spec.model.domain,
        "model_team": spec.model.team,
        "team": spec.model.team,
        "model_task": spec.model.task,
        "environment": environment,
        "role": role,
        "version": float(version),
        "created_time": created,
        "age_days": max(0.0, (time.time() - created) / 86400.0) if created else 0.0,
        "is_champion": is_champion,
        "metrics": _numbers(metrics or {}),
        "slices": {c: {v: _numbers(m) for v, m in vals.items()} for c, vals in (slices or {}).items()},
        "tags": dict(tags or {}),
    }
    return Candidate(version=str(version), role=role, attrs=attrs, run_id=run_id, metrics_source=metrics_source)


def _numbers(values: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def gather(
    spec: ModelSpec, environment: str, evaluation: dict[str, Any], hook: MLflowHook, limit: int = 20
) -> list[Candidate]:
    """Challenger + champion (fresh metrics from ``evaluation``) + up to ``limit`` newest other registered versions.

    ``evaluation`` is the evaluate task's result: per role ``metrics`` (overall) and ``slice_metrics`` (nested).
    """
    from airflow_mlops.training.metrics import unflatten

    name = spec.model.name
    fresh = {}
    for role in ("challenger", "champion"):
        entry = evaluation.get(role)
        if isinstance(entry, dict) and entry.get("version") is not None:
            fresh[str(entry["version"])] = (role, entry)
    current = hook.version_by_alias(name, "champion")
    champion = current.version if current is not None else None
    out: list[Candidate] = []
    for mv in hook.versions(name):
        v = mv.version
        known = {"version": v, "created_time": mv.created_time, "tags": mv.tags, "run_id": mv.run_id or None}
        if v in fresh:
            role, entry = fresh.pop(v)
            metrics, slices, source = entry.get("metrics"), entry.get("slice_metrics"), "fresh"
        elif len(out) < limit + 2:
            role = "champion" if v == champion else "registered"
            metrics, slices = unflatten(hook.run_metrics(mv.run_id)) if mv.run_id else ({}, {})
            source = "run"
        else:
            continue
        out.append(
            make_candidate(
                spec,
                environment=environment,
                role=role,
                metrics=metrics,
                slices=slices,
                metrics_source=source,
                is_champion=v == champion,
                **known,
            )
        )
        if not is_sealed(mv.tags):
            out[-1].excluded = NOT_OURS
    for v, (role, _entry) in fresh.items():  # in the evaluate result but not registered: never a candidate
        out.append(make_candidate(spec, environment=environment, version=v, role=role))
        out[-1].excluded = "not found in the model registry"
    return out
