"""State database hook: the alias history and the retrain ledger, by Airflow connection.

One SQLAlchemy database holds the provider's own durable state (tables ``alias_events``,
``retrain_requests``, ``label_watermarks``). Connection types, as for the scores database:

- ``postgres``: host/port/login/password/schema (database), opened as ``postgresql+psycopg``;
- ``sqlite``: ``host`` is the database file path (one machine only: SQLite on NFS corrupts);
- ``mlops_state`` (this provider's own type): extra ``{"dialect": "sqlite"}`` with the file as host, or
  ``{"dialect": "postgres"}`` (the default) with the PostgreSQL fields.

Without the connection ``mlops_state`` (defined by no secrets backend): ``$AIRFLOW_MLOPS_HISTORY_URI`` when set
(the earlier setting, a SQLAlchemy URL), else the embedded SQLite file the caller names under the MLOps home
(``promotion/history.db`` for the history, ``monitoring.db`` for the ledger: the files earlier releases
wrote, so an existing home keeps its records) — unless remote stores are configured or
``AIRFLOW_MLOPS_EMBEDDED=false`` (see :mod:`airflow_mlops.hooks.connections`). Any other lookup error fails
naming the conn id; a task never writes its state to a worker's disk because a lookup failed.

:meth:`StateDbHook.lock` is a cross-process lock that dies with its holder: ``pg_advisory_lock`` on a
session of its own (PostgreSQL), ``flock`` on ``<file>.lock`` next to a SQLite file.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from airflow_mlops import settings

LEGACY_URI_ENV = "AIRFLOW_MLOPS_HISTORY_URI"
DEFAULT_EMBEDDED = ("state.db",)
_ENGINES: dict[str, Any] = {}
_ENGINES_LOCK = threading.Lock()
_CREATED: set[tuple[int, int]] = set()


class StateDbHook(BaseHook):
    """Hands out the SQLAlchemy engine and the cross-process lock of the state database ``state_conn_id``.

    :param state_conn_id: the Airflow connection (default ``mlops_state``).
    :param embedded: path parts under the MLOps home of the SQLite file used when the default connection is
        not defined.
    """

    conn_name_attr = "state_conn_id"
    default_conn_name = "mlops_state"
    conn_type = "mlops_state"
    hook_name = "MLOps state database"

    def __init__(
        self, state_conn_id: str = default_conn_name, *, embedded: tuple[str, ...] = DEFAULT_EMBEDDED, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.state_conn_id = state_conn_id
        self.embedded = embedded

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form: PostgreSQL fields, or a SQLite file path as host with ``dialect: sqlite``."""
        from airflow_mlops.hooks.connections import sql_connection_form

        return sql_connection_form("/data/state.db", "mlops_state")

    def test_connection(self) -> tuple[bool, str]:
        """Open a connection and run ``SELECT 1``."""
        from sqlalchemy import text

        from airflow_mlops.redact import redact_text

        try:
            with self.get_engine().connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            return False, f"state database {self.state_conn_id!r}: {type(exc).__name__}: {redact_text(str(exc))}"
        return True, f"state database {self.state_conn_id!r} ({self.dialect}) answered"

    @cached_property
    def url(self) -> Any:
        """The SQLAlchemy URL of the state database (``sqlalchemy.engine.URL``)."""
        from sqlalchemy.engine import make_url

        from airflow_mlops.hooks.connections import ConnectionLookupError, check_embedded_allowed, get_optional

        conn = get_optional(self.state_conn_id, self.get_connection)  # raises on lookup errors
        if conn is None:
            if self.state_conn_id != self.default_conn_name:
                raise ConnectionLookupError(f"Airflow connection {self.state_conn_id!r} is not defined")
            legacy = os.environ.get(LEGACY_URI_ENV)
            if legacy:
                return make_url(legacy)
            where = "/".join(self.embedded)
            check_embedded_allowed(
                self.state_conn_id, f"state database (SQLite {where} under the MLOps home)", _remote_stores()
            )
            path = settings.home_path(*self.embedded)
            self.log.debug("state database: embedded SQLite %s", path)
            return make_url(f"sqlite:///{path}")
        return self._url_of(conn)

    def _url_of(self, conn: Any) -> Any:
        from sqlalchemy.engine import URL

        kind = (conn.conn_type or "").lower()
        if kind == self.conn_type:
            kind = str(conn.extra_dejson.get("dialect") or "postgres").lower()
        if kind == "sqlite":
            path = conn.host or conn.schema
            if not path:
                raise ValueError(f"sqlite connection {self.state_conn_id!r} needs the database file path as host")
            return URL.create("sqlite", database=path)
        if kind not in ("postgres", "postgresql"):
            raise ValueError(f"connection {self.state_conn_id!r} has type {kind!r}; expected postgres or sqlite")
        from airflow_mlops.redact import mask

        mask(conn.password)
        return URL.create(
            "postgresql+psycopg",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        )

    @classmethod
    def for_url(cls, url: str, **kwargs: Any) -> StateDbHook:
        """A hook on the SQLAlchemy ``url`` itself, no connection lookup (tests, ``airflow-mlops`` on a file)."""
        from sqlalchemy.engine import make_url

        hook = cls(**kwargs)
        hook.__dict__["url"] = make_url(url)
        return hook

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()

    def get_conn(self) -> Any:
        """The engine (:meth:`get_engine`)."""
        return self.get_engine()

    def get_engine(self) -> Any:
        """A SQLAlchemy engine, shared per URL within the process.

        SQLite: autocommit connections whose transactions start with ``BEGIN IMMEDIATE`` (writers queue on the
        file lock instead of failing on upgrade) and a 120 s busy timeout. PostgreSQL: pre-ping (a restarted
        server costs one reconnect, not a failed task).
        """
        key = f"{os.getpid()}:{self.url.render_as_string(hide_password=False)}"  # a forked child opens its own
        with _ENGINES_LOCK:
            engine = _ENGINES.get(key)
            if engine is None:
                engine = _ENGINES[key] = _create_engine(self.url)
        return engine

    def create_all(self, metadata: Any) -> None:
        """Create ``metadata``'s missing tables, under the lock (two first writers do not race), once per process."""
        engine = self.get_engine()
        key = (id(engine), id(metadata))  # engines are kept for the process's life: ids stay unique
        if key in _CREATED:
            return
        with self.lock("airflow_mlops:schema"):
            metadata.create_all(engine)
        _CREATED.add(key)

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Exclusive lock on ``name`` across processes and machines sharing the database; dies with its holder."""
        from sqlalchemy import text

        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        engine = self.get_engine()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            return
        database = engine.url.database
        if not database or database == ":memory:":  # one process: the engine's own lock is enough
            yield
            return
        with Path(f"{database}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _remote_stores() -> dict[str, str]:
    """Remote stores configured (as :func:`~airflow_mlops.hooks.connections.remote_configured`), plus a
    non-local ``[mlops] storage_url``: datasets in object storage and state on one worker's disk do not mix."""
    from airflow_mlops.hooks.connections import remote_configured
    from airflow_mlops.redact import redact_uri

    found = remote_configured()
    url = settings.storage_url()
    if url and not url.startswith("file:"):
        found["[mlops] storage_url"] = redact_uri(url)
    return found


def _create_engine(url: Any) -> Any:
    from sqlalchemy import create_engine, event

    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 120})

        @event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _write_lock(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)
