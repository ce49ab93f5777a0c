"""Operator that will decide whether to retrain (placeholder: logs only)."""

from __future__ import annotations

from airflow_mlops.operators.base import PlaceholderStage


class RetrainDecisionOperator(PlaceholderStage):
    """Decide whether to retrain (placeholder)."""

    stage = "retrain"
