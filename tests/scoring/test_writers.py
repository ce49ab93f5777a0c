"""The scores writers against a real PostgreSQL server and SQLite: layout, types, idempotence, atomicity."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from airflow_mlops.hooks.scores_db import ScoresDbHook
from airflow_mlops.scoring.table import ScoresTable, UnsafeIdentifier
from airflow_mlops.scoring.writers import replace_scores
from tests.conftest import PROJECT
from tests.scoring.data import LOGICAL_DATE, batches, key

ROWS, CHUNK = 3000, 700


def test_rows_and_version_columns(conn_id, table_name):
    db = ScoresDbHook(conn_id)
    table = ScoresTable(table_name, "zone_id")
    assert replace_scores(db, table, key("7"), batches(ROWS, CHUNK, seed=7)) == ROWS
    assert replace_scores(db, table, key("3", role="challenger"), batches(ROWS, CHUNK, seed=3)) == ROWS
    counts = db.query(
        f'SELECT role, model_name, model_version, mlflow_run_id, dag_run_id, count(*) FROM "{table_name}" '
        "GROUP BY role, model_name, model_version, mlflow_run_id, dag_run_id ORDER BY role"
    )
    assert counts == [
        ("challenger", "demo_model", "3", "run3", "manual__1", ROWS),
        ("champion", "demo_model", "7", "run7", "manual__1", ROWS),
    ]
    first = db.query(
        f'SELECT row_id, zone_id, prediction, probability FROM "{table_name}" WHERE row_id = 1 AND role = ?',
        ["champion"],
    )
    expected = next(batches(ROWS, CHUNK, seed=7))
    assert first == [(1, 1, expected.column("prediction")[1].as_py(), None)]
    runs = db.runs(table, "demo_model", LOGICAL_DATE)
    assert [(r["role"], r["model_version"], r["rows"]) for r in runs] == [
        ("challenger", "3", ROWS),
        ("champion", "7", ROWS),
    ]


def test_classifier_probability_round_trips(conn_id, table_name):
    db = ScoresDbHook(conn_id)
    replace_scores(db, ScoresTable(table_name, "rider_id"), key(), batches(500, 128, seed=1, classifier=True))
    rows = db.query(f'SELECT prediction, probability FROM "{table_name}" ORDER BY row_id')
    probs = [p for b in batches(500, 128, seed=1, classifier=True) for p in b.column("probability").to_pylist()]
    assert [p for _, p in rows] == probs
    assert all(pred == float(p > 0.5) for pred, p in rows)


def test_text_entities_use_the_row_path(conn_id, table_name):
    import pyarrow as pa

    from airflow_mlops.scoring.writers import make_batch

    db = ScoresDbHook(conn_id)
    ts = pa.array([0, 1, 2], pa.timestamp("s", tz="UTC"))
    batch = make_batch([0, 1, 2], ["a", "b'; --", 'c"'], ts, [1.0, 2.0, 3.0])
    replace_scores(db, ScoresTable(table_name, "rider", entity_is_text=True), key(), [batch])
    assert db.query(f'SELECT rider, prediction FROM "{table_name}" ORDER BY row_id') == [
        ("a", 1.0),
        ("b'; --", 2.0),
        ('c"', 3.0),
    ]


def test_postgres_column_types_primary_key_and_index(pg_conn_id, pg, table_name):
    replace_scores(ScoresDbHook(pg_conn_id), ScoresTable(table_name, "zone_id"), key(), batches(10, 10))
    with psycopg.connect(pg.dsn) as conn:
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", [table_name]
            ).fetchall()
        )
        indexes = dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table_name]))
    assert types == {
        "row_id": "bigint",
        "zone_id": "bigint",
        "event_timestamp": "timestamp with time zone",
        "prediction": "double precision",
        "probability": "double precision",
        "model_name": "text",
        "model_version": "text",
        "role": "text",
        "mlflow_run_id": "text",
        "dag_run_id": "text",
        "logical_date": "timestamp with time zone",
        "scored_at": "timestamp with time zone",
    }
    defs = sorted(indexes.values())
    assert any("UNIQUE" in d and "(model_name, role, logical_date, row_id)" in d for d in defs), defs
    assert any("(model_name, logical_date)" in d and "UNIQUE" not in d for d in defs), defs


def test_sqlite_column_types_primary_key_and_index(sqlite_conn_id, table_name):
    db = ScoresDbHook(sqlite_conn_id)
    replace_scores(db, ScoresTable(table_name, "zone_id"), key(), batches(10, 10))
    info = db.query(f'PRAGMA table_info("{table_name}")')
    assert {r[1]: r[2] for r in info}["prediction"] == "REAL"
    assert [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]] == ["model_name", "role", "logical_date", "row_id"]
    index = db.query(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", [table_name]
    )
    assert len(index) == 1 and '("model_name", "logical_date")' in index[0][0]


def test_rerun_replaces_and_three_reruns_have_one_checksum(conn_id, table_name):
    db = ScoresDbHook(conn_id)
    table = ScoresTable(table_name, "zone_id")
    other_date = key("9")
    object.__setattr__(other_date, "logical_date", LOGICAL_DATE.replace(day=2))
    replace_scores(db, table, other_date, batches(100, 100, seed=9))  # another date: must survive
    sums = set()
    for _ in range(3):
        replace_scores(db, table, key("1"), batches(ROWS, CHUNK, seed=1))  # new scored_at each time
        sums.add(db.checksum(table))
    assert sums == {(ROWS + 100, sums.copy().pop()[1])}
    assert db.query(f'SELECT count(*) FROM "{table_name}" WHERE model_version = ?', ["9"]) == [(100,)]


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_write_killed_part_way_then_retried_leaves_exact_rows(conn_id, table_name, fraction):
    rows, chunk = 10_000, 500
    db = ScoresDbHook(conn_id)
    table = ScoresTable(table_name, "zone_id")
    reference = ScoresTable(table_name + "_ref", "zone_id")
    replace_scores(db, reference, key("2"), batches(rows, chunk, seed=2))  # one clean run, for comparison
    replace_scores(db, table, key("1"), batches(rows, chunk, seed=1))  # the committed previous run
    before = db.checksum(table)

    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.scoring.kill_writer",
            os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"],
            table_name,
            str(rows),
            str(chunk),
            "2",
        ],
        cwd=PROJECT,
        env=dict(os.environ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    target = int(rows * fraction)
    try:
        while (done := _progress(child)) < target:  # the child waits for "go" after each chunk
            child.stdin.write("go\n")
            child.stdin.flush()
        if db.dialect == "postgres":  # the server itself has loaded those rows in the open COPY
            assert _server_rows(db, table_name, done - chunk) >= done - chunk
        assert db.checksum(table) == before, "a partial batch is visible to readers"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert target <= done < rows
    assert db.checksum(table) == before  # the killed transaction left nothing behind
    replace_scores(db, table, key("2"), batches(rows, chunk, seed=2))  # the retry
    assert db.checksum(table) == db.checksum(reference)
    assert db.query(f'SELECT count(*), count(DISTINCT row_id) FROM "{table_name}"') == [(rows, rows)]


def _progress(child: subprocess.Popen) -> int:
    line = child.stdout.readline()
    assert line.startswith("progress"), f"writer ended before it could be killed: {line!r}"
    return int(line.split()[1])


def _server_rows(db: ScoresDbHook, table_name: str, at_least: int) -> int:
    """Rows the running COPY into ``table_name`` has processed (pg_stat_progress_copy), waiting up to 10 s."""
    deadline, seen = time.monotonic() + 10, 0
    while time.monotonic() < deadline:
        found = db.query(
            "SELECT tuples_processed FROM pg_stat_progress_copy WHERE relid = to_regclass(?)", [f'"{table_name}"']
        )
        seen = found[0][0] if found else 0
        if seen >= at_least:
            break
        time.sleep(0.01)
    return seen


HOSTILE = ['scores"; DROP TABLE victim; --', "Robert'); DROP TABLE victim;--", "scores table"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_table_names_are_quoted_never_executed(conn_id, name):
    db = ScoresDbHook(conn_id)
    db.execute("CREATE TABLE IF NOT EXISTS victim (x int)")
    entity = 'zone"; DROP TABLE victim; --'
    replace_scores(db, ScoresTable(name, entity), key(), batches(50, 20))
    assert db.query("SELECT count(*) FROM victim") == [(0,)]  # still there
    quoted = '"' + name.replace('"', '""') + '"'
    assert db.query(f"SELECT count(*) FROM {quoted}") == [(50,)]
    if db.dialect == "postgres":
        assert db.query("SELECT count(*) FROM pg_tables WHERE tablename = ?", [name]) == [(1,)]
    else:
        assert db.query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [name]) == [(1,)]


@pytest.mark.parametrize(
    ("table", "entity"),
    [
        ("bad\x00name", "zone_id"),
        ("x" * 64, "zone_id"),
        ("t", "prediction"),
        ("t", "role"),
        ("", "zone_id"),
        ("t", "a\nb"),
    ],
)
def test_unusable_names_are_rejected(table, entity):
    with pytest.raises(UnsafeIdentifier):
        ScoresTable(table, entity)


def test_spec_rejects_a_hostile_table_name(tmp_path):
    from airflow_mlops.spec import SpecError, load_spec

    text = (PROJECT / "dags" / "rider_churn.yaml").read_text()
    bad = tmp_path / "rider_churn.yaml"
    bad.write_text(text.replace("table: rider_churn_scores", 'table: "x; DROP TABLE victim"'))
    with pytest.raises(SpecError, match="table"):
        load_spec(bad)


def test_sqlite_time_text_matches_strftime_for_any_instant():
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from airflow_mlops.scoring.writers import _sqlite_times

    micros = np.random.default_rng(1).integers(0, 4_000_000_000_000_000, 50_000)  # 1970..2096, any microsecond
    stamps = pa.array(micros, pa.timestamp("us", tz="UTC"))
    assert _sqlite_times(stamps) == pc.strftime(stamps, "%Y-%m-%dT%H:%M:%SZ").to_pylist()
