"""Operator that will compare champion and challenger on fresh data (placeholder: logs only)."""

from __future__ import annotations

from airflow_mlops.operators.base import PlaceholderStage


class EvaluateOperator(PlaceholderStage):
    """Compare champion and challenger on fresh data (placeholder)."""

    stage = "evaluate"
