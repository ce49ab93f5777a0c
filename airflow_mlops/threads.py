"""Caps on BLAS/OpenMP threads while a model fits or predicts inside a task.

Airflow workers run several tasks at once; an OpenMP estimator (HistGradientBoosting) that grabs every core of a
busy worker spins instead of working: 16 s instead of 0.8 s to fit 1k rows, 1.2–1.8 s instead of 0.1–0.2 s to
predict 10k rows (loaded 2-core machine). The default is one thread; raise it on a dedicated worker with
``$AIRFLOW_MLOPS_TRAIN_THREADS`` (fit, evaluate) or ``$AIRFLOW_MLOPS_PREDICT_THREADS`` (score).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

TRAIN_THREADS_ENV = "AIRFLOW_MLOPS_TRAIN_THREADS"
PREDICT_THREADS_ENV = "AIRFLOW_MLOPS_PREDICT_THREADS"


@contextmanager
def thread_limit(env: str = TRAIN_THREADS_ENV) -> Iterator[int]:
    """Cap BLAS/OpenMP threads to ``$<env>`` (default 1) for the block; yields the limit."""
    import sklearn.utils._openmp_helpers  # noqa: F401  (loads OpenMP/BLAS so the limit reaches them)
    from threadpoolctl import threadpool_limits

    limit = int(os.environ.get(env) or 1)
    with threadpool_limits(limits=limit):
        yield limit
