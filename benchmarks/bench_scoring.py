"""Scores writers: PostgreSQL (vs psycopg binary COPY and pandas ``to_sql``), SQLite (vs ``executemany``), memory.

Every comparison writes the same rows into an identical fresh table in the same run. Our writer gets
arrow batches (what the scorer produces) and pays for their conversion; the baselines get ready Python
tuples (COPY ``write_row`` with ``set_types``; ``executemany`` in one transaction). ``to_sql`` runs on a
smaller sample (it is ~20x slower) and is compared in rows/s. Memory: peak RSS of a subprocess that
scores a parquet file with a scikit-learn model in chunks and writes to PostgreSQL, for two sizes.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHUNK = 100_000


def _interleaved(baseline, ours, repeat: int = 3) -> tuple[float, float]:
    """Best times of ``baseline`` and ``ours``, run alternately so server-side background work
    (checkpoints, autovacuum of the previous run's table) falls on both sides alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        times[0].append(_timed(baseline))
        times[1].append(_timed(ours))
    return min(times[0]), min(times[1])


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _tuples(batches, key) -> list[tuple]:
    rows = []
    for b in batches:
        cols = [b.column(c).to_pylist() for c in ("row_id", "entity", "timestamp", "prediction", "probability")]
        tail = (*key.constants, key.logical_date, key.scored_at)
        rows += [(*r, *tail) for r in zip(*cols, strict=True)]
    return rows


def _row(case: str, ours: float, base: float, base_name: str, note: str = "") -> dict:
    return {
        "benchmark": "scoring",
        "case": case,
        "ours": f"{ours:,.0f} rows/s",
        "baseline": f"{base:,.0f} rows/s ({base_name})",
        "ratio": ours / base,
        "note": note,
    }


def bench_postgres(rows: int, sample: int) -> list[dict]:
    import psycopg
    from psycopg import sql

    from airflow_mlops.scoring.table import ScoresTable
    from airflow_mlops.scoring.writers import PostgresScoresWriter
    from tests.pg import postgres_server
    from tests.scoring.data import batches, key

    data, k = list(batches(rows, CHUNK)), key()
    tuples = _tuples(data, k)
    out = []
    with postgres_server() as pg:
        connect = lambda: psycopg.connect(pg.dsn)  # noqa: E731
        writer = PostgresScoresWriter(connect)
        n = iter(range(100))

        def fresh() -> ScoresTable:
            table = ScoresTable(f"bench_{next(n)}", "zone_id")
            with connect() as conn:
                conn.autocommit = True
                writer.ensure_tables(conn, table)
            return table

        def baseline() -> None:
            table = fresh()
            with connect() as conn, conn.cursor() as cur:
                stmt = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier(table.name))
                with cur.copy(stmt) as copy:
                    copy.set_types(
                        ["int8", "int8", "timestamptz", "float8", "float8", *["text"] * 5, "timestamptz", "timestamptz"]
                    )
                    for r in tuples:
                        copy.write_row(r)

        def ours() -> None:
            assert writer.replace(fresh(), k, data) == rows

        t_base, t_ours = _interleaved(baseline, ours)
        out.append(
            _row(
                f"PostgreSQL {rows:,} rows",
                rows / t_ours,
                rows / t_base,
                "psycopg binary COPY write_row",
                "delete + COPY in one transaction, PK + index",
            )
        )

        import pandas as pd
        import sqlalchemy

        frame = pd.DataFrame(tuples[:sample], columns=fresh().columns).astype({"probability": "float64"})
        engine = sqlalchemy.create_engine(pg.dsn.replace("postgresql://", "postgresql+psycopg://"))
        t_sql = _timed(lambda: frame.to_sql(fresh().name, engine, if_exists="append", index=False))
        engine.dispose()
        out.append(
            _row(
                f"PostgreSQL vs to_sql ({sample:,}-row sample)",
                rows / t_ours,
                sample / t_sql,
                "pandas to_sql",
                "to_sql timed on a smaller sample",
            )
        )
    return out


def bench_sqlite(rows: int) -> list[dict]:
    import sqlite3

    from airflow_mlops.scoring.table import ScoresTable, quote, sqlite_time
    from airflow_mlops.scoring.writers import SqliteScoresWriter
    from tests.scoring.data import batches, key

    data, k = list(batches(rows, CHUNK)), key()
    folder = Path(tempfile.mkdtemp(prefix="bench-sqlite-"))
    n = iter(range(100))

    def connect_to(path: Path):
        def connect():
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn

        return connect

    def fresh() -> tuple[ScoresTable, SqliteScoresWriter]:
        writer = SqliteScoresWriter(connect_to(folder / f"{next(n)}.db"))
        table = ScoresTable("bench", "zone_id")
        conn = writer.connect()
        writer.ensure_tables(conn, table)
        conn.close()
        return table, writer

    # the same rows as our writer stores them (timestamps as ISO text)
    tuples = [
        (r[0], r[1], sqlite_time(r[2]), r[3], r[4], *r[5:10], sqlite_time(r[10]), sqlite_time(r[11]))
        for r in _tuples(data, k)
    ]

    def baseline() -> None:
        table, writer = fresh()
        conn = writer.connect()
        insert = f"INSERT INTO {quote(table.name)} VALUES ({', '.join('?' * len(table.columns))})"
        conn.execute("BEGIN")
        conn.executemany(insert, tuples)
        conn.execute("COMMIT")
        conn.close()

    def ours() -> None:
        table, writer = fresh()
        assert writer.replace(table, k, data) == rows

    t_base, t_ours = _interleaved(baseline, ours)
    return [_row(f"SQLite {rows:,} rows", rows / t_ours, rows / t_base, "executemany, one transaction")]


def bench_memory(sizes: tuple[int, int]) -> list[dict]:
    from tests.pg import postgres_server

    peaks = {}
    with postgres_server() as pg:
        for size in sizes:
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_scoring", "memory", pg.dsn, str(size)],
                cwd=Path(__file__).resolve().parents[1],
                capture_output=True,
                text=True,
                check=True,
            )
            peaks[size] = json.loads(proc.stdout.strip().splitlines()[-1])
    small, large = sizes
    return [
        {
            "benchmark": "scoring",
            "case": f"peak RSS scoring {large:,} vs {small:,} rows (chunks of {CHUNK:,})",
            "ours": f"{peaks[large]['peak_mb']:.0f} MB ({peaks[large]['rows_per_s']:,.0f} rows/s)",
            "baseline": f"{peaks[small]['peak_mb']:.0f} MB ({peaks[small]['rows_per_s']:,.0f} rows/s)",
            "ratio": peaks[small]["peak_mb"] / peaks[large]["peak_mb"],
            "note": "parquet → sklearn → PostgreSQL; flat memory means ratio ≈ 1",
        }
    ]


def _memory_child(dsn: str, size: int) -> None:
    """Score ``size`` rows from a generated parquet file into PostgreSQL; print peak RSS as JSON."""
    import numpy as np
    import pandas as pd
    import psycopg
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.linear_model import LinearRegression

    from airflow_mlops.scoring.scorer import score_batches
    from airflow_mlops.scoring.table import ScoresTable
    from airflow_mlops.scoring.writers import PostgresScoresWriter
    from tests.scoring.data import key

    path = Path(tempfile.mkdtemp(prefix="bench-mem-")) / "set.parquet"
    rng = np.random.default_rng(0)
    schema = pa.schema(
        [
            ("zone_id", pa.int64()),
            ("event_timestamp", pa.timestamp("us", tz="UTC")),
            ("hour", pa.int64()),
            ("temperature", pa.float64()),
        ]
    )
    with pq.ParquetWriter(path, schema) as out:
        for start in range(0, size, CHUNK):
            ids = np.arange(start, start + CHUNK, dtype="int64")
            frame = pd.DataFrame(
                {
                    "zone_id": ids % 5000,
                    "event_timestamp": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(ids, unit="s"),
                    "hour": ids % 24,
                    "temperature": rng.normal(15, 8, CHUNK),
                }
            )
            out.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False, safe=False))
    generated_mb = peak_rss_mb()
    model = LinearRegression().fit(pd.DataFrame({"hour": [0, 5, 9], "temperature": [1.0, 2.0, 7.0]}), [1.0, 2.0, 3.0])
    batches = score_batches(model, path, "zone_id", "event_timestamp", ["hour", "temperature"], CHUNK, False)
    t0 = time.perf_counter()
    rows = PostgresScoresWriter(lambda: psycopg.connect(dsn)).replace(
        ScoresTable(f"mem_{size}", "zone_id"), key(), batches
    )
    took = time.perf_counter() - t0
    print(json.dumps({"rows": rows, "peak_mb": peak_rss_mb(), "generated_mb": generated_mb, "rows_per_s": rows / took}))


def peak_rss_mb() -> float:
    """This process's peak RSS since it started (VmHWM).

    Not ``ru_maxrss``: Linux carries the parent's high-water mark into a forked and exec'd child, so every
    child of a large benchmark process would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(quick: bool) -> list[dict]:
    pg_rows, sample, lite_rows, mem = (
        (100_000, 10_000, 100_000, (200_000, 1_000_000))
        if quick
        else (1_000_000, 50_000, 500_000, (1_000_000, 5_000_000))
    )
    return [*bench_postgres(pg_rows, sample), *bench_sqlite(lite_rows), *bench_memory(mem)]


if __name__ == "__main__" and sys.argv[1:2] == ["memory"]:
    _memory_child(sys.argv[2], int(sys.argv[3]))
