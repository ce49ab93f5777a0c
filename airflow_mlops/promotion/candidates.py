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
from typing import Any

from airflow_mlops.hooks.model_artifact import DIGEST_TAG, is_sealed
from airflow_mlops.spec.schema import ModelSpec

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


def split_metrics(raw: dict[str, Any] | None) -> tuple[dict[str, float], dict[str, Any]]:
    """Overall metrics and nested slice metrics from a flat or nested metrics dict.

    Accepts ``mae``/``fresh/mae`` and ``slice/<col>/<value>/<metric>`` (also with ``fresh/``) keys.
    """
    overall: dict[str, float] = {}
    slices: dict[str, Any] = {}
    for key, value in (raw or {}).items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        name = key.removeprefix("fresh/")
        if name.startswith("slice/"):
            parts = name.split("/")
            if len(parts) == 4:
                slices.setdefault(parts[1], {}).setdefault(parts[2], {})[parts[3]] = float(value)
        elif "/" not in name:
            overall[name] = float(value)
    return overall, slices


def nested_slices(raw: Any) -> dict[str, Any]:
    """Slice metrics as ``{column: {value: {metric: number}}}`` from a nested or flat dict."""
    if not isinstance(raw, dict):
        return {}
    if all(isinstance(v, dict) for v in raw.values()):
        return {str(c): {str(v): dict(m) for v, m in vals.items() if isinstance(m, dict)} for c, vals in raw.items()}
    flat = {k if k.startswith(("slice/", "fresh/")) else f"slice/{k}": v for k, v in raw.items()}
    return split_metrics(flat)[1]


def make_candidate(
    spec: ModelSpec,
    environment: str,
    version: str,
    role: str,
    created_ms: int | None,
    metrics: dict[str, Any] | None,
    slice_metrics: Any = None,
    tags: dict[str, str] | None = None,
    run_id: str | None = None,
    metrics_source: str = "fresh",
    is_champion: bool = False,
) -> Candidate:
    """A candidate from plain values (what evaluate's XCom and the registry give)."""
    overall, slices = split_metrics(metrics)
    for column, values in nested_slices(slice_metrics).items():
        slices.setdefault(column, {}).update(values)
    created = (created_ms or 0) / 1000.0
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
        "metrics": overall,
        "slices": slices,
        "tags": dict(tags or {}),
    }
    return Candidate(version=str(version), role=role, attrs=attrs, run_id=run_id, metrics_source=metrics_source)


def gather(
    spec: ModelSpec, environment: str, evaluation: dict[str, Any], client: Any, limit: int = 20
) -> list[Candidate]:
    """Challenger + champion (fresh metrics from ``evaluation``) + up to ``limit`` newest other registered versions."""
    name = spec.model.name
    fresh = {}
    for role in ("challenger", "champion"):
        entry = evaluation.get(role)
        if isinstance(entry, dict) and entry.get("version") is not None:
            fresh[str(entry["version"])] = (role, entry)
    champion = _alias_version(client, name, "champion")
    versions = sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version), reverse=True)
    out: list[Candidate] = []
    for mv in versions:
        v = str(mv.version)
        if v in fresh:
            role, entry = fresh.pop(v)
            out.append(
                make_candidate(
                    spec,
                    environment,
                    v,
                    role,
                    mv.creation_timestamp,
                    entry.get("metrics"),
                    entry.get("slice_metrics"),
                    mv.tags,
                    mv.run_id,
                    "fresh",
                    is_champion=v == champion,
                )
            )
        elif len(out) < limit + 2:
            run_metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
            role = "champion" if v == champion else "registered"
            out.append(
                make_candidate(
                    spec,
                    environment,
                    v,
                    role,
                    mv.creation_timestamp,
                    run_metrics,
                    None,
                    mv.tags,
                    mv.run_id,
                    "run",
                    is_champion=v == champion,
                )
            )
        else:
            continue
        if not is_sealed(mv.tags):
            out[-1].excluded = NOT_OURS
    for v, (role, _entry) in fresh.items():  # in the evaluate result but not registered: never a candidate
        out.append(make_candidate(spec, environment, v, role, None, {}, None))
        out[-1].excluded = "not found in the model registry"
    return out


def _alias_version(client: Any, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except Exception:  # no such alias (MLflow raises RestException / MlflowException)
        return None
