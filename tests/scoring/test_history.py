"""Nothing served is destroyed: refused shrinking writes, superseded runs, retention, first-layout migration.

Every test runs against SQLite and a real PostgreSQL server (the ``conn_id`` fixture).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from airflow_mlops.hooks.scores_db import ScoresDbHook
from airflow_mlops.scoring.table import ScoresTable
from airflow_mlops.scoring.writers import ReplacePolicy, ReplaceRefused, replace_scores
from tests.scoring.data import LOGICAL_DATE, batches, key

ROWS, CHUNK = 3000, 700
ODD_NAME = "it's 100% {odd}? scores"


def _state(db: ScoresDbHook, table: ScoresTable) -> tuple:
    """Everything stored for ``table``, byte for byte (scored_at included)."""
    return tuple(db.checksum(table, exclude=(), part=p) for p in ("current", "superseded", "runs"))


def _predictions(seed: int, rows: int = ROWS) -> list[tuple]:
    return [
        (r, p, None)
        for b in batches(rows, CHUNK, seed=seed)
        for r, p in zip(b.column("row_id").to_pylist(), b.column("prediction").to_pylist(), strict=True)
    ]


def test_empty_batch_never_replaces_scores(conn_id, table_name):
    db = ScoresDbHook(conn_id)
    table = ScoresTable(table_name, "zone_id")
    replace_scores(db, table, key("1"), batches(ROWS, CHUNK, seed=1))
    replace_scores(db, table, key("1", role="challenger"), batches(ROWS, CHUNK, seed=5))
    before = _state(db, table)
    assert before[0][0] == 2 * ROWS

    for dag_run in ("manual__2", "manual__1"):  # a new run, and a retry of the run that wrote the rows
        with pytest.raises(ReplaceRefused) as refused:
            replace_scores(db, table, key("1", dag_run_id=dag_run), iter(()))
        message = str(refused.value)
        assert (
            f"refusing to replace {ROWS} champion rows of demo_model scored for {LOGICAL_DATE.isoformat()}" in message
        )
        assert "by run manual__1 (model version 1" in message and "with 0 rows" in message
        assert "the earlier rows are kept" in message
        assert _state(db, table) == before  # byte-for-byte: scores, superseded rows and run records


def test_much_smaller_batch_refused_unless_the_policy_allows_it(conn_id, table_name):
    db = ScoresDbHook(conn_id)
    table = ScoresTable(table_name, "zone_id")
    replace_scores(db, table, key("1"), batches(ROWS, CHUNK, seed=1))
    before = _state(db, table)
    with pytest.raises(ReplaceRefused, match=f"{ROWS} champion rows .* with 1000 rows .*fewer than 50%"):
        replace_scores(db, table, key("2", dag_run_id="manual__2"), batches(1000, CHUNK, seed=2))
    assert _state(db, table) == before
    # at the threshold it goes through (half the rows), and the earlier run stays queryable
    assert replace_scores(db, table, key("2", dag_run_id="manual__2"), batches(ROWS // 2, CHUNK, seed=2)) == ROWS // 2
    assert db.checksum(table)[0] == ROWS // 2
    assert db.checksum(table, part="superseded")[0] == ROWS
    # a deliberate shrink is a policy decision
    small = ReplacePolicy(min_fraction=0.1)
    assert replace_scores(db, table, key("3", dag_run_id="manual__3"), batches(200, CHUNK, seed=3), policy=small) == 200
    with pytest.raises(ReplaceRefused, match="an empty batch"):
        replace_scores(db, table, key("4", dag_run_id="manual__4"), iter(()), policy=ReplacePolicy(min_fraction=0))


def test_first_write_of_an_empty_batch_is_recorded():
    assert ReplacePolicy().allows(0, 0)  # nothing to destroy: the operator logs it as a warning


@pytest.mark.parametrize("name", ["plain", ODD_NAME])
def test_rescoring_a_date_keeps_what_was_served(conn_id, table_name, name):
    db = ScoresDbHook(conn_id)
    table = ScoresTable(table_name if name == "plain" else f"{name} {table_name[-6:]}", "zone_id")
    first = replace(key("1", dag_run_id="scheduled__1"), scored_at=datetime(2024, 5, 1, 7, tzinfo=UTC))
    second = replace(key("2", dag_run_id="manual__rescore"), scored_at=datetime(2024, 5, 9, 7, tzinfo=UTC))
    replace_scores(db, table, first, batches(ROWS, CHUNK, seed=1))
    replace_scores(db, table, replace(first, role="challenger", model_version="9"), batches(ROWS, CHUNK, seed=9))
    replace_scores(db, table, second, batches(ROWS, CHUNK, seed=2))  # a new champion re-scores the date

    # consumers read the scores table: only the current run, one version per date and role
    assert db.query("SELECT role, model_version, count(*) FROM {t} GROUP BY 1, 2 ORDER BY 1", t=table.name) == [
        ("challenger", "9", ROWS),
        ("champion", "2", ROWS),
    ]
    history = db.query(
        "SELECT role, model_version, is_current, count(*), count(DISTINCT score_run_id) FROM {h} "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2",
        h=table.history,
    )
    assert [(r, v, bool(c), n, k) for r, v, c, n, k in history] == [
        ("challenger", "9", True, ROWS, 1),
        ("champion", "1", False, ROWS, 1),
        ("champion", "2", True, ROWS, 1),
    ]

    served = [r for r in db.served(table, "demo_model", LOGICAL_DATE) if r["role"] == "champion"]
    assert [(r["model_version"], r["dag_run_id"], r["is_current"], r["rows_kept"]) for r in served] == [
        ("2", "manual__rescore", True, True),
        ("1", "scheduled__1", False, True),
    ]
    assert served[1]["superseded_by"] == served[0]["score_run_id"]
    assert db.run_predictions(table, served[1]) == _predictions(1)
    assert db.run_predictions(table, served[0]) == _predictions(2)

    # what was served for that date as of a given moment
    between = [r for r in db.served(table, "demo_model", LOGICAL_DATE, as_of=datetime(2024, 5, 5, tzinfo=UTC))]
    assert sorted((r["role"], r["model_version"]) for r in between) == [("challenger", "9"), ("champion", "1")]
    assert db.served(table, "demo_model", LOGICAL_DATE, as_of=datetime(2024, 5, 1, tzinfo=UTC)) == []
    # reproduce and friends still see one current run per role
    assert [(r["role"], r["model_version"]) for r in db.runs(table, "demo_model", LOGICAL_DATE)] == [
        ("challenger", "9"),
        ("champion", "2"),
    ]


def test_retrying_the_same_run_leaves_one_clean_run(conn_id, table_name):
    db = ScoresDbHook(conn_id)
    table = ScoresTable(table_name, "zone_id")
    replace_scores(db, table, key("1", dag_run_id="scheduled__1"), batches(ROWS, CHUNK, seed=1))
    replace_scores(db, table, key("2", dag_run_id="manual__2"), batches(ROWS, CHUNK, seed=2))
    superseded = db.checksum(table, part="superseded")
    for seed in (3, 4):  # retries of manual__2 (same model version): replace their own rows
        replace_scores(db, table, key("2", dag_run_id="manual__2"), batches(ROWS, CHUNK, seed=seed))
    assert db.predictions(table, "demo_model", "champion", LOGICAL_DATE) == _predictions(4)
    assert db.checksum(table, part="superseded") == superseded  # the earlier run is untouched
    runs = db.served(table, "demo_model", LOGICAL_DATE)
    assert [(r["dag_run_id"], r["is_current"]) for r in runs] == [("manual__2", True), ("scheduled__1", False)]
    assert db.query("SELECT count(*), count(DISTINCT row_id) FROM {t}", t=table.name) == [(ROWS, ROWS)]


def test_retention_purges_rows_never_run_records(conn_id, table_name):
    db = ScoresDbHook(conn_id)
    table = ScoresTable(table_name, "zone_id")
    start = datetime(2024, 5, 1, 7, tzinfo=UTC)
    keep_two = ReplacePolicy(keep_runs=2)
    for i in range(5):
        k = replace(key(str(i), dag_run_id=f"manual__{i}"), scored_at=start + timedelta(days=i))
        replace_scores(db, table, k, batches(500, CHUNK, seed=i), policy=keep_two)
    runs = db.served(table, "demo_model", LOGICAL_DATE)
    assert [(r["model_version"], r["is_current"], r["rows_kept"]) for r in runs] == [
        ("4", True, True),
        ("3", False, True),
        ("2", False, True),
        ("1", False, False),
        ("0", False, False),
    ]
    assert db.run_predictions(table, runs[3]) == []
    kept = db.query("SELECT model_version, count(*) FROM {t} GROUP BY 1 ORDER BY 1", t=table.superseded)
    assert kept == [("2", 500), ("3", 500)]

    # run 2 was superseded 2 days before this write, run 3 one day (not longer ago than keep_days: kept)
    by_age = ReplacePolicy(keep_runs=None, keep_days=1)
    k = replace(key("5", dag_run_id="manual__5"), scored_at=start + timedelta(days=5))
    replace_scores(db, table, k, batches(500, CHUNK, seed=5), policy=by_age)
    kept = db.query("SELECT model_version, count(*) FROM {t} GROUP BY 1 ORDER BY 1", t=table.superseded)
    assert kept == [("3", 500), ("4", 500)]
    assert len(db.served(table, "demo_model", LOGICAL_DATE)) == 6


V1_DDL = {
    "sqlite": (
        "INTEGER",
        "TEXT",
        "REAL",
        "TEXT",
    ),
    "postgres": ("BIGINT", "TIMESTAMPTZ", "DOUBLE PRECISION", "TIMESTAMPTZ"),
}


def _create_first_layout(db: ScoresDbHook, name: str, runs: str) -> None:
    """The tables exactly as the first version of airflow-mlops created them."""
    big, ts, real, stamp = V1_DDL[db.dialect]
    db.execute(
        f'CREATE TABLE {_q(name)} ("row_id" {big} NOT NULL, "zone_id" {big} NOT NULL, '
        f'"event_timestamp" {ts} NOT NULL, "prediction" {real} NOT NULL, "probability" {real}, '
        '"model_name" TEXT NOT NULL, "model_version" TEXT NOT NULL, '
        '"role" TEXT NOT NULL, "mlflow_run_id" TEXT NOT NULL, "dag_run_id" TEXT NOT NULL, '
        f'"logical_date" {stamp} NOT NULL, "scored_at" {stamp} NOT NULL, '
        'PRIMARY KEY ("model_name", "role", "logical_date", "row_id"))'
    )
    db.execute(
        f"CREATE TABLE {_q(runs)} (\n"
        '  "scores_table" TEXT NOT NULL, "model_name" TEXT NOT NULL, "role" TEXT NOT NULL,\n'
        f'  "logical_date" {stamp} NOT NULL, "model_version" TEXT NOT NULL, "mlflow_run_id" TEXT NOT NULL,\n'
        '  "dag_run_id" TEXT NOT NULL, "dataset_path" TEXT, "dataset_digest" TEXT, "rows" BIGINT NOT NULL,\n'
        f'  "entity" TEXT NOT NULL, "feature_names" TEXT NOT NULL, "scored_at" {stamp} NOT NULL,\n'
        '  PRIMARY KEY ("scores_table", "model_name", "role", "logical_date")\n)'
    )


def test_first_layout_tables_are_migrated_and_their_rows_kept(conn_id, table_name):
    db = ScoresDbHook(conn_id)
    runs_table = f"runs_{table_name[-12:]}"  # private run table: the PostgreSQL server is shared
    table = ScoresTable(table_name, "zone_id", runs_table=runs_table)
    _create_first_layout(db, table_name, runs_table)
    date = db._date_param(LOGICAL_DATE)
    other = db._date_param(LOGICAL_DATE + timedelta(days=1))
    scored = db._date_param(datetime(2024, 5, 1, 7, tzinfo=UTC))
    for day, with_record in ((date, True), (other, False)):  # the second date has rows but no run record
        for row_id in range(4):
            db.execute(
                f"INSERT INTO {_q(table_name)} VALUES (?, ?, ?, ?, NULL, 'demo_model', '1', 'champion', 'run1', "
                "'scheduled__old', ?, ?)",
                [row_id, row_id, scored, float(row_id), day, scored],
            )
        if with_record:
            db.execute(
                f"INSERT INTO {_q(runs_table)} VALUES ('{table_name}', 'demo_model', 'champion', ?, '1', 'run1', "
                "'scheduled__old', '/data/set.parquet', 'abc', 4, 'zone_id', '[]', ?)",
                [day, scored],
            )
    # readers work before any writer migrated the table
    assert [(r["model_version"], r["is_current"]) for r in db.runs(table, "demo_model", LOGICAL_DATE)] == [("1", True)]

    for day in (LOGICAL_DATE, LOGICAL_DATE + timedelta(days=1)):
        k = replace(key("2", dag_run_id="manual__new"), logical_date=day)
        replace_scores(db, table, k, batches(4, 4, seed=2))
        runs = db.served(table, "demo_model", day)
        assert [(r["model_version"], r["dag_run_id"], r["is_current"]) for r in runs] == [
            ("2", "manual__new", True),
            ("1", "scheduled__old", False),
        ]
        assert db.run_predictions(table, runs[1]) == [(i, float(i), None) for i in range(4)]
    recorded = db.served(table, "demo_model", LOGICAL_DATE)[1]
    assert (recorded["dataset_path"], recorded["dataset_digest"], recorded["rows"]) == ("/data/set.parquet", "abc", 4)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
