"""Operator that will write Evidently drift and quality reports (placeholder: logs only)."""

from __future__ import annotations

from airflow_mlops.operators.base import PlaceholderStage


class EvidentlyReportOperator(PlaceholderStage):
    """Write Evidently drift and quality reports (placeholder)."""

    stage = "report"
