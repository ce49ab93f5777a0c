"""Operator that will train and register with MLflow (placeholder: logs only)."""

from __future__ import annotations

from airflow_mlops.operators.base import PlaceholderStage


class MLflowTrainOperator(PlaceholderStage):
    """Train and register with MLflow (placeholder)."""

    stage = "train"
