"""The FastAPI app of the reports plugin: an index of reports per model and the reports themselves.

Routes (under ``/mlops-reports``): ``/`` (HTML index of all models' reports), ``/api/reports[?model=]``
(the headlines as JSON), ``/{model}/{report_id}/report.html`` and ``.../report.json``. Inside the API
server, requests need an Airflow login (the UI's JWT cookie or a bearer token), as the REST API does.
Only FastAPI and the standard library are imported: the API server loads this at start.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

URL_PREFIX = "/mlops-reports"


def _airflow_user() -> list[Any]:
    """Airflow's own authentication dependency, when running inside the Airflow API server."""
    from airflow.api_fastapi.core_api.security import get_user

    return [Depends(get_user)]


def create_app(require_login: bool = True) -> FastAPI:
    """The reports app; ``require_login=False`` only for a standalone viewer outside Airflow."""
    app = FastAPI(
        title="airflow-mlops reports",
        dependencies=_airflow_user() if require_login else [],
        docs_url=None,
        redoc_url=None,
    )

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        from airflow_mlops.monitoring.store import list_reports

        return render_index(list_reports())

    @app.get("/api/reports")
    def reports(model: str | None = None) -> list[dict[str, Any]]:
        from airflow_mlops.monitoring.store import list_reports

        return list_reports(model)

    @app.get("/{model}/{report_id}/{name}")
    def report(model: str, report_id: str, name: str) -> Response:
        from airflow_mlops.monitoring.store import read_report_file

        try:
            body = read_report_file(model, report_id, name)
        except FileNotFoundError as exc:
            raise HTTPException(status_code=404, detail=f"no {name} for {model}/{report_id}") from exc
        kind = "text/html; charset=utf-8" if name.endswith(".html") else "application/json"
        return Response(content=body, media_type=kind)

    return app


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
