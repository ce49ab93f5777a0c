"""Durable alias history: every move of an alias (promotion, rollback), serialized by a lock.

MLflow keeps only an alias's current target (mlflow issue #2169), so "which version served on date D" needs
our own record. The store is a SQLAlchemy database: ``$AIRFLOW_MLOPS_HISTORY_URI`` (e.g. a PostgreSQL URL
shared by all workers), else SQLite at ``<MLOps home>/promotion/history.db``.

:meth:`AliasHistory.move` takes a write lock (SQLite ``BEGIN IMMEDIATE``; PostgreSQL
``pg_advisory_xact_lock``), re-reads the alias from MLflow, refuses the move when the alias changed since
the caller decided (``expected_previous``), moves it, and records the attempt — applied or not — in the
same transaction. Two racing promotions therefore leave the alias on exactly one version, and both show.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, event, insert, select, text
from sqlalchemy.engine import Engine

from airflow_mlops import settings

HISTORY_ENV = "AIRFLOW_MLOPS_HISTORY_URI"
UNSET = object()

metadata = MetaData()
alias_events = Table(
    "alias_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False, index=True),  # ISO 8601 UTC, sorts as text
    Column("model", String(200), nullable=False, index=True),
    Column("alias", String(100), nullable=False),
    Column("version", String(40)),
    Column("previous_version", String(40)),
    Column("action", String(40), nullable=False),  # promote, rollback
    Column("status", String(20), nullable=False),  # applied, unchanged, conflict, refused, failed
    Column("reason", Text),
    Column("dag_id", String(250)),
    Column("dag_run_id", String(250)),
    Column("who", String(250)),
    Column("details", Text),
)


def history_uri() -> str:
    return os.environ.get(HISTORY_ENV) or f"sqlite:///{settings.home_path('promotion', 'history.db')}"


def _engine(uri: str) -> Engine:
    if uri.startswith("sqlite"):
        engine = create_engine(uri, connect_args={"timeout": 120})

        @event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _write_lock(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(uri, pool_pre_ping=True)


@dataclass
class Move:
    """One recorded attempt to move an alias."""

    status: str
    version: str | None
    previous_version: str | None
    at: str
    detail: str = ""

    @property
    def applied(self) -> bool:
        return self.status == "applied"


class AliasHistory:
    """Record and query alias moves; ``client`` is an MlflowClient (needed only by :meth:`move`)."""

    def __init__(self, uri: str | None = None, client: Any = None) -> None:
        self.uri = uri or history_uri()
        self.engine = _engine(self.uri)
        self.client = client
        metadata.create_all(self.engine)

    def current(self, model: str, alias: str) -> str | None:
        """The version ``alias`` points to in MLflow now (None when unset)."""
        try:
            return str(self.client.get_model_version_by_alias(model, alias).version)
        except Exception:  # MLflow raises when the alias is not set
            return None

    def move(
        self,
        model: str,
        alias: str,
        version: str,
        *,
        action: str,
        reason: str = "",
        expected_previous: Any = UNSET,
        dag_id: str | None = None,
        dag_run_id: str | None = None,
        who: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Move:
        """Point ``alias`` at ``version`` under the lock and record the attempt (see the module docstring)."""
        with self.engine.begin() as conn:
            self._lock(conn, model, alias)
            previous = self.current(model, alias)
            at = _now()
            if expected_previous is not UNSET and previous != expected_previous:
                status, detail = (
                    "conflict",
                    f"{alias} moved to {previous} since the decision (expected {expected_previous})",
                )
            elif previous == str(version):
                status, detail = "unchanged", f"{alias} already on version {version}"
            else:
                try:
                    self.client.set_registered_model_alias(model, alias, str(version))
                    status, detail = "applied", ""
                except Exception as exc:  # record the failure, then re-raise below
                    status, detail = "failed", f"{type(exc).__name__}: {exc}"
            row = {
                "at": at,
                "model": model,
                "alias": alias,
                "version": str(version),
                "previous_version": previous,
                "action": action,
                "status": status,
                "reason": reason,
                "dag_id": dag_id,
                "dag_run_id": dag_run_id,
                "who": who,
                "details": json.dumps({**(details or {}), "detail": detail} if detail else details or {}),
            }
            conn.execute(insert(alias_events).values(**row))
        return Move(status, str(version), previous, at, detail)

    def record(self, model: str, alias: str, version: str | None, *, action: str, status: str, **fields: Any) -> None:
        """Record an attempt that did not reach :meth:`move` (e.g. refused: version unservable)."""
        details = fields.pop("details", None)
        with self.engine.begin() as conn:
            conn.execute(
                insert(alias_events).values(
                    at=_now(),
                    model=model,
                    alias=alias,
                    version=version,
                    action=action,
                    status=status,
                    details=json.dumps(details or {}),
                    **fields,
                )
            )

    def events(self, model: str, alias: str | None = None, until: str | None = None, limit: int = 1000) -> list[dict]:
        """Recorded attempts, oldest first."""
        query = select(alias_events).where(alias_events.c.model == model)
        if alias:
            query = query.where(alias_events.c.alias == alias)
        if until:
            query = query.where(alias_events.c.at <= until)
        query = query.order_by(alias_events.c.at.desc(), alias_events.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        return rows[::-1]

    def serving_at(self, model: str, at: datetime, alias: str = "champion") -> dict | None:
        """The last applied move of ``alias`` at or before ``at`` (its ``version`` served then), or None."""
        stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
        query = (
            select(alias_events)
            .where(alias_events.c.model == model, alias_events.c.alias == alias, alias_events.c.status == "applied")
            .where(alias_events.c.at <= stamp)
            .order_by(alias_events.c.at.desc(), alias_events.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row else None

    def _lock(self, conn, model: str, alias: str) -> None:
        if self.engine.dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(f"{model}@{alias}".encode()).digest()[:8], "big", signed=True)
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        # SQLite: BEGIN IMMEDIATE (see _engine) already holds the database write lock.


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
