"""The promotion gate: gather candidates, decide, check servability, run action callbacks, record everything.

Used by :class:`airflow_mlops.operators.promotion.PromotionGateOperator`; callable without Airflow (tests).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.promotion.candidates import Candidate, gather
from airflow_mlops.promotion.decide import matching_actions, select
from airflow_mlops.promotion.history import AliasHistory
from airflow_mlops.promotion.rulesets import RuleSet
from airflow_mlops.promotion.servability import check_servable
from airflow_mlops.spec.schema import ModelSpec

if TYPE_CHECKING:
    from airflow_mlops.hooks.mlflow import MLflowHook

log = logging.getLogger(__name__)
TAG_PREFIX = "mlops.gate."
MAX_TAG = 4900


class PromotionError(RuntimeError):
    """A deploy action's alias move failed in MLflow, or its outcome could not be confirmed."""


@dataclass
class GateContext:
    """What the gate needs from its surroundings."""

    hook: MLflowHook
    history: AliasHistory
    sample: str | Path | None = None
    columns: list[str] | None = None
    task: str = "regression"  # the spec's model.task: how the servability probe asks the model
    dag_id: str | None = None
    dag_run_id: str | None = None
    who: str | None = None
    trigger_dag: Callable[[str, dict], str] | None = None  # (dag_id, conf) -> run id
    notify: Callable[[str], None] | None = None
    servable_cache: dict[str, Any] = field(default_factory=dict)


def run_gate(spec: ModelSpec, rules: RuleSet, evaluation: dict[str, Any], ctx: GateContext) -> dict[str, Any]:
    """Decide and act; returns the XCom dict ``{promoted, version, decision}``."""
    start = time.monotonic()
    env = spec.promotion.environment
    name = spec.model.name
    candidates = gather(spec, env, evaluation, ctx.hook)
    champion_before = ctx.history.current(name, "champion")
    log.info(
        "gate for %s: %d candidates, %d selection / %d action rules, environment %s, champion %s",
        name,
        len(candidates),
        len(rules.selection),
        len(rules.action),
        env,
        champion_before,
    )
    # Selection, dropping winners that cannot be served (a model that cannot load or predict never serves).
    while True:
        selection = select(candidates, rules, env)
        winner = selection.winner
        if winner is None or winner.attrs["is_champion"] or _servable(winner, name, ctx):
            break
        winner.excluded = f"cannot be served: {ctx.servable_cache[winner.version].detail}"
    decision: dict[str, Any] = {
        "model": name,
        "environment": env,
        "champion_before": champion_before,
        "selected": winner.version if winner else None,
        "candidates": selection.report,
        "actions": [],
    }
    promoted = False
    if winner is not None:
        fired, checked = matching_actions(winner, rules, env)
        decision["action_rules"] = checked
        for rule in fired:
            for action in rule.rule.callback_actions:
                outcome = _act(action, rule, winner, spec, ctx, champion_before)
                decision["actions"].append({"rule": rule.rule_id, "action": action.action, **outcome})
                promoted = promoted or bool(outcome.get("moved") and action.alias == "champion")
    else:
        decision["why"] = "no eligible candidate"
    decision["champion_after"] = ctx.history.current(name, "champion")
    decision["seconds"] = round(time.monotonic() - start, 2)
    _tag_versions(ctx.hook, name, selection.report, winner, ctx.dag_run_id)
    log.info("gate decision for %s: %s", name, _summary(decision))
    unresolved = [a for a in decision["actions"] if a.get("status") in ("failed", "pending")]
    if unresolved:  # every decision is recorded above; the task must not succeed on a move that did not happen
        moves = "; ".join(f"{name}@{a['alias']}: {a['status']} {a.get('detail', '')}" for a in unresolved)
        raise PromotionError(
            f"alias move to v{winner.version} did not happen or cannot be confirmed: {moves} "
            f"(a pending one: run `airflow-mlops history {name} --reconcile`)"
        )
    return {"promoted": promoted, "version": winner.version if promoted and winner else None, "decision": decision}


def _servable(cand: Candidate, name: str, ctx: GateContext) -> bool:
    if cand.version not in ctx.servable_cache:
        result = check_servable(
            name,
            cand.version,
            tracking_uri=ctx.hook.tracking_uri,
            sample=ctx.sample,
            columns=ctx.columns,
            task=ctx.task,
        )
        log.info("servability of %s v%s: %s (%.1f s)", name, cand.version, result.detail, result.seconds)
        ctx.servable_cache[cand.version] = result
    return ctx.servable_cache[cand.version].ok


def _act(action, fired, winner: Candidate, spec: ModelSpec, ctx: GateContext, champion_before) -> dict[str, Any]:
    name = spec.model.name
    if action.action == "deploy":
        if ctx.history.current(name, action.alias) == winner.version:  # nothing to move, nothing to record
            return {"moved": False, "status": "unchanged", "alias": action.alias, "previous": winner.version}
        if not _servable(winner, name, ctx) and not winner.attrs["is_champion"]:
            ctx.history.record(
                name,
                action.alias,
                winner.version,
                action="promote",
                status="refused",
                reason="not servable",
                dag_id=ctx.dag_id,
                dag_run_id=ctx.dag_run_id,
                who=ctx.who,
            )
            return {"moved": False, "detail": "not servable"}
        expected = champion_before if action.alias == "champion" else ctx.history.current(name, action.alias)
        move = ctx.history.move(
            name,
            action.alias,
            winner.version,
            action="promote",
            expected_previous=expected,
            reason=f"rule {fired.rule_id} ({fired.source})",
            dag_id=ctx.dag_id,
            dag_run_id=ctx.dag_run_id,
            who=ctx.who,
            details={"values": fired.values},
        )
        log.info("deploy %s@%s → v%s: %s %s", name, action.alias, winner.version, move.status, move.detail)
        return {
            "moved": move.applied,
            "status": move.status,
            "alias": action.alias,
            "previous": move.previous_version,
            "detail": move.detail,
        }
    if action.action == "tag":
        ctx.hook.set_version_tag(name, winner.version, action.key, action.value)
        return {"key": action.key, "value": action.value}
    if action.action == "notify":
        message = action.message or f"{name}: rule {fired.rule_id} fired for v{winner.version}"
        text = f"{message} (v{winner.version}, {', '.join(f'{k}={v}' for k, v in fired.values.items())})"
        log.warning("notify: %s", text)
        if ctx.notify:
            ctx.notify(text)
        return {"message": text}
    if action.action == "trigger_dag":
        conf = {**action.conf, "model": name, "version": winner.version}
        if action.dag_id not in spec.dag_ids.values():  # the loaders refuse this too; a rule never starts others' DAGs
            log.warning("trigger_dag %s refused: not one of %s's own DAGs", action.dag_id, name)
            return {"dag_id": action.dag_id, "triggered": False, "detail": "not one of this model's own DAGs"}
        if ctx.trigger_dag is None:
            log.warning("trigger_dag %s: not running inside an Airflow task, not triggered", action.dag_id)
            return {"dag_id": action.dag_id, "triggered": False, "conf": conf}
        run_id = ctx.trigger_dag(action.dag_id, conf)
        return {"dag_id": action.dag_id, "triggered": True, "run_id": run_id, "conf": conf}
    return {"detail": f"unknown action {action.action}"}  # pragma: no cover - schema forbids it


def _tag_versions(hook: MLflowHook, name: str, report: dict, winner: Candidate | None, dag_run_id: str | None) -> None:
    for version, record in report.items():
        if record.get("role") is None:
            continue
        if winner is not None and version == winner.version:
            result, why = "selected", f"selected; wins={record.get('wins', 0)}"
        elif record.get("eligible"):
            result, why = "lost", record.get("lost", "")
        else:
            result, why = "ineligible", record.get("reason", "")
        try:
            hook.set_version_tag(name, version, TAG_PREFIX + "result", result)
            hook.set_version_tag(name, version, TAG_PREFIX + "reason", str(why)[:MAX_TAG])
            hook.set_version_tag(name, version, TAG_PREFIX + "dag_run_id", dag_run_id or "")
        except Exception as exc:  # a version missing from the registry cannot be tagged; anything else raises
            from airflow_mlops.hooks.mlflow import is_missing

            if not is_missing(exc):
                raise
            log.info("cannot tag %s v%s: %s", name, version, exc)


def _summary(decision: dict[str, Any]) -> str:
    parts = [
        f"selected={decision['selected']}",
        f"champion {decision['champion_before']} → {decision['champion_after']}",
    ]
    for version, record in decision["candidates"].items():
        state = "selected" if record.get("selected") else record.get("lost") or record.get("reason") or ""
        parts.append(f"v{version} ({record['role']}): {state}")
    for action in decision["actions"]:
        parts.append(
            f"action {action['action']} [{action['rule']}]: {action.get('status') or action.get('detail') or ''}"
        )
    return "\n  ".join(parts)
