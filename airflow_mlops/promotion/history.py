"""Durable alias history: every move of an alias (promotion, rollback), serialized by a lock.

MLflow keeps only an alias's current target (mlflow issue #2169), so "which version served on date D" needs
our own record. It lives in the state database (:class:`~airflow_mlops.hooks.state_db.StateDbHook`, connection
``mlops_state``: PostgreSQL in a deployment, shared by all workers), table ``alias_events``; without that
connection, embedded SQLite at ``<MLOps home>/promotion/history.db``.

:meth:`AliasHistory.move` holds the state database's lock for the model and alias for the whole move (a
session-level ``pg_advisory_lock`` on PostgreSQL; a lock file next to a SQLite file; both die with their
process), re-reads the alias from MLflow and refuses the move when the alias changed since the caller decided
(``expected_previous``). It then commits an intent row (``pending``) *before* asking MLflow, and resolves
it to ``applied`` or ``failed`` afterwards; when MLflow raises, the alias is re-read, so a timeout after
MLflow applied the move is recorded as applied. A process killed between the two writes leaves the
``pending`` row: :meth:`AliasHistory.reconcile` (``airflow-mlops history MODEL --reconcile``) resolves it
from MLflow's current aliases and records a move it finds no row for (actor ``reconcile``).
Two racing promotions therefore leave the alias on exactly one version, and both show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from airflow_mlops.hooks.state_db import LEGACY_URI_ENV, StateDbHook

if TYPE_CHECKING:
    from airflow_mlops.hooks.mlflow import MLflowHook

HISTORY_ENV = LEGACY_URI_ENV  # earlier setting, still honoured when the ``mlops_state`` connection is undefined
EMBEDDED = ("promotion", "history.db")
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
    Column("action", String(40), nullable=False),  # promote, rollback, reconcile
    Column("status", String(20), nullable=False),  # pending, applied, unchanged, conflict, refused, failed
    Column("reason", Text),
    Column("dag_id", String(250)),
    Column("dag_run_id", String(250)),
    Column("who", String(250)),
    Column("details", Text),
)


def state_hook(state_conn_id: str = StateDbHook.default_conn_name) -> StateDbHook:
    """The state database hook the history uses (embedded file ``promotion/history.db``)."""
    return StateDbHook(state_conn_id, embedded=EMBEDDED)


def history_exists(state: StateDbHook | None = None) -> bool:
    """Whether there is a history to read, without creating the embedded SQLite file."""
    state = state or state_hook()
    if state.dialect != "sqlite":
        return True
    return bool(state.url.database) and Path(state.url.database).is_file()


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
    """Record and query alias moves; ``hook`` (an :class:`~airflow_mlops.hooks.mlflow.MLflowHook`) reads and moves
    MLflow's aliases (needed by :meth:`move`, :meth:`current` and :meth:`reconcile` only)."""

    def __init__(
        self, uri: str | None = None, *, hook: MLflowHook | None = None, state: StateDbHook | None = None
    ) -> None:
        self.state = StateDbHook.for_url(uri) if uri else state or state_hook()
        self.uri = self.state.url.render_as_string(hide_password=False)
        self.engine = self.state.get_engine()
        self.hook = hook
        self.state.create_all(metadata)

    def aliases(self, model: str) -> dict[str, str]:
        """MLflow's current aliases of ``model`` (alias → version); {} when the model is not registered.

        Any other MLflow error propagates: an unreadable registry is not an unset alias.
        """
        return self._registered_aliases(model) or {}

    def _registered_aliases(self, model: str) -> dict[str, str] | None:
        """Like :meth:`aliases`, but None when MLflow does not know ``model``."""
        if self.hook is None:
            raise RuntimeError("AliasHistory needs an MLflowHook to read MLflow's aliases")
        return self.hook.aliases(model)

    def current(self, model: str, alias: str) -> str | None:
        """The version ``alias`` points to in MLflow now (None when unset)."""
        return self.aliases(model).get(alias)

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
        """Point ``alias`` at ``version`` under the lock and record the attempt (see the module docstring).

        Returns the :class:`Move`; its status is ``failed`` when MLflow did not apply it, ``pending`` when
        MLflow raised and the alias could not be re-read (run :meth:`reconcile`). Callers fail on both.
        """
        version = str(version)
        row = {
            "model": model,
            "alias": alias,
            "version": version,
            "action": action,
            "reason": reason,
            "dag_id": dag_id,
            "dag_run_id": dag_run_id,
            "who": who,
        }
        with self._locked(model, alias):
            previous = self.current(model, alias)
            at = _now()
            row |= {"at": at, "previous_version": previous}
            if expected_previous is not UNSET and previous != expected_previous:
                detail = f"{alias} moved to {previous} since the decision (expected {expected_previous})"
                self._insert(row, "conflict", details, detail)
                return Move("conflict", version, previous, at, detail)
            if previous == version:
                detail = f"{alias} already on version {version}"
                self._insert(row, "unchanged", details, detail)
                return Move("unchanged", version, previous, at, detail)
            row_id = self._insert(row, "pending", details, "")  # the intent, committed before MLflow moves
            status, detail = self._apply(model, alias, version)
            if status != "pending":
                self._resolve(row_id, status, details, detail)
        return Move(status, version, previous, at, detail)

    def _apply(self, model: str, alias: str, version: str) -> tuple[str, str]:
        """Move the alias in MLflow; on an error, re-read it to learn whether the move happened."""
        from airflow_mlops.redact import redact_text

        try:
            self.hook.set_alias(model, alias, version)
            return "applied", ""
        except Exception as exc:
            error = f"{type(exc).__name__}: {redact_text(str(exc))}"
        try:
            now = self.current(model, alias)
        except Exception as exc:  # cannot tell: the row stays pending until reconcile
            return "pending", f"{error}; re-reading the alias failed too ({type(exc).__name__}): run reconcile"
        if now == version:
            return "applied", f"MLflow raised {error}, but the alias points at {version}"
        return "failed", error

    def _insert(self, row: dict[str, Any], status: str, details: dict | None, detail: str) -> int:
        payload = {**(details or {}), "detail": detail} if detail else details or {}
        with self.engine.begin() as conn:
            result = conn.execute(insert(alias_events).values(**row, status=status, details=json.dumps(payload)))
            return int(result.inserted_primary_key[0])

    def _resolve(self, row_id: int, status: str, details: dict | None, detail: str) -> None:
        payload = {**(details or {}), "detail": detail} if detail else details or {}
        with self.engine.begin() as conn:
            conn.execute(
                update(alias_events)
                .where(alias_events.c.id == row_id)
                .values(status=status, details=json.dumps(payload))
            )

    def reconcile(self, model: str) -> list[dict[str, Any]]:
        """Repair the history of ``model`` from MLflow's current aliases; returns what changed.

        Every ``pending`` row is resolved: ``applied`` when MLflow's alias is on its version (or a later row
        moved the alias away from it), else ``failed``. Then, per alias, when the last applied row does not
        name MLflow's current version, a row (action and actor ``reconcile``) records the move.
        """
        current = self._registered_aliases(model)
        with self.engine.connect() as conn:
            recorded = {r for (r,) in conn.execute(select(alias_events.c.alias).where(alias_events.c.model == model))}
        if current is None:  # a registry without the model is the wrong registry, not a deleted alias
            if recorded:
                raise LookupError(f"MLflow does not know model {model!r}: refusing to rewrite its history from it")
            return []
        changes: list[dict[str, Any]] = []
        for alias in sorted(recorded | set(current)):
            with self._locked(model, alias):  # no move of this alias is in flight meanwhile
                now = self.aliases(model).get(alias)
                changes += self._resolve_pending(model, alias, now)
                last = self.serving_at(model, datetime.now(UTC), alias)
                last_version = last["version"] if last else None
                if last_version == now:
                    continue
                detail = f"MLflow has {alias} on {now or 'nothing'}; history said {last_version or 'nothing'}"
                row = {
                    "at": _now(),
                    "model": model,
                    "alias": alias,
                    "version": now,
                    "previous_version": last_version,
                    "action": "reconcile",
                    "reason": "history repaired from MLflow's current alias",
                    "who": "reconcile",
                }
                row_id = self._insert(row, "applied", None, detail)
                changes.append({"id": row_id, "alias": alias, "status": "applied", "version": now, "detail": detail})
        return changes

    def _resolve_pending(self, model: str, alias: str, now: str | None) -> list[dict[str, Any]]:
        rows = self.events(model, alias, limit=1_000_000)
        changes = []
        for i, r in enumerate(rows):
            if r["status"] != "pending":
                continue
            # The next move read the alias before acting (previous_version): that tells whether this one landed.
            # Refused attempts never read it. Without a later move, MLflow's alias now tells.
            later = next((x for x in rows[i + 1 :] if x["status"] != "refused"), None)
            landed = later["previous_version"] if later is not None else now
            status = "applied" if landed == r["version"] else "failed"
            detail = f"resolved by reconcile: MLflow has {alias} on {now or 'nothing'}"
            details = json.loads(r["details"] or "{}")
            self._resolve(r["id"], status, {k: v for k, v in details.items() if k != "detail"}, detail)
            changes.append({"id": r["id"], "alias": alias, "status": status, "version": r["version"], "detail": detail})
        return changes

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

    @contextmanager
    def _locked(self, model: str, alias: str) -> Iterator[None]:
        """Exclusive lock on ``model@alias`` across processes, released when the holder exits or dies."""
        with self.state.lock(f"{model}@{alias}"):
            yield


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
