"""Throughput on the distributed stack (issue 15): N models, one score run each, makespan on 1 vs 2 workers.

The stack of tests/distributed (PostgreSQL, redis, moto S3, mlflow server, Airflow api-server, scheduler,
dag-processor, triggerer, two Celery workers of two slots each, as plan.py starts them from docker-compose.yaml)
with N score DAGs of tests/distributed/score_dags.py (stage a generated scoring set in S3 → the real
BatchScoreOperator into PostgreSQL), one model each.

**A worker is a one-core machine.** Both workers run on the same two cores, so without pinning a second worker
adds task slots but no CPU. Here each worker's process tree (Celery main process, its pool, every thread) is
pinned with ``sched_setaffinity`` right after it is up, worker-1 to core 0 and worker-2 to core 1; the task
processes it forks later inherit the mask (checked by sampling them during every round). Same slots per worker
in both cases (compose leaves Celery's concurrency alone; the harness sets 2, FRUGAL in plan.py). The services
(scheduler, API server, PostgreSQL, MLflow, moto) float over both cores, as other helpers' processes do: with
one worker they have core 1 to themselves, with two they share it — which counts against the two-worker figure.

**What is measured.** A warm-up round parses every new DAG file, unpauses it, trains and registers each champion
(training is not in the figure). Then each round triggers N runs (one REST POST each, nothing else) and waits:
makespan = first POST sent → the last run's ``end_date``. From the task instances' records (REST) the round's
timeline: when the first task started, per worker the slot-seconds busy over the makespan, the mean wait of a
task between being queued and starting, and of a run between its stage task ending and its score task starting
(the scheduler's loop); and per core the share busy (``/proc/stat``, everything on the machine).
Default: 4 models × 20,000 rows (``--quick``: 2); the issue's run: ``--models 20``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

CORES = {"worker-1": {0}, "worker-2": {1}}


def _tree(pid: int) -> list:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def pin(pid: int, cpus: set[int]) -> int:
    """Pin every thread of ``pid`` and its descendants to ``cpus`` (later forks inherit it); threads pinned."""
    import psutil

    pinned = 0
    for proc in _tree(pid):
        try:
            for thread in proc.threads():
                os.sched_setaffinity(thread.id, cpus)
                pinned += 1
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue  # exited meanwhile
    return pinned


def _affinities(pid: int) -> dict[int, tuple[int, ...]]:
    """Affinity of each process in ``pid``'s tree right now."""
    import psutil

    out = {}
    for proc in _tree(pid):
        with contextlib.suppress(psutil.Error):  # exited meanwhile
            out[proc.pid] = tuple(sorted(proc.cpu_affinity()))
    return out


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid``'s tree, the exited task processes included (their reaper's children
    times; a live process's children times count only children it has reaped, so nothing is counted twice)."""
    import psutil

    total = 0.0
    for proc in _tree(pid):
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def _cpu_times() -> dict[str, tuple[int, int]]:
    """Per core: (busy, total) jiffies from /proc/stat."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu":
            values = [int(v) for v in fields]
            idle = values[3] + values[4]  # idle + iowait
            out[name] = (sum(values[:8]) - idle, sum(values[:8]))
    return out


def _when(stamp: str | None) -> float | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if stamp else None


def _post_runs(cluster, dag_ids: list[str], rows: int) -> dict[str, str]:
    """One POST per DAG (all parsed and unpaused by the warm-up), on one client."""
    with cluster.api() as api:
        return {
            dag_id: api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": {"rows": rows}})
            .raise_for_status()
            .json()["dag_run_id"]
            for dag_id in dag_ids
        }


def _states(cluster, runs: dict[str, str]) -> dict[str, str]:
    """State of each ``dag_id: run_id`` in ``runs``, from one listing of all DAGs' runs."""
    with cluster.api() as api:
        listed = api.get("/dags/~/dagRuns", params={"limit": 1000}).raise_for_status().json()["dag_runs"]
    return {r["dag_id"]: r["state"] for r in listed if runs.get(r["dag_id"]) == r["dag_run_id"]}


def _round(cluster, dag_ids: list[str], rows: int, workers: list[str], timeout: float = 3600) -> dict:
    """Trigger one run per DAG at once and wait for all; the round's makespan and timeline."""
    cpu0 = _cpu_times()
    used0 = {w: tree_cpu(cluster.procs[w].pid) for w in workers}
    began = time.time()
    runs = _post_runs(cluster, dag_ids, rows)
    posted = time.time() - began
    seen: dict[str, set[tuple[int, ...]]] = {w: set() for w in workers}
    pending = dict(runs)
    deadline = time.monotonic() + timeout
    while pending:
        for worker in workers:  # do the task processes forked meanwhile carry the worker's mask?
            seen[worker].update(_affinities(cluster.procs[worker].pid).values())
        for dag_id, state in _states(cluster, pending).items():  # one request for all runs: the API is a service
            if state == "failed":
                raise AssertionError(f"{dag_id} {runs[dag_id]} failed:\n{cluster.failure_report(dag_id, runs[dag_id])}")
            if state == "success":
                pending.pop(dag_id)
        if time.monotonic() > deadline:
            raise TimeoutError(f"runs still pending after {timeout:.0f}s: {sorted(pending)}")
        time.sleep(2)
    cpu1 = _cpu_times()
    used = {w: tree_cpu(cluster.procs[w].pid) - used0[w] for w in workers}
    with cluster.api() as api:
        dag_runs = [api.get(f"/dags/{d}/dagRuns/{r}").raise_for_status().json() for d, r in runs.items()]
    tis = [ti for d, r in runs.items() for ti in cluster.task_instances(d, r)]
    ended = max(_when(run["end_date"]) for run in dag_runs)
    return {
        "makespan": ended - began,
        "posted_s": posted,
        "timeline": timeline(tis, began, ended),
        "worker_cpu_s": used,
        "cores": {c: (cpu1[c][0] - cpu0[c][0]) / max(1, cpu1[c][1] - cpu0[c][1]) for c in cpu0},
        "affinity": {w: sorted(seen[w]) for w in workers},
        "hosts": sorted({ti["hostname"] or "-" for ti in tis}),
        "load": os.getloadavg(),
    }


def timeline(tis: list[dict], began: float, ended: float) -> dict:
    """Where a round's time went, from its task instances (start/end/queued dates, hostname)."""
    makespan = ended - began
    per_host: dict[str, float] = {}
    for ti in tis:
        busy = _when(ti["end_date"]) - _when(ti["start_date"])
        per_host[ti["hostname"]] = per_host.get(ti["hostname"], 0.0) + busy
    by_run: dict[str, dict[str, dict]] = {}
    for ti in tis:
        by_run.setdefault(ti["dag_id"], {})[ti["task_id"]] = ti
    handoff = [_when(r["score"]["start_date"]) - _when(r["stage"]["end_date"]) for r in by_run.values()]
    queued = [_when(ti["start_date"]) - _when(ti["queued_when"]) for ti in tis if ti.get("queued_when")]
    durations = {
        task: statistics.median(_when(r[task]["end_date"]) - _when(r[task]["start_date"]) for r in by_run.values())
        for task in ("stage", "score")
    }
    return {
        "first_start": min(_when(ti["start_date"]) for ti in tis) - began,
        "last_end_to_run_end": ended - max(_when(ti["end_date"]) for ti in tis),
        "busy_s": per_host,
        "tasks": {h: sum(ti["hostname"] == h for ti in tis) for h in per_host},
        "handoff_s": statistics.mean(handoff),
        "queued_s": statistics.mean(queued) if queued else float("nan"),
        "median_task_s": durations,
        "makespan": makespan,
    }


def describe(found: dict, slots: int) -> str:
    """One line per round: makespan, timeline, per-worker utilisation, per-core busy share."""
    t = found["timeline"]
    workers = ", ".join(
        f"{h}: {t['tasks'][h]} tasks, {busy:.0f} slot-s = {busy / (slots * t['makespan']):.0%} of {slots} slots"
        for h, busy in sorted(t["busy_s"].items())
    )
    cores = ", ".join(f"{c} {share:.0%}" for c, share in sorted(found["cores"].items()))
    got = ", ".join(
        f"{w} {cpu:.0f} CPU-s = {cpu / t['makespan']:.2f} core" for w, cpu in sorted(found["worker_cpu_s"].items())
    )
    median = ", ".join(f"{k} {v:.1f} s" for k, v in t["median_task_s"].items())
    return (
        f"makespan {found['makespan']:.1f} s (POSTs {found['posted_s']:.1f} s; first task started at "
        f"{t['first_start']:.1f} s; last task end → run end {t['last_end_to_run_end']:.1f} s); median task {median}; "
        f"queued→start {t['queued_s']:.1f} s, stage end → score start {t['handoff_s']:.1f} s (means); {workers}; "
        f"CPU the workers got: {got}; cores busy {cores}; load avg {found['load'][0]:.1f}"
    )


def measure(models: int, rows: int, sequence: tuple[int, ...] = (2, 1)) -> dict:
    from tests.distributed.cluster import running_cluster, stop
    from tests.distributed.plan import FRUGAL
    from tests.distributed.score_dags import write_score_dag

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log, one line per S3 call
    root = Path(tempfile.mkdtemp(prefix="mlops-bench-dist-"))
    slots = int(FRUGAL["AIRFLOW__CELERY__WORKER_CONCURRENCY"])
    rounds = []
    with running_cluster(root, {}) as cluster:
        pinned = {w: pin(cluster.procs[w].pid, cpus) for w, cpus in CORES.items()}
        dag_ids = [
            write_score_dag(cluster.dags_folder, root / "specs", f"bench_score_{i}", f"bench_m{i}", f"bench_s{i}")
            for i in range(models)
        ]
        t0 = time.monotonic()
        warm = {d: cluster.trigger(d, {"rows": 1000}) for d in dag_ids}  # parse, unpause, train each champion
        for dag_id, run_id in warm.items():
            cluster.wait_for_run(dag_id, run_id, timeout=1800)
        warmup = time.monotonic() - t0
        for n in sequence:
            if n == 1 and cluster.procs["worker-2"].poll() is None:
                stop(cluster.procs["worker-2"])  # SIGTERM: a warm shutdown, nothing running
            elif n == 2 and cluster.procs["worker-2"].poll() is not None:
                cluster.restart("worker-2")
                pinned["worker-2"] = pin(cluster.procs["worker-2"].pid, CORES["worker-2"])
            workers = list(CORES)[:n]
            found = _round(cluster, dag_ids, rows, workers)
            found["workers"] = n
            rounds.append(found)
            print(f"{n} worker(s): {describe(found, slots)}", flush=True)
    return {"rounds": rounds, "pinned": pinned, "warmup": warmup, "startup": cluster.startup_seconds,
            "slots": slots, "models": models, "rows": rows}  # fmt: skip


def summary(m: dict) -> dict:
    """Best makespan per worker count (rounds alternate when ``sequence`` repeats) and their ratio."""
    best = {n: min(r["makespan"] for r in m["rounds"] if r["workers"] == n) for n in (1, 2)}
    return {"two": best[2], "one": best[1], "ratio": best[2] / best[1]}


def run(quick: bool) -> list[dict]:
    models, rows = (2, 20_000) if quick else (4, 20_000)
    models = int(os.environ.get("BENCH_DIST_MODELS", models))
    rows = int(os.environ.get("BENCH_DIST_ROWS", rows))
    found = measure(models, rows)
    s = summary(found)
    note = (
        f"stage (generate {rows:,} rows → S3) + BatchScoreOperator → PostgreSQL per run; each worker pinned to "
        f"its own core, {found['slots']} slots each; "
        + " | ".join(f"{r['workers']} worker(s): {describe(r, found['slots'])}" for r in found["rounds"])
    )
    return [
        {
            "benchmark": "distributed",
            "case": f"{models} models, one score run each: makespan 2 one-core workers vs 1",
            "ours": f"{s['two']:.1f} s",
            "baseline": f"{s['one']:.1f} s",
            "ratio": s["ratio"],
            "note": note,
        }
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_distributed", description=__doc__)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--sequence", default="2,1", help="worker counts of the timed rounds, in order, e.g. 2,1,2,1")
    parser.add_argument("--json", help="also write the raw measurements here")
    args = parser.parse_args(argv)
    began = datetime.now(UTC)
    found = measure(args.models, args.rows, tuple(int(x) for x in args.sequence.split(",")))
    s = summary(found)
    print(
        f"{args.models} models x {args.rows:,} rows ({began:%Y-%m-%d %H:%M} UTC): 2 workers {s['two']:.1f} s, "
        f"1 worker {s['one']:.1f} s, ratio {s['ratio']:.2f}x; stack up {found['startup']:.0f} s, "
        f"warm-up {found['warmup']:.0f} s; threads pinned {found['pinned']}"
    )
    for r in found["rounds"]:
        print(f"  {r['workers']} worker(s): task-process affinities seen {r['affinity']}")
    if args.json:
        Path(args.json).write_text(json.dumps(found, indent=2, default=str))


if __name__ == "__main__":
    main()
