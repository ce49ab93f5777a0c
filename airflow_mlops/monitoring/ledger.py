"""Durable record of requested retrains and label watermarks (SQLite under the MLOps home).

The cooldown reads it: one incident (a drifted period seen by every monitor run) requests one retrain,
not one per run. SQLite is enough: one row per request, written by ``decide_retrain`` only.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from airflow_mlops import settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS retrain_requests (
    model TEXT NOT NULL, reason TEXT NOT NULL, requested_at TEXT NOT NULL,
    report_id TEXT, detail TEXT
);
CREATE INDEX IF NOT EXISTS retrain_requests_model ON retrain_requests (model, requested_at);
CREATE TABLE IF NOT EXISTS label_watermarks (model TEXT PRIMARY KEY, newest TEXT NOT NULL, rows INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class RetrainRequest:
    model: str
    reason: str
    requested_at: datetime
    report_id: str | None
    detail: str | None


class Ledger:
    """Retrain requests and label watermarks per model, in ``monitoring.db`` under the MLOps home."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else settings.home_path("monitoring.db")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.executescript(SCHEMA)
        return conn

    def last_request(self, model: str) -> RetrainRequest | None:
        """The newest retrain requested for ``model``."""
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT model, reason, requested_at, report_id, detail FROM retrain_requests "
                "WHERE model = ? ORDER BY requested_at DESC LIMIT 1",
                (model,),
            ).fetchone()
        return _request(row) if row else None

    def requests_for_report(self, model: str, report_id: str) -> list[RetrainRequest]:
        """Retrains already requested because of this report (a replay must not request another)."""
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT model, reason, requested_at, report_id, detail FROM retrain_requests "
                "WHERE model = ? AND report_id = ?",
                (model, report_id),
            ).fetchall()
        return [_request(r) for r in rows]

    def record(self, model: str, reason: str, report_id: str | None, detail: str, at: datetime | None = None) -> None:
        """Store one requested retrain."""
        stamp = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT INTO retrain_requests VALUES (?, ?, ?, ?, ?)", (model, reason, stamp, report_id, detail)
            )

    def history(self, model: str, limit: int = 20) -> list[RetrainRequest]:
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT model, reason, requested_at, report_id, detail FROM retrain_requests "
                "WHERE model = ? ORDER BY requested_at DESC LIMIT ?",
                (model, limit),
            ).fetchall()
        return [_request(r) for r in rows]

    def label_watermark(self, model: str) -> tuple[str, int] | None:
        """``(newest label timestamp, label rows)`` at the last new-data signal."""
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT newest, rows FROM label_watermarks WHERE model = ?", (model,)).fetchone()
        return (row[0], int(row[1])) if row else None

    def set_label_watermark(self, model: str, newest: str, rows: int) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT INTO label_watermarks VALUES (?, ?, ?) "
                "ON CONFLICT(model) DO UPDATE SET newest = excluded.newest, rows = excluded.rows",
                (model, newest, rows),
            )


def _request(row: tuple) -> RetrainRequest:
    return RetrainRequest(row[0], row[1], datetime.fromisoformat(row[2]), row[3], row[4])
