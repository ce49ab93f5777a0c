"""A score run's tasks, one by one, next to the bare library floor of the same step, scores into PostgreSQL (issue 15).

The data, the champion and our three tasks come from bench_score_scale (imported, not copied): ride_demand's
feature history (1 day per zone) and a batch of the newest day, a champion registered in MLflow, and each task
(materialize → validate → score) run through our operator's ``execute`` in its own process, as an executor runs
it (Airflow's task plumbing — supervisor, API server — is not in the figure; bench_distributed has the real
thing). Here the scores go to a real PostgreSQL server (tests/pg.py), through the ``scores_db`` connection.

The floor is one process per step on the same files, doing that step's work with the library alone:

- **Feast read**: DuckDB ``ASOF LEFT JOIN`` of the batch to the feature history, written to parquet
  (our materialize: Feast's definitions, point-in-time retrieval, the dataset saved with its digest);
- **GX validate**: the spec's checks run by Great Expectations on that file (our validate: the same checks, plus
  the report and the validated dataset it saves);
- **predict + binary COPY**: the champion loaded once (``mlflow.sklearn.load_model``), ``predict`` in 100k
  chunks (one OpenMP thread, as our scorer), then psycopg's ``COPY … FROM STDIN (FORMAT BINARY)`` with
  ``write_row`` into a table with the same columns, key and index (our score: the sealed champion, the scores
  writer's one-transaction delete + COPY and its run record).

Per step: process wall (interpreter start to exit, what a task costs a worker) ours vs floor, and the step's own
work (after imports) ours vs floor. COPY alone: bench_scoring's comparison (our writer vs psycopg ``write_row``)
at the same row count. ``python -m benchmarks.bench_score_steps --rows 1000000``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import bench_score_scale as scale

STEPS = {"materialize": "Feast read", "validate": "GX validate", "score": "predict + binary COPY"}
# what each floor step's libraries are, imported (and timed) before its step as our task does (TASK_IMPORTS)
FLOOR_IMPORTS = {
    "floor_read": ("duckdb",),
    "floor_validate": ("pandas", "great_expectations", "airflow_mlops.validation.gate"),
    "floor_score": (
        "pandas",
        "psycopg",
        "mlflow",
        "mlflow.sklearn",
        "sklearn",
        "sklearn.compose",
        "sklearn.pipeline",
        "sklearn.preprocessing",
        "sklearn.linear_model",
        "sklearn.ensemble",
        "scipy.sparse",
    ),
}


# --- children -------------------------------------------------------------------------------------------


def _floor_read(home: Path) -> dict:
    import duckdb

    from airflow_mlops.spec import load_spec

    names = load_spec(scale.SPEC).features.feature_names
    data = home / "data"
    t0 = time.perf_counter()
    duckdb.sql(
        f"COPY (SELECT b.zone_id, b.event_timestamp, {', '.join('f.' + n for n in names)} "
        f"FROM read_parquet('{data / 'ride_demand_labels.parquet'}') b "
        f"ASOF LEFT JOIN read_parquet('{data / 'zone_hourly.parquet'}') f "
        "ON b.zone_id = f.zone_id AND b.event_timestamp >= f.event_timestamp) "
        f"TO '{home / 'floor.parquet'}' (FORMAT PARQUET)"
    )
    return {"step_s": time.perf_counter() - t0}


def _floor_validate(home: Path) -> dict:
    import pandas as pd

    from airflow_mlops.spec import load_spec
    from airflow_mlops.validation.gate import validate_frame  # the spec's checks as GX expectations, run by GX

    spec = load_spec(scale.SPEC)
    t0 = time.perf_counter()
    frame = pd.read_parquet(home / "floor.parquet")
    _, result = validate_frame(frame, spec.validation, now=scale.END)
    return {"step_s": time.perf_counter() - t0, "rows": len(frame), "gx_s": result.seconds}


def _floor_score(home: Path, dsn: str) -> dict:
    import mlflow
    import numpy as np
    import pandas as pd
    import psycopg
    from psycopg import sql
    from threadpoolctl import threadpool_limits

    from airflow_mlops.scoring.table import ScoreBatchKey, ScoresTable
    from airflow_mlops.scoring.writers import PostgresScoresWriter
    from airflow_mlops.settings import default_mlflow_uri
    from airflow_mlops.spec import load_spec

    spec = load_spec(scale.SPEC)
    names = spec.features.feature_names
    t0 = time.perf_counter()
    frame = pd.read_parquet(home / "floor.parquet")
    mlflow.set_tracking_uri(default_mlflow_uri())
    model = mlflow.sklearn.load_model(f"models:/{spec.model.name}@champion")
    t1 = time.perf_counter()
    with threadpool_limits(limits=1):  # OpenMP (HistGradientBoosting) spins on a busy machine; one thread each
        predictions = np.concatenate(
            [model.predict(frame.iloc[s : s + scale.CHUNK][names]) for s in range(0, len(frame), scale.CHUNK)]
        )
    t2 = time.perf_counter()
    table = ScoresTable("floor_scores", spec.features.entity)
    key = ScoreBatchKey(spec.model.name, "1", "champion", "run", "floor", scale.INTERVAL[0])
    with psycopg.connect(dsn, autocommit=True) as conn:
        PostgresScoresWriter(lambda: conn).ensure_tables(conn, table)  # same columns, key and index (DDL only)
    t3 = time.perf_counter()
    tail = (*key.constants, key.logical_date, key.scored_at)
    types = ["int8", "int8", "timestamptz", "float8", "float8", *["text"] * 5, "timestamptz", "timestamptz"]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        stmt = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier(table.name))
        with cur.copy(stmt) as copy:
            copy.set_types(types)
            rows = zip(
                range(len(frame)),
                frame[spec.features.entity].tolist(),
                frame[spec.features.timestamp].dt.to_pydatetime(),
                predictions.tolist(),
                strict=True,
            )
            for row in rows:
                copy.write_row((*row, None, *tail))
    t4 = time.perf_counter()
    return {"step_s": (t2 - t0) + (t4 - t3), "load_s": t1 - t0, "predict_s": t2 - t1, "copy_s": t4 - t3,
            "rows": len(frame)}  # fmt: skip


def _child(argv: list[str]) -> None:
    mode, home = argv[0], Path(argv[1])
    if not mode.startswith("floor_"):
        scale._child(argv)  # generate, champion, our tasks: bench_score_scale's children
        return
    import importlib

    started = time.perf_counter()
    for module in FLOOR_IMPORTS[mode]:
        importlib.import_module(module)
    heavy_import_s = time.perf_counter() - started
    if mode == "floor_read":
        out = _floor_read(home)
    elif mode == "floor_validate":
        out = _floor_validate(home)
    else:
        out = _floor_score(home, os.environ["BENCH_FLOOR_DSN"])
    out.update(peak_mb=scale.peak_rss_mb(), inner_s=time.perf_counter() - started, heavy_import_s=heavy_import_s)
    print("BENCH " + json.dumps(out, default=str))


# --- parent ---------------------------------------------------------------------------------------------


def _spawn(home: Path, env: dict[str, str], *args: str) -> tuple[float, dict]:
    """Run a child of this module; its wall time from interpreter start, and what it printed."""
    return scale.spawn_child("benchmarks.bench_score_steps", home, env, *args)


def _count(dsn: str, table: str) -> int:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn) as conn:
        return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]


def measure(rows: int) -> dict:
    """Data for ``rows`` batch rows (1 day of history), our three tasks and the three floor steps."""
    from tests.pg import postgres_server

    with tempfile.TemporaryDirectory(prefix="mlops-bench-steps-") as tmp, postgres_server() as pg:
        home = Path(tmp)
        (home / "airflow").mkdir()
        env = {**scale._env(home), "AIRFLOW_CONN_SCORES_DB": pg.airflow_conn_json, "BENCH_FLOOR_DSN": pg.dsn}
        _spawn(home, env, "generate", str(math.ceil(rows / 24)), "1")
        _spawn(home, env, "champion")
        for path in (home / "data").iterdir():  # both sides start with the files in the page cache
            path.read_bytes()
        load = os.getloadavg()[0]
        ours, inputs = {}, {}
        for name in scale.TASKS:
            seconds, out = _spawn(home, env, name, json.dumps(inputs))
            inputs = {"dataset": out["result"]["dataset"], "digest": out["result"].get("digest")}
            ours[name] = {"seconds": seconds, **out}
        floor = {}  # after ours: a models:/ load writes into the champion's artifact folder (bench_score_scale)
        for name in scale.TASKS:
            seconds, out = _spawn(home, env, f"floor_{'read' if name == 'materialize' else name}")
            floor[name] = {"seconds": seconds, **out}
        scored = {"ours": _count(pg.dsn, "ride_demand_scores"), "floor": _count(pg.dsn, "floor_scores")}
        if scored["ours"] != scored["floor"] or ours["score"]["result"]["rows"] != scored["ours"]:
            raise RuntimeError(f"row counts differ: {scored}, our task reported {ours['score']['result']['rows']}")
        load = (load, os.getloadavg()[0])
    from benchmarks.bench_scoring import bench_postgres

    copy_alone = bench_postgres(rows, 10_000)[0]  # our writer vs psycopg binary COPY write_row, same rows
    return {"rows": scored["ours"], "ours": ours, "floor": floor, "load": load, "copy_alone": copy_alone}


def rows_for(m: dict) -> list[dict]:
    """One row per step (process wall; the step's work after imports in the note), the total, COPY alone."""
    case = f"{m['rows']:,} rows"
    load = f"load {m['load'][0]:.1f}→{m['load'][1]:.1f}"
    out = []
    for name, label in STEPS.items():
        o, f = m["ours"][name], m["floor"][name]
        extra = ""
        if name == "score":
            extra = (
                f"; floor: model load + read {f['load_s']:.1f} s, predict {f['predict_s']:.1f} s, "
                f"COPY {f['copy_s']:.1f} s"
            )
        out.append(
            {
                "benchmark": "score_steps",
                "case": f"{case}: {label} ({name} task), process wall",
                "ours": f"{o['seconds']:.1f} s",
                "baseline": f"floor {f['seconds']:.1f} s",
                "ratio": o["seconds"] / f["seconds"],
                "note": f"step work after imports: ours {o['execute_s']:.1f} s vs floor {f['step_s']:.1f} s "
                f"({o['execute_s'] / f['step_s']:.2f}x); library imports {o['heavy_import_s']:.1f} vs "
                f"{f['heavy_import_s']:.1f} s; peak RSS {o['peak_mb']:.0f} vs {f['peak_mb']:.0f} MB{extra}; {load}",
            }
        )
    ours_s = sum(t["seconds"] for t in m["ours"].values())
    floor_s = sum(t["seconds"] for t in m["floor"].values())
    out.append(
        {
            "benchmark": "score_steps",
            "case": f"{case}: the three tasks, process wall",
            "ours": f"{ours_s:.1f} s",
            "baseline": f"floor {floor_s:.1f} s",
            "ratio": ours_s / floor_s,
            "note": f"step work: ours {sum(t['execute_s'] for t in m['ours'].values()):.1f} s vs floor "
            f"{sum(t['step_s'] for t in m['floor'].values()):.1f} s; {load}",
        }
    )
    copy = dict(m["copy_alone"], benchmark="score_steps", case=f"{case}: binary COPY alone (bench_scoring)")
    out.append(copy)
    return out


def run(quick: bool) -> list[dict]:
    rows = int(os.environ.get("BENCH_STEPS_ROWS", 10_000 if quick else 100_000))
    return rows_for(measure(rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_score_steps", description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--json", help="also write the raw measurements here")
    args = parser.parse_args(argv)
    found = measure(args.rows)
    if args.json:
        Path(args.json).write_text(json.dumps(found, indent=2, default=str))
    for row in rows_for(found):
        print(f"| {row['case']} | {row['ours']} | {row['baseline']} | {row['ratio']:.2f}x | {row['note']} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        _child(sys.argv[2:])
    else:
        main()
