"""The FastAPI app of the reports plugin: an index of reports per model and the reports themselves.

Routes (under ``/mlops-reports``): ``/`` (HTML index of the models' reports), ``/api/reports[?model=]``
(the headlines as JSON), ``/{model}/{report_id}/report.html`` and ``.../report.json``, and the model
overview (``/overview``, ``POST /overview/rollback``: :mod:`airflow_mlops.plugins.overview_app`). Inside the API
server, requests need an Airflow login (the UI's JWT cookie or a bearer token), as the REST API does,
and a model's reports are shown only to users whom Airflow's auth manager lets read all of that
model's DAGs. Reports hold scored data, so they are served as inert documents: a sandboxing CSP gives
the page an opaque origin (its scripts draw the charts but cannot call the Airflow API with the
viewer's session) and forbids network access. Only FastAPI and the standard library are imported at
module level: the API server loads this at start.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

URL_PREFIX = "/mlops-reports"
MODEL_DAGS = ("train", "score", "monitor", "rollback")  # a model's DAGs are ``<model>__<stage>``

# Evidently's HTML is self-contained (inline scripts, styles, data: images). ``sandbox allow-scripts``
# without ``allow-same-origin`` runs it in an opaque origin; the fetch directives cut it off the network.
REPORT_CSP = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)
INDEX_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
DATA_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # per-user authorization: no shared caches
    "Cross-Origin-Opener-Policy": "same-origin",
}

ModelFilter = Callable[[str], bool]


def _allow_all() -> ModelFilter:
    return lambda model: True


def _airflow_access() -> Callable[..., ModelFilter]:
    """A dependency giving ``may_read(model)``, decided by Airflow's auth manager for the logged-in user."""
    from airflow.api_fastapi.core_api.security import get_user

    def access(user: Any = Depends(get_user)) -> ModelFilter:
        from airflow.api_fastapi.app import get_auth_manager

        manager = get_auth_manager()
        decided: dict[str, bool] = {}

        def may_read(model: str) -> bool:
            if model not in decided:
                decided[model] = may_read_model(manager, user, model)
            return decided[model]

        return may_read

    return access


def model_dag_ids(model: str) -> list[str]:
    return [f"{model}__{stage}" for stage in MODEL_DAGS]


def may_read_model(manager: Any, user: Any, model: str) -> bool:
    """Whether ``user`` may read (GET) every DAG of ``model``, asked through the public auth-manager API."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
    from airflow.configuration import conf

    dag_ids = model_dag_ids(model)
    teams: dict[str, str | None] = {}
    if conf.getboolean("core", "multi_team", fallback=False):
        from airflow.models.dag import DagModel

        teams = DagModel.get_dag_id_to_team_name_mapping(dag_ids)
    requests = [{"method": "GET", "details": DagDetails(id=d, team_name=teams.get(d))} for d in dag_ids]
    return bool(manager.batch_is_authorized_dag(requests, user=user))


async def _security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Hardening headers on every response. Any HTML but the index (which sets its own) is a report: sandboxed."""
    response = await call_next(request)
    is_html = response.headers.get("content-type", "").startswith("text/html")
    response.headers.setdefault("Content-Security-Policy", REPORT_CSP if is_html else DATA_CSP)
    for key, value in COMMON_HEADERS.items():
        if key != "Referrer-Policy" or key not in response.headers:  # the overview page sets its own
            response.headers[key] = value
    return response


def create_app(require_login: bool = True) -> FastAPI:
    """The reports app; ``require_login=False`` only for a standalone viewer outside Airflow (no authorization)."""
    app = FastAPI(title="airflow-mlops reports", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(_security_headers)
    access = Depends(_airflow_access() if require_login else _allow_all)

    @app.get("/", response_class=HTMLResponse)
    def index(may_read: ModelFilter = access) -> HTMLResponse:
        from airflow_mlops.monitoring.store import list_reports

        page = render_index([h for h in list_reports() if may_read(str(h["model"]))])
        return HTMLResponse(page, headers={"Content-Security-Policy": INDEX_CSP})

    @app.get("/api/reports")
    def reports(model: str | None = None, may_read: ModelFilter = access) -> list[dict[str, Any]]:
        from airflow_mlops.monitoring.store import list_reports, valid_model

        if model is not None:
            _check(model, may_read, valid_model(model))
        return [h for h in list_reports(model) if may_read(str(h["model"]))]

    @app.get("/{model}/{report_id}/{name}")
    def report(model: str, report_id: str, name: str, may_read: ModelFilter = access) -> Response:
        from airflow_mlops.monitoring.store import REPORT_FILES, read_report_file, valid_model, valid_report_id

        _check(model, may_read, valid_model(model) and valid_report_id(report_id) and name in REPORT_FILES)
        try:
            body = read_report_file(model, report_id, name)
        except FileNotFoundError as exc:
            raise HTTPException(status_code=404, detail="no such report") from exc
        kind = "text/html; charset=utf-8" if name.endswith(".html") else "application/json"
        return Response(content=body, media_type=kind)

    from airflow_mlops.plugins.overview_app import add_overview_routes

    add_overview_routes(app, require_login)
    return app


def _check(model: str, may_read: ModelFilter, valid: bool) -> None:
    """404 for a name outside the allow-lists (before any file access), 403 for a model the user may not read."""
    if not valid:
        raise HTTPException(status_code=404, detail="no such report")
    if not may_read(model):
        raise HTTPException(status_code=403, detail=f"not allowed to read the DAGs of model {model}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value)) if value is not None else "–"


def render_index(headlines: list[dict[str, Any]]) -> str:
    """One table per model: report time, drifted share, drift verdict, quality, links."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for h in headlines:
        by_model.setdefault(str(h.get("model")), []).append(h)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Model reports</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.drift{color:#b00020;font-weight:bold}"
        "</style></head><body><h1>Model monitoring reports</h1>"
    ]
    if not by_model:
        parts.append("<p>No monitoring reports yet. The <code>&lt;model&gt;__monitor</code> DAGs write them.</p>")
    for model, items in sorted(by_model.items()):
        parts.append(
            f"<h2 id='{html.escape(model)}'>{html.escape(model)}</h2><table><tr><th>report</th>"
            "<th>champion</th><th>drifted share</th><th>dataset drift</th><th>prediction drift</th>"
            "<th>live quality</th><th>rows (ref / current)</th><th></th></tr>"
        )
        for h in items:
            drift = h.get("drift") or {}
            pred = h.get("prediction_drift") or {}
            quality = ", ".join(f"{k}={_fmt(v)}" for k, v in (h.get("quality") or {}).items()) or "no labels yet"
            base = f"{html.escape(model)}/{html.escape(str(h.get('report_id')))}"  # relative to the index
            verdict = "<span class='drift'>DRIFT</span>" if drift.get("detected") else "no drift"
            parts.append(
                f"<tr><td>{_fmt(h.get('report_id'))}</td><td>v{_fmt(h.get('champion_version'))}</td>"
                f"<td>{_fmt(drift.get('share'))} (threshold {_fmt(drift.get('threshold'))})</td><td>{verdict}</td>"
                f"<td>{'yes' if pred.get('drifted') else 'no'}</td><td>{quality}</td>"
                f"<td>{_fmt(h.get('reference_rows'))} / {_fmt(h.get('current_rows'))}</td>"
                f"<td><a href='{base}/report.html'>HTML</a> · <a href='{base}/report.json'>JSON</a></td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)
