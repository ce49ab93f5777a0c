"""Routes of the model overview: ``GET /overview`` (the page) and ``POST /overview/rollback`` (the rollback form).

The page lists only models whose DAGs the user may read (as the reports do). The rollback POST is a
state change made with the user's session, so it is checked twice before anything happens: the request
must come from a page of this origin (``Origin``, else ``Referer``; a cross-site form or a missing header
is refused), and Airflow's auth manager must let the user read the model's DAGs and create a run of
``<model>__rollback``. The run is then created through Airflow's REST API with the user's own token, so
Airflow checks again and records the user as the run's triggering user (and in its audit log).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

OVERVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'self'"
)
# The browser sends Origin on a same-origin POST only when the page's policy is not no-referrer.
OVERVIEW_REFERRER = "same-origin"
MAX_FORM_BYTES = 4096
MAX_REASON = 500
MAX_VERSION = 1_000_000_000
RUN_ID = re.compile(r"[A-Za-z0-9_:.+-]{1,250}")


def add_overview_routes(app: FastAPI, require_login: bool) -> None:
    """Mount the page and the rollback form on the reports app (see the module docstring)."""
    from airflow_mlops.plugins.reports_app import may_read_model

    caller = Depends(_caller() if require_login else lambda: None)

    @app.get("/overview", response_class=HTMLResponse)
    def overview(model: str = "", run: str = "", who: Any = caller) -> HTMLResponse:
        from airflow_mlops.monitoring.store import valid_model
        from airflow_mlops.plugins.overview import collect, known_models
        from airflow_mlops.plugins.overview_page import render

        # after a rollback: a fixed sentence around two checked names (no free text from the URL on the page)
        triggered = valid_model(model) and RUN_ID.fullmatch(run) is not None
        notice = f"Triggered {model}__rollback: DAG run {run}." if triggered else ""

        manager, user = who or (None, None)
        models = known_models(lambda m: user is None or may_read_model(manager, user, m))
        views = [collect(m, path) for m, path in models.items()]
        triggers = {m: user is not None and may_trigger_rollback(manager, user, m) for m in models}
        headers = {"Content-Security-Policy": OVERVIEW_CSP, "Referrer-Policy": OVERVIEW_REFERRER}
        return HTMLResponse(render(views, triggers, notice), headers=headers)

    @app.post("/overview/rollback")
    async def rollback(request: Request, who: Any = caller) -> RedirectResponse:
        from airflow_mlops.monitoring.store import valid_model

        if who is None:
            raise HTTPException(status_code=403, detail="rollback needs an Airflow login")
        check_same_origin(request)
        manager, user = who
        form = await _form(request)
        model = form.get("model", "")
        if not valid_model(model):
            raise HTTPException(status_code=404, detail="no such model")
        if not (may_read_model(manager, user, model) and may_trigger_rollback(manager, user, model)):
            raise HTTPException(status_code=403, detail=f"not allowed to trigger {model}__rollback")
        version, reason = _version(form.get("version", "")), form.get("reason", "").strip()
        if not reason or len(reason) > MAX_REASON:
            raise HTTPException(status_code=400, detail=f"a reason (1-{MAX_REASON} characters) is required")
        run_id = await trigger_rollback(request, model, version, reason)
        query = urlencode({"model": model, "run": run_id})
        return RedirectResponse(f"../overview?{query}#{model}", status_code=303)


def _caller() -> Any:
    """A dependency giving ``(auth manager, user)`` for the logged-in user (401 without a login)."""
    from airflow.api_fastapi.core_api.security import get_user

    def caller(user: Any = Depends(get_user)) -> tuple[Any, Any]:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager(), user

    return caller


def may_trigger_rollback(manager: Any, user: Any, model: str) -> bool:
    """Whether the auth manager lets ``user`` create a run of ``<model>__rollback``."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.configuration import conf

    dag_id = f"{model}__rollback"
    team = None
    if conf.getboolean("core", "multi_team", fallback=False):
        from airflow.models.dag import DagModel

        team = DagModel.get_dag_id_to_team_name_mapping([dag_id]).get(dag_id)
    details = DagDetails(id=dag_id, team_name=team)
    return bool(manager.is_authorized_dag(method="POST", access_entity=DagAccessEntity.RUN, details=details, user=user))


def check_same_origin(request: Request) -> None:
    """403 unless ``Origin`` (or, without it, ``Referer``) names this server: the host the browser reached
    (``Host``), or the origin of ``[api] base_url`` (behind a proxy that rewrites ``Host``)."""
    from airflow.configuration import conf

    claimed = urlsplit(request.headers.get("origin") or request.headers.get("referer") or "")
    public = urlsplit(conf.get("api", "base_url", fallback="") or "")
    allowed = {request.headers.get("host", "").lower(), public.netloc.lower()} - {""}
    if claimed.scheme not in ("http", "https") or claimed.netloc.lower() not in allowed:
        raise HTTPException(status_code=403, detail="cross-origin or unattributed form post refused")


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body of at most ``MAX_FORM_BYTES``, one value per field."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise HTTPException(status_code=415, detail="expected a form post")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status_code=413, detail="form too large")
    try:
        fields = parse_qs(body.decode(), max_num_fields=10, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(status_code=400, detail="malformed form") from exc
    return {k: v[0] for k, v in fields.items() if len(v) == 1}


def _version(text: str) -> int:
    if not text.isdecimal() or not 0 < int(text) <= MAX_VERSION:
        raise HTTPException(status_code=400, detail="version must be a registered version number")
    return int(text)


def _user_token(request: Request) -> str:
    """The credential ``get_user`` accepted: the bearer token, else the UI's session cookie."""
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return request.cookies.get(COOKIE_NAME_JWT_TOKEN, "")


def api_base() -> str:
    """This API server's own address (never the request's Host header: the user's token goes there)."""
    from airflow.configuration import conf

    host = conf.get("api", "host", fallback="127.0.0.1") or "127.0.0.1"
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a bind address, not a bind
    port = conf.getint("api", "port", fallback=8080)
    scheme = "https" if conf.get("api", "ssl_cert", fallback="") else "http"
    return f"{scheme}://{host}:{port}"


def _tls_verify(base: str) -> Any:
    """How to verify our own API server: its configured certificate pins it on loopback, else normal TLS checks."""
    import ssl

    from airflow.configuration import conf

    cert = conf.get("api", "ssl_cert", fallback="")
    if not base.startswith("https://") or not cert:
        return True
    if base.split("://", 1)[1].rsplit(":", 1)[0] not in ("127.0.0.1", "localhost", "[::1]"):
        return True
    context = ssl.create_default_context(cafile=cert)  # the server's own certificate is the trust anchor
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.check_hostname = False  # issued for the public name; the request never leaves this machine
    return context


async def trigger_rollback(request: Request, model: str, version: int, reason: str) -> str:
    """Create a run of ``<model>__rollback`` through the REST API as the logged-in user; returns its run id."""
    import httpx

    base = api_base()
    url = f"{base}/api/v2/dags/{model}__rollback/dagRuns"
    body = {"logical_date": None, "conf": {"version": version, "reason": reason}}
    headers = {"Authorization": f"Bearer {_user_token(request)}"}
    try:
        async with httpx.AsyncClient(timeout=30, verify=_tls_verify(base)) as client:
            reply = await client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise HTTPException(status_code=502, detail=f"Airflow's API did not answer: {type(exc).__name__}") from exc
    if reply.status_code != 200:
        is_json = reply.headers.get("content-type", "").startswith("application/json")
        detail = str(reply.json().get("detail", "")) if is_json else reply.text
        raise HTTPException(status_code=reply.status_code, detail=f"Airflow refused the run: {detail[:300]}")
    return str(reply.json()["dag_run_id"])
