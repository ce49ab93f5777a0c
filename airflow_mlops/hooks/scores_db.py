"""Scores database hook: the prediction log, by Airflow connection.

Connection types:

- ``sqlite``: ``host`` is the database file path, e.g.
  ``AIRFLOW_CONN_SCORES_DB='{"conn_type": "sqlite", "host": "/abs/path/scores.db"}'``.
- ``postgres``: host/port/login/password/schema (database) as usual, opened through the postgres
  provider's ``PostgresHook`` (psycopg 3); bulk writes use binary ``COPY``.
- ``scores_db`` (this provider's own type, in the connection form): extra ``{"dialect": "sqlite"}`` with the
  file path as host, or ``{"dialect": "postgres"}`` (the default) with the PostgreSQL fields.

Without the connection ``scores_db`` (defined by no secrets backend) the embedded default is
``$AIRFLOW_MLOPS_HOME/scores.db`` (SQLite), unless remote stores are configured or
``AIRFLOW_MLOPS_EMBEDDED=false`` (see :mod:`airflow_mlops.hooks.connections`); any other lookup error fails
naming the conn id.
The hook hands out connections; writing scores is :func:`airflow_mlops.scoring.writers.replace_scores`, called
with the hook by the score operator (it replaces the current rows of one (model, role, logical date) atomically,
keeping the rows they supersede and refusing empty or much smaller batches).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_mlops import settings

if TYPE_CHECKING:
    from airflow_mlops.scoring.table import ScoresTable


class ScoresDbHook(BaseHook):
    """Reads and writes scores tables in the database named by ``scores_conn_id``."""

    conn_name_attr = "scores_conn_id"
    default_conn_name = "scores_db"
    conn_type = "scores_db"
    hook_name = "Scores database"

    def __init__(self, scores_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scores_conn_id = scores_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form: PostgreSQL fields, or a SQLite file path as host with ``dialect: sqlite``."""
        from airflow_mlops.hooks.connections import sql_connection_form

        return sql_connection_form("/data/scores.db", "scores")

    def test_connection(self) -> tuple[bool, str]:
        """Open a connection and run ``SELECT 1``."""
        from airflow_mlops.redact import redact_text

        try:
            conn = self.get_conn()
            try:
                conn.cursor().execute("SELECT 1")
            finally:
                conn.close()
        except Exception as exc:
            return False, f"scores database {self.scores_conn_id!r}: {type(exc).__name__}: {redact_text(str(exc))}"
        return True, f"scores database {self.scores_conn_id!r} ({self.dialect}) answered"

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
        if kind == self.conn_type:  # our own type: the dialect is in extra
            kind = str(conn.extra_dejson.get("dialect") or "postgres").lower()
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

    # -- reading ---------------------------------------------------------------------------------

    def query(self, sql_text: str, params: list[Any] | tuple[Any, ...] = (), **names: str | list[str]) -> list[tuple]:
        """Rows of a parameterized query (``?`` placeholders are adapted for PostgreSQL).

        With ``names``, ``{slot}`` in ``sql_text`` takes a quoted identifier (a list: a column list), safe
        whatever characters the name holds; pasted identifiers must not contain ``?`` or ``%``.
        """
        conn = self.get_conn()
        try:
            return list(self._run(conn, sql_text, params, names).fetchall())
        finally:
            conn.close()

    def execute(self, sql_text: str, params: list[Any] | tuple[Any, ...] = (), **names: str | list[str]) -> int:
        """Run one parameterized statement in its own transaction; returns the affected row count."""
        conn = self.get_conn()
        try:
            with conn:  # commits (psycopg) / no-op in sqlite autocommit mode
                return self._run(conn, sql_text, params, names).rowcount
        finally:
            conn.close()

    def _run(self, conn: Any, sql_text: str, params: Any, names: dict) -> Any:
        if names:
            from airflow_mlops.scoring.table import Sql

            return Sql(conn, self.dialect)(sql_text, params, **names)
        if self.dialect == "postgres":
            sql_text = sql_text.replace("?", "%s")
        return conn.execute(sql_text, params)

    def _date_param(self, logical_date: datetime) -> Any:
        from airflow_mlops.scoring.table import sqlite_time, utc

        return sqlite_time(logical_date) if self.dialect == "sqlite" else utc(logical_date)

    def runs(
        self, table: ScoresTable, model_name: str, logical_date: datetime | None, include_superseded: bool = False
    ) -> list[dict[str, Any]]:
        """Run records of ``table`` for ``model_name`` at ``logical_date``: the current one per role (by role),
        or with ``include_superseded`` every run, newest first. Reads first-layout run tables too.
        ``logical_date=None``: the runs of every date, newest date first (``airflow-mlops runs``)."""
        from airflow_mlops.scoring.table import RUNS_COLUMNS, V1_RUNS_COLUMNS

        where = "WHERE scores_table = ? AND model_name = ?"
        params = [table.name, model_name]
        if logical_date is not None:
            where += " AND logical_date = ?"
            params.append(self._date_param(logical_date))
        by_date = "" if logical_date is not None else "logical_date DESC, "
        try:
            columns = RUNS_COLUMNS
            rows = self.query(
                f"SELECT {', '.join(columns)} FROM {{r}} {where}"
                + (
                    f" ORDER BY {by_date}scored_at DESC, role"
                    if include_superseded
                    else f" AND is_current ORDER BY {by_date}role"
                ),
                params,
                r=table.runs_table,
            )
        except Exception as exc:
            text = str(exc)
            if "no such table" in text or ("does not exist" in text and "relation" in text):
                return []  # nothing scored yet
            if "score_run_id" not in text and "is_current" not in text:
                raise
            columns = V1_RUNS_COLUMNS  # first layout, not migrated yet (no writer opened it): all current
            rows = self.query(
                f"SELECT {', '.join(columns)} FROM {{r}} {where} ORDER BY {by_date}role", params, r=table.runs_table
            )
        found = [dict(zip(columns, row, strict=True)) for row in rows]
        for run in found:
            run.setdefault("is_current", True)
            run["is_current"] = bool(run["is_current"])
            for column in RUNS_COLUMNS:
                run.setdefault(column, None)
        return found

    def served(
        self, table: ScoresTable, model_name: str, logical_date: datetime, as_of: datetime | None = None
    ) -> list[dict[str, Any]]:
        """What was served for ``logical_date``: every run that scored it, newest first, each with ``rows_kept``
        (its rows are still stored). With ``as_of``, only the runs that were current at that instant."""
        from airflow_mlops.scoring.table import utc

        found = self.runs(table, model_name, logical_date, include_superseded=True)
        for run in found:
            run["rows_kept"] = run.get("purged_at") is None
        if as_of is None:
            return found
        when = utc(as_of)

        def stamp(value: Any) -> datetime | None:
            if value is None or isinstance(value, datetime):
                return value
            return utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))

        return [
            r
            for r in found
            if stamp(r["scored_at"]) <= when and (r.get("superseded_at") is None or stamp(r["superseded_at"]) > when)
        ]

    def run_predictions(self, table: ScoresTable, run: dict[str, Any]) -> list[tuple]:
        """``(row_id, prediction, probability)`` of one run (a :meth:`served` record), current or superseded."""
        if run.get("is_current", True):
            return self.predictions(table, run["model_name"], run["role"], _as_datetime(run["logical_date"]))
        return self.query(
            "SELECT row_id, prediction, probability FROM {old} WHERE score_run_id = ? ORDER BY row_id",
            [run["score_run_id"]],
            old=table.superseded,
        )

    def predictions(self, table: ScoresTable, model_name: str, role: str, logical_date: datetime) -> list[tuple]:
        """``(row_id, prediction, probability)`` of one slice, ordered by row_id."""
        return self.query(
            "SELECT row_id, prediction, probability FROM {t} "
            "WHERE model_name = ? AND role = ? AND logical_date = ? ORDER BY row_id",
            [model_name, role, self._date_param(logical_date)],
            t=table.name,
        )

    def checksum(
        self, table: ScoresTable, exclude: tuple[str, ...] = ("scored_at",), part: str = "current"
    ) -> tuple[int, str]:
        """``(rows, sha256)`` of the table's content in key order, without the ``exclude`` columns.

        ``part``: ``current`` (the scores table), ``superseded`` (the rows later runs replaced) or ``runs``
        (this table's run records, every column).
        """
        from airflow_mlops.scoring.table import RUNS_COLUMNS

        if part == "runs":
            select = f"SELECT {', '.join(RUNS_COLUMNS)} FROM {{t}} WHERE scores_table = ? ORDER BY score_run_id"
            params: list[Any] = [table.name]
            names: dict[str, Any] = {"t": table.runs_table}
        else:
            extra = "" if part == "current" else ", score_run_id"
            select = f"SELECT {{cols}}{extra} FROM {{t}} ORDER BY model_name, role, logical_date{extra}, row_id"
            params = []
            cols = [c for c in table.columns if c not in exclude]
            names = {"t": table.name if part == "current" else table.superseded, "cols": cols}
        digest, n = hashlib.sha256(), 0
        for row in self.query(select, params, **names):
            digest.update(repr(row).encode())
            n += 1
        return n, digest.hexdigest()


def _as_datetime(value: Any) -> datetime:
    """A stored timestamp (datetime from PostgreSQL, ISO text from SQLite) as an aware datetime."""
    from airflow_mlops.scoring.table import utc

    return utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00")))
