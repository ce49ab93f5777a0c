"""Operator that will validate data with Great Expectations (placeholder: logs only)."""

from __future__ import annotations

from typing import Any, Literal

from airflow_mlops.operators.base import PlaceholderStage


class GXValidateOperator(PlaceholderStage):
    """Validate data with Great Expectations (placeholder)."""

    stage = "validate"

    def __init__(self, *, purpose: Literal["train", "score"], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.purpose = purpose
