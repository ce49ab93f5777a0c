"""A scored model for CLI tests: two registered versions (champion, challenger), shadow scoring of three
logical dates (a scheduled one, then two manual runs on one day with microseconds), one date re-scored by a
later run (a superseded run), all under a private MLOps home that subprocesses of the CLI share."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.scoring.test_operator import FEATURES, TaskInstance, _frame, _register, _spec

MODEL = "cli_reg"
SCHEDULED = datetime(2024, 6, 1, tzinfo=UTC)
MANUAL = datetime(2024, 6, 2, 8, 30, 15, 123456, tzinfo=UTC)
MANUAL_2 = datetime(2024, 6, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def scored(tmp_path_factory) -> dict:
    """``{"root", "spec", "sample", "env"}`` of the scored state; ``env`` runs the CLI against it."""
    import numpy as np
    from sklearn.linear_model import LinearRegression, Ridge

    from airflow_mlops.operators.score import BatchScoreOperator

    root = tmp_path_factory.mktemp("cli-state")
    conn = json.dumps({"conn_type": "sqlite", "host": str(root / "scores.db")})
    mp = pytest.MonkeyPatch()
    mp.setenv("AIRFLOW_MLOPS_HOME", str(root / "mlops"))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.setenv("AIRFLOW_CONN_SCORES_LITE", conn)
    try:
        frame = _frame()
        dataset = root / "validated.parquet"
        frame.to_parquet(dataset)
        noise = np.random.default_rng(2).normal(0, 1, len(frame))
        label = (2 * frame["hour"] + frame["temperature"]).to_numpy() + noise
        _register(MODEL, {"champion": LinearRegression(), "challenger": Ridge(alpha=5.0)}, frame, label)
        spec = _spec(root, MODEL, "regression", "scores_lite", "cli_scores", shadow=True)
        for when, run_id in (
            (SCHEDULED, "scheduled__2024-06-01"),
            (MANUAL, "manual__2024-06-02T08:30:15.123456+00:00"),
            (MANUAL_2, "manual__2024-06-02T09:00:00+00:00"),
            (SCHEDULED, "manual__rescore"),  # supersedes the scheduled run's rows of that date
        ):
            context = {
                "ti": TaskInstance({"validate": {"dataset": str(dataset), "digest": None}}),
                "logical_date": when,
                "run_id": run_id,
            }
            inputs = {"dataset": str(dataset), "scores_conn_id": "scores_lite"}
            BatchScoreOperator(task_id="score", spec_path=spec, **inputs).execute(context)
    finally:
        mp.undo()
    sample = root / "sample.parquet"
    frame[FEATURES].head(50).to_parquet(sample)
    env = {**os.environ, "AIRFLOW_MLOPS_HOME": str(root / "mlops"), "AIRFLOW_CONN_SCORES_LITE": conn}
    env.pop("MLFLOW_TRACKING_URI", None)
    for name in ("PYTHONWARNINGS", "AIRFLOW_MLOPS_DEBUG", "AIRFLOW__LOGGING__LOGGING_LEVEL"):
        env.pop(name, None)
    return {"root": root, "spec": spec, "sample": sample, "env": env}


def cli(state: dict, *args: str, **env: str):
    """Run ``airflow-mlops ARGS`` in a subprocess against ``state`` (extra environment variables in ``env``)."""
    return run_cli(["airflow-mlops", *args], env={**state["env"], **env}, cwd=Path(state["root"]))
