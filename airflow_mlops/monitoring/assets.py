"""The Asset a model's score DAG updates when new labelled data arrived; it schedules the train DAG."""

from __future__ import annotations

from airflow.sdk import Asset


def new_data_asset(model: str) -> Asset:
    """Asset ``mlops.<model>.new_labels``: updated when labels newer than the last signal arrive.

    The ``x-`` scheme is Airflow's private-scheme prefix: it skips URI normalization, which would load every
    provider's asset URI handlers (boto3 with them: 0.1 s of CPU in each DAG-processor fork)."""
    return Asset(name=f"mlops.{model}.new_labels", uri=f"x-mlops://{model}/new_labels", group="airflow-mlops")
