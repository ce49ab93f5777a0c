"""Durable record of requested retrains and label watermarks, in the state database.

The cooldown reads it: one incident (a drifted period seen by every monitor run) requests one retrain,
not one per run. The tables (``retrain_requests``, ``label_watermarks``) live in the state database
(:class:`~airflow_mlops.hooks.state_db.StateDbHook`, connection ``mlops_state``: PostgreSQL in a deployment);
without that connection, embedded SQLite at ``<MLOps home>/monitoring.db``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, select

from airflow_mlops.hooks.state_db import StateDbHook

EMBEDDED = ("monitoring.db",)

metadata = MetaData()
retrain_requests = Table(
    "retrain_requests",
    metadata,
    Column("model", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("requested_at", String(40), nullable=False),  # ISO 8601 UTC, sorts as text
    Column("report_id", Text),
    Column("detail", Text),
    Index("retrain_requests_model", "model", "requested_at"),
)
label_watermarks = Table(
    "label_watermarks",
    metadata,
    Column("model", Text, primary_key=True),
    Column("newest", Text, nullable=False),
    Column("rows", Integer, nullable=False),
)


@dataclass(frozen=True)
class RetrainRequest:
    model: str
    reason: str
    requested_at: datetime
    report_id: str | None
    detail: str | None


class Ledger:
    """Retrain requests and label watermarks per model.

    :param path: a SQLite file to use instead of the state database (e.g. a copied home's ``monitoring.db``).
    :param state: the state database hook (default: connection ``mlops_state``, embedded ``monitoring.db``).
    """

    def __init__(self, path: str | Path | None = None, *, state: StateDbHook | None = None) -> None:
        if path is not None:
            state = StateDbHook.for_url(f"sqlite:///{Path(path)}")
        self.state = state or StateDbHook(embedded=EMBEDDED)
        self.engine = self.state.get_engine()
        self.state.create_all(metadata)

    @contextmanager
    def locked(self, model: str) -> Iterator[Ledger]:
        """Hold the state database's lock for ``model``'s retrain decision (read the cooldown, then record)."""
        with self.state.lock(f"retrain:{model}"):
            yield self

    def last_request(self, model: str) -> RetrainRequest | None:
        """The newest retrain requested for ``model``."""
        found = self._requests(model, limit=1)
        return found[0] if found else None

    def requests_for_report(self, model: str, report_id: str) -> list[RetrainRequest]:
        """Retrains already requested because of this report (a replay must not request another)."""
        query = select(retrain_requests).where(
            retrain_requests.c.model == model, retrain_requests.c.report_id == report_id
        )
        with self.engine.connect() as conn:
            return [_request(r) for r in conn.execute(query)]

    def record(self, model: str, reason: str, report_id: str | None, detail: str, at: datetime | None = None) -> None:
        """Store one requested retrain."""
        stamp = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
        row = {"model": model, "reason": reason, "requested_at": stamp, "report_id": report_id, "detail": detail}
        with self.engine.begin() as conn:
            conn.execute(retrain_requests.insert().values(**row))

    def history(self, model: str, limit: int = 20) -> list[RetrainRequest]:
        """The newest ``limit`` requests of ``model``, newest first."""
        return self._requests(model, limit=limit)

    def _requests(self, model: str, limit: int) -> list[RetrainRequest]:
        query = (
            select(retrain_requests)
            .where(retrain_requests.c.model == model)
            .order_by(retrain_requests.c.requested_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_request(r) for r in conn.execute(query)]

    def label_watermark(self, model: str) -> tuple[str, int] | None:
        """``(newest label timestamp, label rows)`` at the last new-data signal."""
        query = select(label_watermarks.c.newest, label_watermarks.c.rows).where(label_watermarks.c.model == model)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (row[0], int(row[1])) if row else None

    def set_label_watermark(self, model: str, newest: str, rows: int) -> None:
        """Insert or replace the watermark of ``model`` (one statement: concurrent writers never collide)."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(label_watermarks).values(model=model, newest=newest, rows=rows)
        statement = statement.on_conflict_do_update(
            index_elements=[label_watermarks.c.model], set_={"newest": newest, "rows": rows}
        )
        with self.engine.begin() as conn:
            conn.execute(statement)


def _request(row) -> RetrainRequest:
    m = row._mapping
    at = datetime.fromisoformat(m["requested_at"])
    return RetrainRequest(m["model"], m["reason"], at, m["report_id"], m["detail"])
