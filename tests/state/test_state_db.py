"""The state database (alias history, retrain ledger) by connection id: PostgreSQL when ``mlops_state`` is defined,
embedded SQLite under the MLOps home only when it is not; concurrent writers from separate processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_mlops.hooks.connections import ConnectionLookupError

PROJECT = Path(__file__).resolve().parents[2]


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def pg_rows(server, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(server.dsn) as conn:
        return conn.execute(sql).fetchall()


def test_embedded_default_keeps_the_earlier_files(state_env):
    from airflow_mlops.monitoring.ledger import Ledger
    from airflow_mlops.promotion.history import AliasHistory, history_exists

    assert not history_exists()  # reading does not create the file
    Ledger().record("m", "drift", "r1", "first")
    AliasHistory().record("m", "champion", "1", action="promote", status="refused", who="t")
    assert [f for f in files_under(state_env) if not f.endswith(".lock")] == ["monitoring.db", "promotion/history.db"]
    assert history_exists()
    with sqlite3.connect(state_env / "monitoring.db") as conn:
        rows = conn.execute("SELECT model, reason, report_id FROM retrain_requests").fetchall()
    assert rows == [("m", "drift", "r1")]


def test_a_home_written_by_the_earlier_sqlite3_ledger_reads_and_writes(state_env):
    from airflow_mlops.monitoring.ledger import Ledger

    state_env.mkdir(parents=True)
    with sqlite3.connect(state_env / "monitoring.db") as conn:  # the schema and rows the earlier release wrote
        conn.executescript(
            "CREATE TABLE retrain_requests (model TEXT NOT NULL, reason TEXT NOT NULL, requested_at TEXT NOT NULL,"
            " report_id TEXT, detail TEXT);"
            "CREATE INDEX retrain_requests_model ON retrain_requests (model, requested_at);"
            "CREATE TABLE label_watermarks (model TEXT PRIMARY KEY, newest TEXT NOT NULL, rows INTEGER NOT NULL);"
            "INSERT INTO retrain_requests VALUES ('m', 'drift', '2026-03-01T00:00:00+00:00', 'r0', 'old');"
            "INSERT INTO label_watermarks VALUES ('m', '2026-03-01', 10);"
        )
    ledger = Ledger()
    assert [r.report_id for r in ledger.history("m")] == ["r0"]
    assert ledger.label_watermark("m") == ("2026-03-01", 10)
    ledger.set_label_watermark("m", "2026-03-02", 12)
    ledger.record("m", "metric_drop", "r1", "new")
    assert ledger.label_watermark("m") == ("2026-03-02", 12)
    assert ledger.last_request("m").report_id == "r1"


def test_postgres_connection_takes_all_state_and_the_home_stays_empty(state_env, state_pg, monkeypatch):
    from airflow_mlops.hooks.state_db import StateDbHook
    from airflow_mlops.monitoring.ledger import Ledger
    from airflow_mlops.promotion.history import AliasHistory, history_exists

    monkeypatch.setenv("AIRFLOW_CONN_MLOPS_STATE", state_pg.airflow_conn_json)
    assert StateDbHook().dialect == "postgresql"
    assert StateDbHook().test_connection()[0]
    ledger = Ledger()
    ledger.record("m", "drift", "r1", "first")
    ledger.set_label_watermark("m", "2026-03-01", 5)
    ledger.set_label_watermark("m", "2026-03-02", 7)
    AliasHistory().record("m", "champion", "3", action="promote", status="refused", who="t")
    assert history_exists()
    assert pg_rows(state_pg, "SELECT model, reason, report_id FROM retrain_requests") == [("m", "drift", "r1")]
    assert pg_rows(state_pg, "SELECT model, newest, rows FROM label_watermarks") == [("m", "2026-03-02", 7)]
    assert pg_rows(state_pg, "SELECT model, version, status FROM alias_events") == [("m", "3", "refused")]
    assert files_under(state_env) == []  # nothing durable on this machine's disk


def test_sqlite_connection_names_its_file(state_env, tmp_path, monkeypatch):
    from airflow_mlops.monitoring.ledger import Ledger
    from airflow_mlops.promotion.history import AliasHistory

    target = tmp_path / "elsewhere" / "state.db"
    target.parent.mkdir()
    conn = {"conn_type": "mlops_state", "host": str(target), "extra": {"dialect": "sqlite"}}
    monkeypatch.setenv("AIRFLOW_CONN_MLOPS_STATE", json.dumps(conn))
    Ledger().record("m", "drift", "r1", "x")
    AliasHistory().record("m", "champion", "1", action="promote", status="refused")
    with sqlite3.connect(target) as db:  # one file holds both stores
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"alias_events", "retrain_requests", "label_watermarks"} <= tables
    assert files_under(state_env) == []


def test_remote_stores_without_the_state_connection_fail_loudly(state_env, monkeypatch):
    from airflow_mlops.hooks.state_db import StateDbHook
    from airflow_mlops.monitoring.ledger import Ledger
    from airflow_mlops.promotion.history import AliasHistory

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    for make in (Ledger, AliasHistory):
        with pytest.raises(ConnectionLookupError, match="mlops_state"):
            make()
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("AIRFLOW__MLOPS__STORAGE_URL", "s3://aws_default@bucket/mlops")
    with pytest.raises(ConnectionLookupError, match="storage_url"):
        Ledger()
    monkeypatch.delenv("AIRFLOW__MLOPS__STORAGE_URL")
    monkeypatch.setenv("AIRFLOW_MLOPS_EMBEDDED", "false")
    with pytest.raises(ConnectionLookupError, match="forbids"):
        Ledger()
    monkeypatch.delenv("AIRFLOW_MLOPS_EMBEDDED")
    with pytest.raises(ConnectionLookupError, match="'team_state' is not defined"):
        StateDbHook("team_state").url  # noqa: B018 - a named connection never falls back
    assert files_under(state_env) == []


def test_wrong_connection_type_is_refused(state_env, monkeypatch):
    from airflow_mlops.monitoring.ledger import Ledger

    monkeypatch.setenv("AIRFLOW_CONN_MLOPS_STATE", json.dumps({"conn_type": "http", "host": "example.org"}))
    with pytest.raises(ValueError, match="expected postgres or sqlite"):
        Ledger()


WRITER = """
import sys, time
from pathlib import Path
from airflow_mlops.monitoring.ledger import Ledger
from airflow_mlops.promotion.history import AliasHistory

who, n, rendezvous, use_lock = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] == "lock"
ledger, history = Ledger(), AliasHistory()
(rendezvous / who).touch()
while len(list(rendezvous.iterdir())) < 2:
    time.sleep(0.01)
for i in range(n):
    ledger.record("m", "drift", f"{who}-{i}", who)
    ledger.set_label_watermark("m", f"{who}-{i:04d}", i)
    history.record("m", "champion", str(i), action="promote", status="refused", who=who)


def decide():  # the cooldown's read-then-record: one incident must request one retrain
    if not ledger.requests_for_report("m", "incident"):
        time.sleep(0.5)
        ledger.record("m", "drift", "incident", who)


if use_lock:
    with ledger.locked("m"):
        decide()
else:
    decide()
"""


def run_writers(tmp_path: Path, env: dict[str, str], n: int, mode: str) -> None:
    rendezvous = tmp_path / f"rendezvous-{mode}"
    rendezvous.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, who, str(n), str(rendezvous), mode],
            env=env,
            cwd=PROJECT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]


def writer_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW"))}
    return base | {
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW_MLOPS_HOME": str(tmp_path / "mlops"),
        "PYTHONPATH": str(PROJECT),
        **extra,
    }


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_two_processes_write_concurrently_and_the_lock_serializes_the_cooldown(backend, tmp_path, request):
    from sqlalchemy import create_engine, text

    n = 40
    if backend == "postgres":
        server = request.getfixturevalue("state_pg")
        env = writer_env(tmp_path, AIRFLOW_CONN_MLOPS_STATE=server.airflow_conn_json)
        engines = [create_engine(server.dsn.replace("postgresql://", "postgresql+psycopg://"))] * 2
    else:
        env = writer_env(tmp_path)
        home = tmp_path / "mlops"
        files = (home / "monitoring.db", home / "promotion" / "history.db")
        engines = [create_engine(f"sqlite:///{path}") for path in files]
    started = time.monotonic()
    run_writers(tmp_path, env, n, "lock")
    with engines[0].connect() as conn:
        requests = conn.execute(text("SELECT report_id, detail FROM retrain_requests")).fetchall()
        watermarks = conn.execute(text("SELECT model, rows FROM label_watermarks")).fetchall()
    with engines[1].connect() as conn:
        moves = conn.execute(text("SELECT who, version FROM alias_events")).fetchall()
    assert sorted(r[0] for r in requests if r[0] != "incident") == sorted(f"{w}-{i}" for w in "ab" for i in range(n))
    assert len([r for r in requests if r[0] == "incident"]) == 1  # the lock: one incident, one request
    assert len(watermarks) == 1 and watermarks[0][1] == n - 1
    assert sorted(moves) == sorted((w, str(i)) for w in "ab" for i in range(n))
    if backend == "postgres":
        assert files_under(tmp_path / "mlops") == []
    print(f"{backend}: 2 processes × {n} × 3 writes + locked decision in {time.monotonic() - started:.1f} s")

    # Without the lock the same race requests the retrain twice: the assertion above can fail.
    with engines[0].begin() as conn:
        conn.execute(text("DELETE FROM retrain_requests WHERE report_id = 'incident'"))
    run_writers(tmp_path, env, 0, "nolock")
    with engines[0].connect() as conn:
        incident = conn.execute(text("SELECT count(*) FROM retrain_requests WHERE report_id = 'incident'")).scalar()
    assert incident == 2
