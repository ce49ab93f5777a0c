"""Wall time of ``airflow-mlops demo``: both example models' train, score and monitor DAGs, from nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def run(quick: bool = False) -> list[dict]:
    if quick:
        return [{"benchmark": "demo", "case": "skipped (quick)", "ours": "-", "baseline": "-", "ratio": None}]
    cli = Path(sys.executable).parent / "airflow-mlops"
    with tempfile.TemporaryDirectory(prefix="mlops-bench-demo-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
        t0 = time.monotonic()
        proc = subprocess.run(
            [str(cli), "demo", "--home", home], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=3600
        )
        seconds = time.monotonic() - t0
    steps = [line.strip() for line in proc.stdout.splitlines() if line.strip().startswith(("ok ", "FAIL"))]
    failed = sum(step.startswith("FAIL") for step in steps)
    if proc.returncode != 0:
        raise RuntimeError(f"demo failed ({failed} DAG runs):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return [
        {
            "benchmark": "demo",
            "case": f"airflow-mlops demo ({len(steps)} DAG runs)",
            "ours": f"{seconds:.0f} s",
            "baseline": "-",
            "ratio": None,
            "note": "wall time from an empty home: data generation, db migrate, `airflow dags test` per DAG",
        }
    ]
