"""Operator that will apply selection and action rules (placeholder: logs only)."""

from __future__ import annotations

from airflow_mlops.operators.base import PlaceholderStage


class PromotionGateOperator(PlaceholderStage):
    """Apply selection and action rules (placeholder)."""

    stage = "promotion"


class RollbackOperator(PlaceholderStage):
    """Re-point the champion alias to an earlier version (placeholder)."""

    stage = "rollback"
