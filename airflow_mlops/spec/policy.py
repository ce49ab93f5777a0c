"""Deployment policy a valid-looking spec must also meet: bounded estimator params, own-DAG triggers, contained paths.

The checks read the raw parsed document (so they report alongside schema errors) and return
``(location, message)`` pairs; :mod:`airflow_mlops.spec.loader` turns them into :class:`SpecProblem`s.
Nothing here imports scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow_mlops import settings
from airflow_mlops.spec.paths import escape_problem

Finding = tuple[tuple[Any, ...], str]
DAG_KINDS = ("train", "score", "monitor", "rollback")


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def own_dag_ids(model_name: str) -> list[str]:
    """DAG ids an action rule of model ``model_name`` may trigger (see ``ModelSpec.dag_ids``)."""
    return [f"{model_name}__{kind}" for kind in DAG_KINDS]


def trigger_findings(data: Any, loc: tuple[Any, ...] = ("promotion", "action_rules")) -> Iterator[Finding]:
    """``trigger_dag`` actions whose ``dag_id`` is not one of the model's own DAGs."""
    name = _get(data, "model", "name")
    rules = _get(data, *loc)
    if not isinstance(name, str) or not isinstance(rules, list):
        return
    yield from trigger_rule_findings(name, rules, loc)


def trigger_rule_findings(model_name: str, rules: list, loc: tuple[Any, ...]) -> Iterator[Finding]:
    """:func:`trigger_findings` for a list of action rules (a spec's or a shared rule file's)."""
    allowed = own_dag_ids(model_name.strip())
    for i, rule in enumerate(rules):
        actions = rule.get("callback_actions") if isinstance(rule, dict) else None
        for j, action in enumerate(actions if isinstance(actions, list) else []):
            if not isinstance(action, dict) or action.get("action") != "trigger_dag":
                continue
            dag_id = action.get("dag_id")
            if isinstance(dag_id, str) and dag_id.strip() not in allowed:
                message = f"trigger_dag may only start this model's own DAGs ({', '.join(allowed)})"
                yield (*loc, i, "callback_actions", j, "dag_id"), f"{message}, not {dag_id.strip()[:80]!r}"


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield value
    elif isinstance(value, str):  # YAML 1.1 reads 1.0e12 (no exponent sign) as a string
        try:
            yield float(value.strip().replace("_", ""))
        except ValueError:
            return
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _numbers(item)


def param_findings(data: Any) -> Iterator[Finding]:
    """Estimator params above the deployment's limits (``[mlops] estimator_param_limits``), at any depth."""
    params = _get(data, "training", "params")
    if not isinstance(params, dict):
        return
    try:
        limits = settings.estimator_param_limits()
    except ValueError as exc:
        yield ("training", "params"), str(exc)
        return
    yield from _param_walk(params, limits, ("training", "params"))


def _param_walk(params: Any, limits: dict[str, int], loc: tuple[Any, ...]) -> Iterator[Finding]:
    if isinstance(params, list):
        for i, item in enumerate(params):
            yield from _param_walk(item, limits, (*loc, i))
        return
    if not isinstance(params, dict):
        return
    for key, value in params.items():
        sub = (*loc, key)
        limit = limits.get(key) if isinstance(key, str) else None
        if limit is not None:
            over = [n for n in _numbers(value) if math.isnan(n) or n > limit]
            if over:
                yield (
                    sub,
                    (
                        f"{over[0]:g} is above this deployment's limit of {limit:,} for {key} "
                        f"(setting [mlops] {settings.PARAM_LIMITS_OPTION})"
                    ),
                )
                continue
        yield from _param_walk(value, limits, sub)


def path_findings(data: Any, spec_path: str | Path | None) -> Iterator[Finding]:
    """Project paths (``features.repo``, ``promotion.rule_files``) that leave the project through a symbolic link."""
    if spec_path is None:
        return
    candidates: list[tuple[tuple[Any, ...], Any]] = [(("features", "repo"), _get(data, "features", "repo"))]
    rule_files = _get(data, "promotion", "rule_files")
    if isinstance(rule_files, list):
        candidates += [(("promotion", "rule_files", i), v) for i, v in enumerate(rule_files)]
    for loc, value in candidates:
        if isinstance(value, str):
            problem = escape_problem(spec_path, value.strip())
            if problem:
                yield loc, problem


def policy_findings(data: Any, spec_path: str | Path | None = None) -> list[Finding]:
    """Every policy finding of a parsed spec document."""
    return [*trigger_findings(data), *param_findings(data), *path_findings(data, spec_path)]
