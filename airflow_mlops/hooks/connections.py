"""Connection lookup that tells "not defined" from "could not be read", for hooks with an embedded default.

Airflow 3.3's task SDK turns every lookup failure into ``AirflowNotFoundException``: the worker's
``ExecutionAPISecretsBackend`` returns None on an ``API_SERVER_ERROR`` from the API server, and
``airflow.sdk.execution_time.context._get_connection`` logs a raising secrets backend at DEBUG and moves
on to the next one. A hook that fell back to a worker-local SQLite store on that exception would write a
task's results into a file nobody reads after a transient error, and the task would succeed.

:func:`get_optional` therefore confirms a "not found" by asking every backend of the same chain again,
letting errors through (and, inside a task, reading the supervisor's answer itself: only
``CONNECTION_NOT_FOUND`` counts as absent). Any other outcome raises :class:`ConnectionLookupError`
naming the conn id. :func:`check_embedded_allowed` refuses an embedded fallback when the deployment is
configured for remote stores.
"""

from __future__ import annotations

import os
from typing import Any

from airflow_mlops.redact import redact_text

EMBEDDED_ENV = "AIRFLOW_MLOPS_EMBEDDED"  # "false": never fall back to the embedded stores
# Variables whose non-local value means "this deployment has remote stores".
REMOTE_ENV = ("MLFLOW_TRACKING_URI", "AIRFLOW_MLOPS_HISTORY_URI")
LOCAL_SCHEMES = ("sqlite:", "file:", "/")


class ConnectionLookupError(RuntimeError):
    """A connection could not be read (not the same as "it does not exist")."""


def _error(conn_id: str, what: str, exc: BaseException | None = None) -> ConnectionLookupError:
    cause = f": {type(exc).__name__}: {redact_text(str(exc))}" if exc is not None else ""
    return ConnectionLookupError(f"cannot read Airflow connection {conn_id!r} ({what}){cause}")


def get_optional(conn_id: str, get: Any = None) -> Any | None:
    """The connection ``conn_id``, or None when no secrets backend defines it; raises on any lookup error.

    ``get`` is the lookup (default ``BaseHook.get_connection``).
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    get = get or BaseHook.get_connection
    try:
        return get(conn_id)
    except AirflowNotFoundException:
        pass
    except Exception as exc:  # not chained: the cause's text may hold credentials; ours is redacted
        raise _error(conn_id, "lookup failed", exc) from None
    if _confirm_absent(conn_id):
        return None
    return get(conn_id)  # defined after all (it appeared meanwhile): read it the ordinary way


def _confirm_absent(conn_id: str) -> bool:
    """True when every backend says ``conn_id`` is undefined; False when one has it; raises on errors."""
    try:
        from airflow.sdk.execution_time.secrets.execution_api import ExecutionAPISecretsBackend
        from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded
    except ImportError:  # another Airflow layout: trust its "not found"
        return True
    for backend in ensure_secrets_backend_loaded():
        name = type(backend).__name__
        try:
            if isinstance(backend, ExecutionAPISecretsBackend):
                found = _ask_supervisor(conn_id)
            else:
                found = backend.get_connection(conn_id=conn_id) is not None
        except ConnectionLookupError:
            raise
        except Exception as exc:
            raise _error(conn_id, f"secrets backend {name} failed", exc) from None
        if found:
            return False
    return True


def _ask_supervisor(conn_id: str) -> bool:
    """Inside a task: True when the API server has ``conn_id``, False when it answers "not found"."""
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
    from airflow.sdk.execution_time.comms import ErrorResponse, GetConnection
    from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

    try:
        reply = SUPERVISOR_COMMS.send(GetConnection(conn_id=conn_id))
    except AirflowRuntimeError as exc:
        reply = exc.error
    if isinstance(reply, ErrorResponse):
        if reply.error == ErrorType.CONNECTION_NOT_FOUND:
            return False
        raise _error(conn_id, f"the API server answered {reply.error.value}: {redact_text(str(reply.detail))}")
    return reply is not None


def remote_configured() -> dict[str, str]:
    """Environment variables that point at remote stores (name → redacted value)."""
    from airflow_mlops.redact import redact_uri

    found = {}
    for name in REMOTE_ENV:
        value = os.environ.get(name, "")
        if value and not value.startswith(LOCAL_SCHEMES):
            found[name] = redact_uri(value)
    return found


def check_embedded_allowed(conn_id: str, store: str, remote: dict[str, str] | None = None) -> None:
    """Raise unless the embedded ``store`` may stand in for the undefined connection ``conn_id``.

    The caller logs (INFO) which store it falls back to.
    """
    if os.environ.get(EMBEDDED_ENV, "").lower() in ("0", "false", "no"):
        raise ConnectionLookupError(
            f"Airflow connection {conn_id!r} is not defined and {EMBEDDED_ENV} forbids the embedded {store}"
        )
    remote = remote_configured() if remote is None else remote
    if remote:
        listed = ", ".join(f"{k}={v}" for k, v in remote.items())
        raise ConnectionLookupError(
            f"Airflow connection {conn_id!r} is not defined, but remote stores are configured ({listed}): "
            f"refusing to fall back to the embedded {store}; define {conn_id!r}"
        )


def sql_connection_form(file_example: str, database_example: str) -> dict[str, Any]:
    """The connection form of a PostgreSQL-or-SQLite hook (scores, state): a SQLite file goes in ``host``."""
    return {
        "hidden_fields": [],
        "relabeling": {"host": "Host (PostgreSQL) or database file (SQLite)", "schema": "Database"},
        "placeholders": {
            "host": f"postgres.internal or {file_example}",
            "schema": database_example,
            "port": "5432",
            "extra": '{"dialect": "postgres"}',
        },
    }
