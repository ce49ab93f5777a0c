"""Score faults on the distributed stack (no Feast): a worker SIGKILLed mid-COPY, the scores server stopped.

The DAG (score_dags.py) stages a generated scoring set in S3 and a sealed champion in the MLflow server, then
runs the real BatchScoreOperator. A clean run is the reference: after each fault the run's slice of the scores
table must hold exactly the same rows (count, distinct row ids, md5 over row id, entity, time and prediction)
and exactly one score-run record. Size: ``MLOPS_DIST_SCORE_ROWS`` (default 1,000,000, the issue's size: the two
tests take ~4 min with the stack's start). The fault strikes once the COPY has sent a third of the rows.

The scores database of the PostgreSQL-stop test is on a PostgreSQL server of its own (connection made over the
REST API): the harness's main server also holds the Airflow metadata database, and stopping that would test
Airflow's own outage handling, not the score task's.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.pg import PostgresServer, _bin, postgres_server

from .score_dags import write_score_dag

pytestmark = pytest.mark.distributed
ROWS = int(os.environ.get("MLOPS_DIST_SCORE_ROWS", "1000000"))
DAG_ID, MODEL, TABLE = "dist_score_faults", "dist_score", "dist_scores"
OTHER_CONN = "scores_pg_b"


def scores_dsn(cluster) -> str:
    return cluster.pg.dsn.rsplit("/", 1)[0] + "/scores"


def checksum(dsn: str, run_id: str) -> dict:
    """The run's slice: rows, distinct row ids, md5 of the ordered rows; and its score-run records."""
    with psycopg.connect(dsn) as db:
        rows, distinct, digest = db.execute(
            f"SELECT count(*), count(DISTINCT row_id), md5(string_agg(row_id::text || '|' || zone_id::text || '|' || "
            f"event_timestamp::text || '|' || prediction::text, ',' ORDER BY row_id)) FROM \"{TABLE}\" "
            "WHERE dag_run_id = %s",
            (run_id,),
        ).fetchone()
        runs = db.execute(
            "SELECT rows, is_current FROM mlops_score_runs WHERE model_name = %s AND dag_run_id = %s", (MODEL, run_id)
        ).fetchall()
    return {"rows": rows, "distinct": distinct, "md5": digest, "runs": runs}


def wait_for_copy(dsn: str, at_least: int, timeout: float = 240) -> int:
    """Poll until the scores COPY (one per write) has sent ``at_least`` rows to the server; return how many."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as db:
        while time.monotonic() < deadline:
            found = db.execute("SELECT tuples_processed FROM pg_stat_progress_copy WHERE command = 'COPY FROM'")
            done = [n for (n,) in found.fetchall() if n >= at_least]
            if done:
                return done[0]
            time.sleep(0.05)
    raise TimeoutError("no COPY into the scores table seen")


def pg_ctl(server: PostgresServer, action: str) -> None:
    """``pg_ctl stop -m fast`` / ``start`` on a tests.pg server (same options it was started with)."""
    if action == "stop":
        with psycopg.connect(server.dsn, autocommit=True) as db:
            keys = ("data_directory", "unix_socket_directories")
            PG_STATE[server.port] = {k: db.execute(f"SHOW {k}").fetchone()[0] for k in keys}
    data, sock = PG_STATE[server.port]["data_directory"], PG_STATE[server.port]["unix_socket_directories"]
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    opts = f"-c listen_addresses=127.0.0.1 -c port={server.port} -k {sock} -c fsync=off -c synchronous_commit=off"
    argv = [*as_user, _bin("pg_ctl"), "-D", data, "-w", "-t", "60"]
    argv += ["-m", "fast", "stop"] if action == "stop" else ["-o", opts, "-l", str(Path(data).parent / "log"), "start"]
    subprocess.run(argv, check=True, capture_output=True)


PG_STATE: dict[int, dict[str, str]] = {}


@pytest.fixture(scope="module")
def score_dag(cluster) -> str:
    specs = cluster.root / "specs"
    return write_score_dag(cluster.dags_folder, specs, DAG_ID, MODEL, TABLE)


@pytest.fixture(scope="module")
def reference(cluster, score_dag) -> dict:
    """One clean run (it also registers the champion): the slice every faulted run must equal."""
    began = time.monotonic()
    run_id = cluster.trigger(score_dag, {"rows": ROWS})
    cluster.wait_for_run(score_dag, run_id, timeout=600)
    found = checksum(scores_dsn(cluster), run_id)
    assert found["rows"] == found["distinct"] == ROWS and found["runs"] == [(ROWS, True)], found
    print(f"\nclean score run of {ROWS:,} rows: {time.monotonic() - began:.1f} s (stage + score)")
    return found


@pytest.fixture(scope="module")
def other_scores_server(cluster) -> Iterator[PostgresServer]:
    with postgres_server() as server, cluster.api() as api:
        conn = {"connection_id": OTHER_CONN, "conn_type": "postgres", "host": server.host, "port": server.port,
                "login": server.user, "password": server.password, "schema": server.dbname}  # fmt: skip
        api.post("/connections", json=conn).raise_for_status()
        yield server


def same_rows(found: dict, reference: dict) -> None:
    assert (found["rows"], found["distinct"], found["md5"]) == (ROWS, ROWS, reference["md5"]), (found, reference)
    assert found["runs"] == [(ROWS, True)], found["runs"]


def test_worker_sigkilled_mid_copy_scores_once_on_the_other(cluster, score_dag, reference):
    run_id = cluster.trigger(score_dag, {"rows": ROWS})
    first = cluster.wait_for_task(score_dag, run_id, "score", "running", timeout=300)
    victim = first["hostname"]
    sent = wait_for_copy(cluster.pg.dsn, ROWS // 3)
    survivor, recovered, tries = cluster.kill_worker_and_recover(victim, score_dag, run_id, "score", timeout=600)
    assert 0 < sent < ROWS
    same_rows(checksum(scores_dsn(cluster), run_id), reference)
    print(f"\n{victim} SIGKILLed with {sent:,} of {ROWS:,} rows sent by COPY: the run done on {survivor} "
          f"{recovered:.1f} s later ({len(tries)} tries); slice = the clean run's")  # fmt: skip


def test_scores_server_stopped_mid_score_task_retry_writes_once(cluster, score_dag, reference, other_scores_server):
    server = other_scores_server
    run_id = cluster.trigger(score_dag, {"rows": ROWS, "scores_conn_id": OTHER_CONN})
    cluster.wait_for_task(score_dag, run_id, "score", "running", timeout=300)
    sent = wait_for_copy(server.dsn, ROWS // 3)
    began = time.monotonic()
    pg_ctl(server, "stop")
    time.sleep(4)
    pg_ctl(server, "start")
    down = time.monotonic() - began
    cluster.wait_for_run(score_dag, run_id, timeout=600)
    tries = cluster.tries(score_dag, run_id, "score")
    assert tries[0]["state"] == "failed" and tries[-1]["state"] == "success", tries
    assert len(tries) >= 2
    same_rows(checksum(server.dsn, run_id), reference)
    print(f"\nscores server stopped {down:.1f} s with {sent:,} of {ROWS:,} rows sent: {len(tries)} tries, "
          f"{time.monotonic() - began:.1f} s to success; slice = the clean run's")  # fmt: skip
