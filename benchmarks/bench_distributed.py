"""Throughput on the distributed stack (issue 15): N models, one score run each, makespan on 1 vs 2 workers.

The stack of tests/distributed (PostgreSQL, redis, moto S3, mlflow server, Airflow api-server, scheduler,
dag-processor, triggerer, two Celery workers of two slots each) with N score DAGs of tests/distributed/score_dags.py
(stage a generated scoring set in S3 → the real BatchScoreOperator into PostgreSQL), one model each. A warm-up
round registers every champion (training is not in the figure); then N runs are triggered at once with both
workers up, and again after one worker is stopped: makespan = first trigger to last run finished. Same stack,
same DAGs, same data; only the number of workers differs. Default: 4 models × 20,000 rows (``--quick``: 2);
the issue's run: ``python -m benchmarks.bench_distributed --models 20 --rows 100000``.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

TERMINAL = {"success", "failed"}


def _round(cluster, dag_ids: list[str], rows: int, timeout: float = 1800) -> tuple[float, list[str]]:
    """Trigger one run per DAG at once; the makespan until all are terminal and the hosts that ran tasks."""
    began = time.monotonic()
    runs = {dag_id: cluster.trigger(dag_id, {"rows": rows}) for dag_id in dag_ids}
    for dag_id, run_id in runs.items():
        cluster.wait_for_run(dag_id, run_id, timeout=max(60.0, timeout - (time.monotonic() - began)))
    makespan = time.monotonic() - began
    hosts = sorted({ti["hostname"] or "-" for d, r in runs.items() for ti in cluster.task_instances(d, r)})
    return makespan, hosts


def measure(models: int, rows: int) -> dict:
    from tests.distributed.cluster import running_cluster, stop
    from tests.distributed.score_dags import write_score_dag

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log, one line per S3 call
    root = Path(tempfile.mkdtemp(prefix="mlops-bench-dist-"))
    with running_cluster(root, {}) as cluster:
        dag_ids = [
            write_score_dag(cluster.dags_folder, root / "specs", f"bench_score_{i}", f"bench_m{i}", f"bench_s{i}")
            for i in range(models)
        ]
        _round(cluster, dag_ids, rows)  # warm-up: trains and registers each champion, fills the DAG caches
        two, two_hosts = _round(cluster, dag_ids, rows)
        stop(cluster.procs["worker-2"])  # SIGTERM: a warm shutdown, nothing running
        one, one_hosts = _round(cluster, dag_ids, rows)
        load = os.getloadavg()[0]
    return {"two": two, "one": one, "two_hosts": two_hosts, "one_hosts": one_hosts, "load": load,
            "startup": cluster.startup_seconds}  # fmt: skip


def run(quick: bool) -> list[dict]:
    models, rows = (2, 20_000) if quick else (4, 20_000)
    models = int(os.environ.get("BENCH_DIST_MODELS", models))
    rows = int(os.environ.get("BENCH_DIST_ROWS", rows))
    found = measure(models, rows)
    note = (
        f"stage (generate {rows:,} rows → S3) + BatchScoreOperator → PostgreSQL per run; 2 Celery workers × 2 slots "
        f"vs worker-1 alone; ran on {found['two_hosts']} / {found['one_hosts']}; load avg {found['load']:.1f}"
    )
    return [
        {
            "benchmark": "distributed",
            "case": f"{models} models, one score run each: makespan 2 workers vs 1",
            "ours": f"{found['two']:.1f} s",
            "baseline": f"{found['one']:.1f} s",
            "ratio": found["two"] / found["one"],
            "note": note,
        }
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args(argv)
    os.environ["BENCH_DIST_MODELS"], os.environ["BENCH_DIST_ROWS"] = str(args.models), str(args.rows)
    for row in run(quick=False):
        print(f"{row['case']}: 2 workers {row['ours']}, 1 worker {row['baseline']}, ratio {row['ratio']:.2f}x")
        print(f"  {row['note']}")


if __name__ == "__main__":
    main()
