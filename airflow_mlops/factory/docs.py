"""Render a spec as Markdown for a DAG's ``doc_md`` (shown in the Airflow UI)."""

from __future__ import annotations

from airflow_mlops.spec import ModelSpec

PURPOSE = {
    "train": "Materializes features with Feast, validates the training set with Great Expectations, trains "
    "and registers a challenger in MLflow, compares it with the champion on the freshest data, and lets the "
    "promotion rules decide which version serves.",
    "score": "Materializes and validates the scoring input, scores it with the `champion` version "
    "(and the challenger when shadow scoring is on) and writes every prediction with its model version.",
    "monitor": "Writes Evidently drift and quality reports and requests a retrain when a trigger fires.",
    "rollback": "Re-points the `champion` alias to an earlier version in one step. Trigger it with the "
    "version number (a form in the trigger dialog, or `conf` over the REST API).",
}


def render_doc(spec: ModelSpec, kind: str, spec_file: str) -> str:
    """Markdown describing the ``kind`` DAG of ``spec``."""
    m, f, t, v = spec.model, spec.features, spec.training, spec.validation
    lines = [
        f"# {m.name} · {kind}",
        "",
        m.description or "",
        "",
        PURPOSE[kind],
        "",
        "| | |",
        "|---|---|",
        f"| Spec | `{spec_file}` |",
        f"| Team / domain | {m.team} / {m.domain} |",
        f"| Task | {m.task} |",
        f"| Entity / label | `{f.entity}` / `{f.label}` |",
        f"| Features | {', '.join(f'`{r}`' for r in f.refs)} |",
        f"| Estimator | `{t.estimator}` {t.params or ''} |",
        f"| Metrics | {', '.join(t.metrics or [])}; slices: {', '.join(t.slices) or 'none'} |",
        f"| Scores table | `{spec.scoring.destination.table}` via connection `{spec.scoring.destination.conn_id}` |",
        f"| Retrain on | {', '.join(spec.monitoring.retrain_on)} (cooldown {spec.monitoring.cooldown}) |",
    ]
    if v.columns:
        lines += ["", f"**Validation** (on failure: `{v.on_failure}`)", "", "| column | rules |", "|---|---|"]
        for name, rule in v.columns.items():
            rules = ", ".join(f"{k}={val}" for k, val in rule.model_dump(exclude_defaults=True).items())
            lines.append(f"| `{name}` | {rules} |")
    p = spec.promotion
    if p.selection_rules or p.action_rules:
        lines += ["", f"**Promotion rules** (environment `{p.environment}`)", ""]
        for r in p.selection_rules:
            lines.append(
                f"- selection `{r.uuid or '-'}`: GIVEN `{r.given}` WHEN `{r.when}` "
                f"MODEL_SELECTION `{r.model_selection}`"
            )
        for r in p.action_rules:
            actions = ", ".join(a.action + (f"({a.alias})" if a.alias else "") for a in r.callback_actions)
            lines.append(f"- action `{r.uuid or '-'}`: GIVEN `{r.given}` WHEN `{r.when}` → {actions}")
    return "\n".join(lines)
