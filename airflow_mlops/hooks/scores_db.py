"""Scores database hook: the prediction log, by Airflow connection.

Connection types:

- ``sqlite``: ``host`` is the database file path, e.g.
  ``AIRFLOW_CONN_SCORES_DB='{"conn_type": "sqlite", "host": "/abs/path/scores.db"}'``.
- ``postgres``: host/port/login/password/schema (database) as usual, opened through the postgres
  provider's ``PostgresHook`` (psycopg 3); bulk writes use binary ``COPY``.

Without the connection ``scores_db`` (defined by no secrets backend) the embedded default is
``$AIRFLOW_MLOPS_HOME/scores.db`` (SQLite), unless remote stores are configured or
``AIRFLOW_MLOPS_EMBEDDED=false`` (see :mod:`airflow_mlops.hooks.connections`); any other lookup error fails
naming the conn id.
Writes replace one (model, role, logical date) slice atomically: see :mod:`airflow_mlops.scoring.writers`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_mlops import settings

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pyarrow as pa

    from airflow_mlops.scoring.table import ScoreBatchKey, ScoredInput, ScoresTable
    from airflow_mlops.scoring.writers import Progress


class ScoresDbHook(BaseHook):
    """Reads and writes scores tables in the database named by ``scores_conn_id``."""

    conn_name_attr = "scores_conn_id"
    default_conn_name = "scores_db"
    conn_type = "scores_db"
    hook_name = "Scores database"

    def __init__(self, scores_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scores_conn_id = scores_conn_id

    @cached_property
    def _target(self) -> tuple[str, Any]:
        """``("sqlite", path)`` or ``("postgres", PostgresHook)``."""
        from airflow_mlops.hooks.connections import ConnectionLookupError, check_embedded_allowed, get_optional

        conn = get_optional(self.scores_conn_id, self.get_connection)  # raises on lookup errors
        if conn is None:  # not defined anywhere: the embedded default, for the default conn id only
            if self.scores_conn_id != self.default_conn_name:
                raise ConnectionLookupError(f"Airflow connection {self.scores_conn_id!r} is not defined")
            check_embedded_allowed(self.scores_conn_id, "scores database (SQLite scores.db under the MLOps home)")
            path = str(settings.home_path("scores.db"))
            self.log.info("scores database: embedded SQLite %s", path)
            return "sqlite", path
        kind = (conn.conn_type or "").lower()
        if kind == "sqlite":
            path = conn.host or conn.schema
            if not path:
                raise ValueError(f"sqlite connection {self.scores_conn_id!r} needs the database file path as host")
            return "sqlite", path
        from airflow_mlops.redact import mask

        mask(conn.password)
        if kind in ("postgres", "postgresql"):
            from airflow.providers.postgres.hooks.postgres import PostgresHook

            return "postgres", PostgresHook(postgres_conn_id=self.scores_conn_id)
        raise ValueError(f"connection {self.scores_conn_id!r} has type {kind!r}; expected sqlite or postgres")

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgres``."""
        return self._target[0]

    def get_conn(self) -> Any:
        """A new DB-API connection (sqlite3 in autocommit mode, or psycopg 3)."""
        kind, target = self._target
        if kind == "sqlite":
            import sqlite3

            conn = sqlite3.connect(target, isolation_level=None, timeout=60)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        conn = target.get_conn()
        target.conn = None  # one connection per call; the caller closes it
        return conn

    def writer(self) -> Any:
        """The writer for this database (see :mod:`airflow_mlops.scoring.writers`)."""
        from airflow_mlops.scoring.writers import PostgresScoresWriter, SqliteScoresWriter

        cls = SqliteScoresWriter if self.dialect == "sqlite" else PostgresScoresWriter
        return cls(self.get_conn)

    def replace_scores(
        self,
        table: ScoresTable,
        key: ScoreBatchKey,
        batches: Iterable[pa.RecordBatch],
        source: ScoredInput | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Atomically replace the scores of (model, role, logical date); returns the rows written."""
        return self.writer().replace(table, key, batches, source=source, progress=progress)

    # -- reading ---------------------------------------------------------------------------------

    def query(self, sql_text: str, params: list[Any] | tuple[Any, ...] = ()) -> list[tuple]:
        """Rows of a parameterized query (``?`` placeholders are adapted for PostgreSQL)."""
        if self.dialect == "postgres":
            sql_text = sql_text.replace("?", "%s")
        conn = self.get_conn()
        try:
            return list(conn.execute(sql_text, params).fetchall())
        finally:
            conn.close()

    def execute(self, sql_text: str, params: list[Any] | tuple[Any, ...] = ()) -> int:
        """Run one parameterized statement in its own transaction; returns the affected row count."""
        if self.dialect == "postgres":
            sql_text = sql_text.replace("?", "%s")
        conn = self.get_conn()
        try:
            with conn:  # commits (psycopg) / no-op in sqlite autocommit mode
                return conn.execute(sql_text, params).rowcount
        finally:
            conn.close()

    def _date_param(self, logical_date: datetime) -> Any:
        from airflow_mlops.scoring.table import sqlite_time, utc

        return sqlite_time(logical_date) if self.dialect == "sqlite" else utc(logical_date)

    def runs(self, table: ScoresTable, model_name: str, logical_date: datetime) -> list[dict[str, Any]]:
        """Recorded runs (one per role) that wrote ``table`` for ``model_name`` at ``logical_date``."""
        from airflow_mlops.scoring.table import quote
        from airflow_mlops.scoring.writers import RUNS_COLUMNS

        try:
            rows = self.query(
                f"SELECT {', '.join(map(quote, RUNS_COLUMNS))} FROM {quote(table.runs_table)} "
                "WHERE scores_table = ? AND model_name = ? AND logical_date = ? ORDER BY role",
                [table.name, model_name, self._date_param(logical_date)],
            )
        except Exception as exc:  # no runs table yet
            if "no such table" in str(exc) or "does not exist" in str(exc):
                return []
            raise
        return [dict(zip(RUNS_COLUMNS, row, strict=True)) for row in rows]

    def predictions(self, table: ScoresTable, model_name: str, role: str, logical_date: datetime) -> list[tuple]:
        """``(row_id, prediction, probability)`` of one slice, ordered by row_id."""
        from airflow_mlops.scoring.table import quote

        return self.query(
            f"SELECT row_id, prediction, probability FROM {quote(table.name)} "
            "WHERE model_name = ? AND role = ? AND logical_date = ? ORDER BY row_id",
            [model_name, role, self._date_param(logical_date)],
        )

    def checksum(self, table: ScoresTable, exclude: tuple[str, ...] = ("scored_at",)) -> tuple[int, str]:
        """``(rows, sha256)`` of the table's content in primary-key order, without the ``exclude`` columns."""
        from airflow_mlops.scoring.table import quote

        cols = [c for c in table.columns if c not in exclude]
        digest, n = hashlib.sha256(), 0
        for row in self.query(
            f"SELECT {', '.join(map(quote, cols))} FROM {quote(table.name)} "
            "ORDER BY model_name, role, logical_date, row_id"
        ):
            digest.update(repr(row).encode())
            n += 1
        return n, digest.hexdigest()
