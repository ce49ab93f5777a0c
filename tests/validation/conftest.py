"""Fixtures for the data gate: example specs, generated batches with defects, a context-like object."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ..conftest import PROJECT

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
RIDE_SPEC = PROJECT / "dags" / "ride_demand.yaml"
CHURN_SPEC = PROJECT / "dags" / "rider_churn.yaml"


def rides(**defects: Any):
    """360 rows of ride_demand features and label (5 zones x 3 days) ending at NOW, with the given defects."""
    from include.datagen import Defects, ride_demand

    features, labels = ride_demand(zones=5, days=3, end=NOW, defects=Defects(**defects))
    return features.merge(labels, on=["zone_id", "event_timestamp"], validate="one_to_one")


def riders(**defects: Any):
    """400 rows of rider_churn features (100 riders x 4 snapshots) ending at NOW."""
    from include.datagen import Defects, rider_churn

    features, _ = rider_churn(riders=100, end=NOW, defects=Defects(**defects))
    return features


@pytest.fixture(scope="session")
def ride_spec():
    from airflow_mlops.spec import load_spec

    return load_spec(RIDE_SPEC)


@pytest.fixture(scope="session")
def churn_spec():
    from airflow_mlops.spec import load_spec

    return load_spec(CHURN_SPEC)


class TaskInstance:
    """The parts of a task instance the operator uses: XCom pull of the upstream result, XCom push."""

    def __init__(self, upstream: dict[str, dict[str, Any]]) -> None:
        self.upstream = upstream
        self.pushed: dict[str, Any] = {}

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.upstream.get(task_ids)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


class DagRun:
    run_id = "manual__2026-03-02T12:00:00+00:00"
    run_after = NOW


def context_for(dataset: Path, rows: int) -> dict[str, Any]:
    """A task context whose ``materialize`` upstream returned ``dataset``."""
    ti = TaskInstance({"materialize": {"dataset": str(dataset), "digest": None, "rows": rows, "purpose": "train"}})
    return {"ti": ti, "dag_run": DagRun(), "data_interval_end": NOW}
