"""The Asset a model's score DAG updates when new labelled data arrived; it schedules the train DAG."""

from __future__ import annotations

from airflow.sdk import Asset


def new_data_asset(model: str) -> Asset:
    """Asset ``mlops.<model>.new_labels``: updated when labels newer than the last signal arrive."""
    return Asset(name=f"mlops.{model}.new_labels", uri=f"mlops://{model}/new_labels", group="airflow-mlops")
