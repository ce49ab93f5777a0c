"""Writers of scored batches: replace one (model, role, logical date) slice of a scores table atomically.

Strategy: **delete + bulk load in one transaction**. The old rows of that slice are deleted and the new
ones loaded (PostgreSQL: binary COPY; SQLite: ``executemany``) and the run metadata upserted, then one
commit. Readers keep seeing the previous rows (MVCC / SQLite WAL snapshot) until the commit, and a
writer killed at any point leaves an open transaction that the server (PostgreSQL: the connection
drops) or the next opener (SQLite: journal rollback) discards. A retry therefore produces exactly the
rows of one clean run. Compared with a staging-table swap, this needs no DDL per run, keeps one table
per model, and touches only the replaced slice; concurrent writers of the same slice are serialized by
a transaction-scoped advisory lock (PostgreSQL) or ``BEGIN IMMEDIATE`` (SQLite).

A batch is a :class:`pyarrow.RecordBatch` with columns ``row_id`` (int64), ``entity``, ``timestamp``,
``prediction`` (float64) and ``probability`` (float64, null for regressors): see :func:`make_batch`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from typing import TYPE_CHECKING, Any

from airflow_mlops.scoring.table import ScoreBatchKey, ScoredInput, ScoresTable, quote, sqlite_time

if TYPE_CHECKING:
    import pyarrow as pa

Progress = Callable[[int, int], None]  # (rows written so far, chunks written so far)
BATCH_COLUMNS = ("row_id", "entity", "timestamp", "prediction", "probability")


def make_batch(row_id, entity, timestamp, prediction, probability=None) -> pa.RecordBatch:
    """A writer batch from array-likes (``probability`` None → all null)."""
    import pyarrow as pa

    n = len(prediction)
    ts = pa.array(timestamp) if not isinstance(timestamp, pa.Array | pa.ChunkedArray) else timestamp
    if not pa.types.is_timestamp(ts.type):
        raise TypeError(f"timestamp column must be a timestamp, got {ts.type}")
    if ts.type.tz is None:
        ts = ts.cast(pa.timestamp(ts.type.unit, tz="UTC"))
    prob = pa.nulls(n, pa.float64()) if probability is None else pa.array(probability, pa.float64())
    return pa.RecordBatch.from_arrays(
        [pa.array(row_id, pa.int64()), pa.array(entity), ts, pa.array(prediction, pa.float64()), prob],
        names=list(BATCH_COLUMNS),
    )


def _check_keys(batch: pa.RecordBatch) -> None:
    for name in ("row_id", "entity", "timestamp"):
        if batch.column(name).null_count:
            raise ValueError(f"{name} has {batch.column(name).null_count} null value(s); keys cannot be null")


def _runs_row(table: ScoresTable, key: ScoreBatchKey, source: ScoredInput | None, rows: int) -> list[Any]:
    source = source or ScoredInput(None, None)
    return [
        table.name,
        key.model_name,
        key.role,
        key.logical_date,
        key.model_version,
        key.mlflow_run_id,
        key.dag_run_id,
        source.dataset_path,
        source.dataset_digest,
        rows,
        table.entity,
        json.dumps(list(source.feature_names)),
        key.scored_at,
    ]


RUNS_COLUMNS = (
    "scores_table",
    "model_name",
    "role",
    "logical_date",
    "model_version",
    "mlflow_run_id",
    "dag_run_id",
    "dataset_path",
    "dataset_digest",
    "rows",
    "entity",
    "feature_names",
    "scored_at",
)


class PostgresScoresWriter:
    """Delete + binary COPY in one transaction (psycopg 3)."""

    PG_TYPES = ("int8", None, "timestamptz", "float8", "float8", "text", "text", "text", "text", "text")

    def __init__(self, connect: Callable[[], Any]) -> None:
        self.connect = connect

    def ensure_tables(self, conn: Any, table: ScoresTable) -> None:
        from psycopg import sql

        with conn.transaction():
            for statement in table.create_sql("postgres", lambda name: sql.Identifier(name).as_string(conn)):
                conn.execute(statement)

    def replace(
        self,
        table: ScoresTable,
        key: ScoreBatchKey,
        batches: Iterable[pa.RecordBatch],
        source: ScoredInput | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Replace the (model, role, logical date) slice with ``batches``; returns the rows written."""
        from psycopg import sql

        conn = self.connect()
        try:
            conn.autocommit = True
            self.ensure_tables(conn, table)
            ident = sql.Identifier(table.name)
            cols = sql.SQL(", ").join(map(sql.Identifier, table.columns))
            with conn.transaction():
                lock = f"{table.name}|{key.model_name}|{key.role}|{key.logical_date.isoformat()}"
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock])
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE model_name = %s AND role = %s AND logical_date = %s").format(ident),
                    [key.model_name, key.role, key.logical_date],
                )
                copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(ident, cols)
                with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                    rows = self._copy(copy, table, key, batches, progress)
                runs = sql.Identifier(table.runs_table)
                conn.execute(
                    sql.SQL(
                        "DELETE FROM {} WHERE scores_table = %s AND model_name = %s AND role = %s AND logical_date = %s"
                    ).format(runs),
                    [table.name, key.model_name, key.role, key.logical_date],
                )
                conn.execute(
                    sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                        runs,
                        sql.SQL(", ").join(map(sql.Identifier, RUNS_COLUMNS)),
                        sql.SQL(", ").join(sql.Placeholder() * len(RUNS_COLUMNS)),
                    ),
                    _runs_row(table, key, source, rows),
                )
            return rows
        finally:
            conn.close()

    def _copy(self, copy: Any, table: ScoresTable, key: ScoreBatchKey, batches, progress) -> int:
        from airflow_mlops.scoring import pg_binary

        rows = chunks = 0
        if not table.entity_is_text:  # fixed-width rows: vectorized block writes
            tail = pg_binary.constant_tail(key)
            copy.write(pg_binary.SIGNATURE)
            for batch in batches:
                _check_keys(batch)
                copy.write(pg_binary.encode_batch(batch, tail))
                rows, chunks = rows + batch.num_rows, chunks + 1
                if progress:
                    progress(rows, chunks)
            copy.write(pg_binary.TRAILER)
            return rows
        copy.set_types(["int8", "text", "timestamptz", "float8", "float8", *["text"] * 5, "timestamptz", "timestamptz"])
        for batch in batches:
            _check_keys(batch)
            for row in _python_rows(batch, key, times=lambda c: c.to_pylist()):
                copy.write_row(row)
            rows, chunks = rows + batch.num_rows, chunks + 1
            if progress:
                progress(rows, chunks)
        return rows


def _python_rows(batch: pa.RecordBatch, key: ScoreBatchKey, times: Callable, stamp=lambda d: d) -> Iterator[tuple]:
    """Row tuples in table column order: batch columns, then the per-write constants."""
    import pyarrow as pa

    ts = batch.column("timestamp").cast(pa.timestamp("us", tz="UTC"))
    return zip(
        batch.column("row_id").to_pylist(),
        batch.column("entity").to_pylist(),
        times(ts),
        batch.column("prediction").to_pylist(),
        batch.column("probability").to_pylist(),
        *(repeat(c) for c in key.constants),
        repeat(stamp(key.logical_date)),
        repeat(stamp(key.scored_at)),
        strict=False,
    )


def _sqlite_times(column: pa.Array) -> list[str]:
    """ISO-8601 UTC text with microseconds (``2024-04-30T18:40:00.000000Z``), as ``sqlite_time`` writes it.

    Arrow's timestamp → string cast is ~9x faster than ``pc.strftime`` and gives the same text once the
    date/time separator is a ``T`` and the zone a ``Z`` (checked by tests/scoring).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(column.cast(pa.timestamp("us")), pa.string())  # "2024-04-30 18:40:00.000000", UTC
    return pc.binary_join_element_wise(pc.utf8_replace_slice(text, 10, 11, "T"), pa.scalar("Z"), "").to_pylist()


class SqliteScoresWriter:
    """Delete + ``executemany`` in one ``BEGIN IMMEDIATE`` transaction (WAL journal)."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self.connect = connect

    def ensure_tables(self, conn: Any, table: ScoresTable) -> None:
        for statement in table.create_sql("sqlite"):
            conn.execute(statement)

    def replace(
        self,
        table: ScoresTable,
        key: ScoreBatchKey,
        batches: Iterable[pa.RecordBatch],
        source: ScoredInput | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Replace the (model, role, logical date) slice with ``batches``; returns the rows written."""
        conn = self.connect()
        try:
            self.ensure_tables(conn, table)
            name, runs = quote(table.name), quote(table.runs_table)
            insert = (
                f"INSERT INTO {name} ({', '.join(map(quote, table.columns))}) "
                f"VALUES ({', '.join('?' * len(table.columns))})"
            )
            ld = sqlite_time(key.logical_date)
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    f"DELETE FROM {name} WHERE model_name = ? AND role = ? AND logical_date = ?",
                    (key.model_name, key.role, ld),
                )
                rows = chunks = 0
                for batch in batches:
                    _check_keys(batch)
                    conn.executemany(insert, _python_rows(batch, key, times=_sqlite_times, stamp=sqlite_time))
                    rows, chunks = rows + batch.num_rows, chunks + 1
                    if progress:
                        progress(rows, chunks)
                conn.execute(
                    f"DELETE FROM {runs} WHERE scores_table = ? AND model_name = ? AND role = ? AND logical_date = ?",
                    (table.name, key.model_name, key.role, ld),
                )
                values = _runs_row(table, key, source, rows)
                values[3], values[-1] = ld, sqlite_time(key.scored_at)
                conn.execute(
                    f"INSERT INTO {runs} ({', '.join(map(quote, RUNS_COLUMNS))}) "
                    f"VALUES ({', '.join('?' * len(RUNS_COLUMNS))})",
                    values,
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return rows
        finally:
            conn.close()


def timed(batches: Iterable[pa.RecordBatch], log: Callable[..., None], every_s: float = 10.0) -> Iterator:
    """Pass ``batches`` through, logging rows, chunks and rows/s at most every ``every_s`` seconds."""
    start = last = time.monotonic()
    rows = chunks = 0
    for batch in batches:
        yield batch
        rows, chunks = rows + batch.num_rows, chunks + 1
        now = time.monotonic()
        if now - last >= every_s:
            last = now
            log("scored %d rows in %d chunk(s), %.0f rows/s", rows, chunks, rows / max(now - start, 1e-9))
