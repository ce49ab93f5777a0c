"""A scores write to be killed part-way: ``python -m tests.scoring.kill_writer CONN_JSON TABLE ROWS CHUNK SEED``.

Uses the writer directly (no Airflow import, so it starts fast) with the connection of ``CONN_JSON`` (an
Airflow connection as JSON). Prints ``progress <rows>`` after each chunk is handed to the database
(inside the open transaction), then waits for a line on stdin before going on, so the parent can kill it
at a chosen fraction of the write.
"""

from __future__ import annotations

import json
import sys

from airflow_mlops.scoring.table import ScoresTable
from airflow_mlops.scoring.writers import PostgresScoresWriter, SqliteScoresWriter
from tests.scoring.data import batches, key


def writer(conn: dict):
    if conn["conn_type"] == "sqlite":
        import sqlite3

        def connect():
            db = sqlite3.connect(conn["host"], isolation_level=None, timeout=60)
            db.execute("PRAGMA journal_mode=WAL")
            return db

        return SqliteScoresWriter(connect)
    import psycopg

    params = {"host": conn["host"], "port": conn["port"], "user": conn["login"], "password": conn["password"]}
    return PostgresScoresWriter(lambda: psycopg.connect(dbname=conn["schema"], **params))


def main(conn: dict, table: str, rows: int, chunk: int, seed: int) -> None:
    def progress(done: int, chunks: int) -> None:
        print(f"progress {done}", flush=True)
        sys.stdin.readline()

    writer(conn).replace(ScoresTable(table, "zone_id"), key(str(seed)), batches(rows, chunk, seed), progress=progress)
    print("done", flush=True)


if __name__ == "__main__":
    conn_json, name, n, c, s = sys.argv[1:6]
    main(json.loads(conn_json), name, int(n), int(c), int(s))
