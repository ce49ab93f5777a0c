"""Deterministic synthetic scored batches for writer tests and the benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from airflow_mlops.scoring.table import ScoreBatchKey
from airflow_mlops.scoring.writers import make_batch

LOGICAL_DATE = datetime(2024, 5, 1, 6, 30, tzinfo=UTC)


def batches(rows: int, chunk: int, seed: int = 0, classifier: bool = False) -> Iterator[pa.RecordBatch]:
    """``rows`` scored rows in chunks; the same ``seed`` gives the same rows."""
    rng = np.random.default_rng(seed)
    base = np.datetime64("2024-04-30T00:00:00", "us")
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        row_id = np.arange(start, start + n, dtype="int64")
        prob = rng.random(n) if classifier else None
        prediction = (prob > 0.5).astype("float64") if classifier else rng.normal(10, 3, n)
        stamps = pa.array(base + (row_id % 1440) * np.timedelta64(60, "s"), pa.timestamp("us"))
        yield make_batch(row_id, row_id % 997, stamps, prediction, prob)


def key(
    version: str = "1", role: str = "champion", model: str = "demo_model", dag_run_id: str = "manual__1"
) -> ScoreBatchKey:
    return ScoreBatchKey(model, version, role, f"run{version}", dag_run_id, LOGICAL_DATE)
