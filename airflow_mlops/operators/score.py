"""Operator that will batch-score into the scores database (placeholder: logs only)."""

from __future__ import annotations

from airflow_mlops.operators.base import PlaceholderStage


class BatchScoreOperator(PlaceholderStage):
    """Batch-score into the scores database (placeholder)."""

    stage = "score"
