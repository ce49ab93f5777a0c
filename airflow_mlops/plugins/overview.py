"""What the model overview page shows, gathered per model from the project's own stores.

Models are the specs in Airflow's DAGs folder, plus any model that has monitoring reports. Per model:
what serves now and since when (alias history), the champion history, the registered versions with
their key metrics and gate decisions (MLflow, through :class:`~airflow_mlops.hooks.mlflow.MLflowHook`),
rows scored per day, role and version (:meth:`~airflow_mlops.hooks.scores_db.ScoresDbHook.runs`) and the
monitoring headlines (:func:`~airflow_mlops.monitoring.store.list_reports`). One failing store leaves its
section empty with the (redacted) error; the rest of the page still shows. Reading writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_VERSIONS = 10
MAX_EVENTS = 30
MAX_DAYS = 14
MAX_REPORTS = 30
GATE_TAG = "mlops.gate."


@dataclass
class ModelOverview:
    """Everything the page shows about one model; ``errors`` maps a section to why it is empty."""

    model: str
    spec_path: str | None = None
    metric_names: list[str] = field(default_factory=list)
    serving: dict[str, Any] | None = None  # the last applied champion move (version, at, who, reason)
    aliases: dict[str, str] = field(default_factory=dict)  # MLflow's current aliases
    history: list[dict[str, Any]] = field(default_factory=list)  # champion moves, newest first
    versions: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)  # {day, role, version, rows}
    reports: list[dict[str, Any]] = field(default_factory=list)  # headlines, newest first
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def mlflow_champion(self) -> str | None:
        return self.aliases.get("champion")


def dags_folder() -> Path:
    from airflow.configuration import conf

    return Path(conf.get("core", "dags_folder"))


def model_specs(folder: Path | None = None) -> dict[str, Path]:
    """Model name → spec file, for the specs in the DAGs folder that load (a broken one is the DAG's import error)."""
    from airflow_mlops.spec import load_spec
    from airflow_mlops.spec.loader import find_specs

    found: dict[str, Path] = {}
    root = folder or dags_folder()
    for path in find_specs([root]) if root.is_dir() else []:
        try:
            found.setdefault(load_spec(path).model.name, path)
        except Exception:  # noqa: S112 - shown by Airflow as the stub's import error, not here
            continue
    return found


def known_models(may_read: Callable[[str], bool]) -> dict[str, Path | None]:
    """The models the user may read: spec models and models with reports, sorted by name."""
    from airflow_mlops.monitoring.store import list_reports

    models: dict[str, Path | None] = dict(model_specs())
    for headline in list_reports():
        models.setdefault(str(headline["model"]), None)
    return {m: models[m] for m in sorted(models) if may_read(m)}


def _error(exc: BaseException) -> str:
    from airflow_mlops.redact import redact_text

    return f"{type(exc).__name__}: {redact_text(str(exc))[:300]}"


def collect(model: str, spec_path: Path | None) -> ModelOverview:
    """The overview of ``model``; each section fails on its own (see the module docstring)."""
    view = ModelOverview(model, str(spec_path) if spec_path else None)
    spec = None
    if spec_path is not None:
        from airflow_mlops.spec import load_spec

        spec = load_spec(spec_path)
        view.metric_names = list(spec.training.metrics)
    sections: list[tuple[str, Callable[[], None]]] = [
        ("history", lambda: _history(view)),
        ("mlflow", lambda: _mlflow(view)),
        ("scores", lambda: _scores(view, spec)),
        ("reports", lambda: _reports(view)),
    ]
    for name, fill in sections:
        try:
            fill()
        except Exception as exc:
            view.errors[name] = _error(exc)
    return view


def _history(view: ModelOverview) -> None:
    from airflow_mlops.promotion.history import AliasHistory, history_exists, state_hook

    state = state_hook()
    if not history_exists(state):
        return  # nothing promoted yet; opening the embedded store would create it
    history = AliasHistory(state=state)
    view.serving = history.serving_at(view.model, datetime.now(UTC))
    view.history = history.events(view.model, "champion", limit=MAX_EVENTS)[::-1]


def _mlflow(view: ModelOverview) -> None:
    from airflow_mlops.hooks.mlflow import MLflowHook

    hook = MLflowHook()
    view.aliases = hook.aliases(view.model) or {}
    by_version = {v: a for a, v in view.aliases.items()}
    for ref in hook.versions(view.model)[:MAX_VERSIONS]:
        metrics = hook.run_metrics(ref.run_id) if ref.run_id else {}
        shown = {m: metrics[m] for m in view.metric_names if m in metrics}
        if not shown:
            shown = {k: metrics[k] for k in sorted(metrics) if "/" not in k and "." not in k}
        view.versions.append(
            {
                "version": ref.version,
                "alias": by_version.get(ref.version),
                "created": datetime.fromtimestamp(ref.created_time, UTC) if ref.created_time else None,
                "metrics": dict(list(shown.items())[:6]),
                "gate": ref.tags.get(GATE_TAG + "result"),
                "gate_reason": ref.tags.get(GATE_TAG + "reason", ""),
                "run_id": ref.run_id,
                "run_url": hook.run_url(hook.run_experiment_id(ref.run_id), ref.run_id) if ref.run_id else None,
            }
        )


def _scores(view: ModelOverview, spec: Any) -> None:
    """Rows of the current score runs, summed per day, role and version (the newest ``MAX_DAYS`` days)."""
    if spec is None:
        return
    from airflow_mlops.hooks.scores_db import ScoresDbHook
    from airflow_mlops.scoring.table import ScoresTable

    table = ScoresTable(spec.scoring.destination.table, spec.features.entity, spec.features.timestamp)
    totals: dict[tuple[str, str, str], int] = {}
    for run in ScoresDbHook(spec.scoring.destination.conn_id).runs(table, view.model, None):
        day = str(run["logical_date"])[:10]
        key = (day, str(run["role"]), str(run["model_version"]))
        totals[key] = totals.get(key, 0) + int(run["rows"] or 0)
    days = sorted({d for d, _, _ in totals}, reverse=True)[:MAX_DAYS]
    view.scores = [
        {"day": d, "role": r, "version": v, "rows": n} for (d, r, v), n in sorted(totals.items()) if d in days
    ]


def _reports(view: ModelOverview) -> None:
    from airflow_mlops.monitoring.store import list_reports

    view.reports = list_reports(view.model)[:MAX_REPORTS]
