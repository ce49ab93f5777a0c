"""Should the model retrain now, and why? The decision ``decide_retrain`` makes, kept free of Airflow.

Reasons checked here: ``drift`` (drifted share of feature columns at or above the threshold),
``metric_drop`` (a ``monitoring.quality_rules`` rule fails on live metrics) and ``code_change`` (the spec or
training code hash differs from the champion's). ``schedule`` (cron), ``new_data`` (Asset) and ``manual``
(UI/REST) start the train DAG directly. Only reasons listed in ``monitoring.retrain_on`` count.

The cooldown: after any retrain request for a model, no other request for ``monitoring.cooldown``; and an
incident (the same report, the same code version) requests at most one retrain, ever.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_mlops.monitoring.data import Champion
from airflow_mlops.monitoring.ledger import Ledger
from airflow_mlops.monitoring.quality import failed_rules
from airflow_mlops.spec import ModelSpec
from airflow_mlops.spec.schema import duration_seconds

PRIORITY = ("metric_drop", "drift", "code_change")


@dataclass
class Decision:
    """The outcome: ``retrain`` with the ``reason`` passed to the train DAG, or why not."""

    model: str
    retrain: bool = False
    reason: str | None = None
    reasons: dict[str, str] = field(default_factory=dict)  # every due reason → detail
    incident: str | None = None
    suppressed: str | None = None

    @property
    def note(self) -> str:
        return "; ".join(f"{r}: {d}" for r, d in self.reasons.items())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "note": self.note}


def due_reasons(
    spec: ModelSpec,
    headline: dict[str, Any] | None,
    champion: Champion | None,
    current_spec_hash: str,
    current_code_version: str,
) -> dict[str, str]:
    """Every retrain reason that holds now (listed in ``retrain_on``), each with a one-line detail."""
    wanted = set(spec.monitoring.retrain_on)
    due: dict[str, str] = {}
    if headline:
        drift = headline.get("drift") or {}
        if "drift" in wanted and drift.get("detected"):
            drifted = sorted(c for c, s in (drift.get("scores") or {}).items() if s.get("drifted"))
            due["drift"] = (
                f"drifted share {drift['share']:.2f} >= {drift['threshold']:.2f} (columns: {', '.join(drifted)})"
            )
        quality = headline.get("quality") or {}
        if "metric_drop" in wanted and quality and spec.monitoring.quality_rules:
            failed = failed_rules(spec.monitoring.quality_rules, quality, _rule_names(spec))
            if failed:
                values = ", ".join(f"{k}={v:.4g}" for k, v in sorted(quality.items()))
                due["metric_drop"] = f"failed {failed} with {values}"
    if "code_change" in wanted and champion is not None:
        changes = []
        recorded_spec, recorded_code = champion.tags.get("mlops.spec_hash"), champion.tags.get("mlops.code_version")
        if recorded_spec and recorded_spec != current_spec_hash:
            changes.append(f"spec hash {recorded_spec} -> {current_spec_hash}")
        if recorded_code and recorded_code != current_code_version:
            changes.append(f"code version {recorded_code} -> {current_code_version}")
        if changes:
            due["code_change"] = f"champion v{champion.version}: " + ", ".join(changes)
    return due


def retrain_decision(
    spec: ModelSpec,
    due: dict[str, str],
    ledger: Ledger,
    *,
    report_id: str | None,
    code_key: str,
    now: datetime | None = None,
) -> Decision:
    """Apply the cooldown to the due reasons; record the request in ``ledger`` when a retrain is decided."""
    model = spec.model.name
    decision = Decision(model=model, reasons=due)
    if not due:
        return decision
    reason = next(r for r in PRIORITY if r in due)
    incident = code_key if reason == "code_change" else f"report:{report_id}"
    decision.reason, decision.incident = reason, incident
    if ledger.requests_for_report(model, incident):
        decision.suppressed = f"incident {incident} already requested a retrain"
        return decision
    now = now or datetime.now(UTC)
    last = ledger.last_request(model)
    cooldown = timedelta(seconds=duration_seconds(spec.monitoring.cooldown))
    if last is not None and now - last.requested_at < cooldown:
        decision.suppressed = (
            f"cooldown {spec.monitoring.cooldown}: last retrain ({last.reason}) requested at "
            f"{last.requested_at.isoformat()}, next allowed at {(last.requested_at + cooldown).isoformat()}"
        )
        return decision
    ledger.record(model, reason, incident, decision.note, at=now)
    decision.retrain = True
    return decision


def _rule_names(spec: ModelSpec) -> dict[str, Any]:
    return {
        "model_name": spec.model.name,
        "model_domain": spec.model.domain,
        "model_team": spec.model.team,
        "team": spec.model.team,
        "model_task": spec.model.task,
        "environment": spec.promotion.environment,
        "role": "champion",
        "is_champion": True,
    }
