"""Input files (a spec's label and scoring sources) below ``[mlops] storage_url``/data: every worker reads the
same objects; the entity rows, the labels for monitoring and the new-data watermark come from there, and a
source name cannot leave the data prefix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from airflow_mlops.spec import load_spec
from tests.conftest import PROJECT

from .conftest import files_under

END = datetime(2026, 3, 1, tzinfo=UTC)


def upload_labels(storage, spec, rows: int = 48) -> pd.DataFrame:
    from airflow_mlops import settings
    from airflow_mlops.datasets import storage_path, upload

    f = spec.features
    labels = pd.DataFrame(
        {
            f.entity: [i % 4 for i in range(rows)],
            f.timestamp: [END - timedelta(hours=rows - i) for i in range(rows)],
            f.label: [float(i) for i in range(rows)],
        }
    )
    local = settings.home_path("upload", "labels.parquet")  # the uploader's disk, not a worker's state
    labels.to_parquet(local, index=False)
    upload(local, storage_path(f"{storage.url}/data/{f.label_source}"))
    local.unlink()
    return labels


def test_entity_rows_and_labels_come_from_object_storage(storage, tmp_path):
    from airflow_mlops import settings
    from airflow_mlops.monitoring.data import attach_labels
    from airflow_mlops.operators.features import entity_frame

    spec = load_spec(PROJECT / "dags" / "ride_demand.yaml")
    f = spec.features
    path = settings.input_path(f.label_source)
    assert str(path) == f"{storage.url}/data/{f.label_source}"
    labels = upload_labels(storage, spec)

    day = (END - timedelta(days=1), END)
    rows = entity_frame(spec, "train", day)
    assert len(rows) == 24 and list(rows.columns) == [f.entity, f.timestamp, f.label]
    assert rows[f.label].tolist() == labels[f.label].tolist()[-24:]
    joined = attach_labels(spec, labels.drop(columns=[f.label]).head(5))
    assert joined[f.label].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    home = settings.mlops_home()
    left = [name for name in files_under(home) if not name.startswith("cache/")]  # the rule-check cache
    assert left == [], "inputs read from object storage left files on the worker"


def test_missing_input_object_and_escaping_names_fail_loudly(storage):
    from airflow_mlops import settings
    from airflow_mlops.operators.features import entity_frame

    spec = load_spec(PROJECT / "dags" / "ride_demand.yaml")
    with pytest.raises(FileNotFoundError):
        entity_frame(spec, "train", None)
    for bad in ("../datasets/x.parquet", "/etc/passwd", "a/../../b.parquet"):
        with pytest.raises(ValueError):
            settings.input_path(bad)
