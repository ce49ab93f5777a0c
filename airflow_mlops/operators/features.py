"""Operator that will materialize features with Feast (placeholder: logs only)."""

from __future__ import annotations

from typing import Any, Literal

from airflow_mlops.operators.base import PlaceholderStage


class FeastMaterializeOperator(PlaceholderStage):
    """Materialize features with Feast (placeholder)."""

    stage = "features"

    def __init__(self, *, purpose: Literal["train", "score"], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.purpose = purpose
