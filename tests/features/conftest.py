"""A small MLOps home with generated example data and an applied Feast repo, shared by the feature tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ..conftest import PROJECT

END = datetime(2026, 3, 1, tzinfo=UTC)
SIZES = {"zones": 4, "days": 5, "riders": 150, "snapshots": 3}
REPO = PROJECT / "configs" / "feature_repo"


@pytest.fixture(scope="module")
def feast_home(tmp_path_factory) -> Path:
    """``$AIRFLOW_MLOPS_HOME`` for this module: example data ending at END, Feast repo applied."""
    from include.datagen import write_example_data

    home = tmp_path_factory.mktemp("feast-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_MLOPS_HOME", str(home))
        mp.setenv("AIRFLOW_MLOPS_PROJECT", str(PROJECT))
        write_example_data(home / "data", end=END, **SIZES)
        yield home


@pytest.fixture(scope="module")
def hook(feast_home):
    from airflow_mlops.hooks.feast import FeastHook

    hook = FeastHook(REPO)
    hook.apply()
    return hook


@pytest.fixture(scope="session")
def specs():
    from airflow_mlops.spec import load_spec

    return {name: load_spec(PROJECT / "dags" / f"{name}.yaml") for name in ("ride_demand", "rider_churn")}
