"""Which pipeline stages have landed: a stage still built on ``PlaceholderStage`` has not.

The end-to-end checks of a stage skip with a reason naming the placeholder until its real operator
replaces it, so they switch on by themselves.
"""

from __future__ import annotations

import importlib

import pytest

# stage -> (operator module, operator class)
STAGES = {
    "materialize": ("airflow_mlops.operators.features", "FeastMaterializeOperator"),
    "validate": ("airflow_mlops.operators.validate", "GXValidateOperator"),
    "train": ("airflow_mlops.operators.train", "MLflowTrainOperator"),
    "evaluate": ("airflow_mlops.operators.evaluate", "EvaluateOperator"),
    "promotion": ("airflow_mlops.operators.promotion", "PromotionGateOperator"),
    "scoring": ("airflow_mlops.operators.score", "BatchScoreOperator"),
    "report": ("airflow_mlops.operators.report", "EvidentlyReportOperator"),
    "retrain": ("airflow_mlops.operators.retrain", "RetrainDecisionOperator"),
}


def missing(*stages: str) -> list[str]:
    """Reasons for each of ``stages`` that is still a placeholder (empty when all have landed)."""
    from airflow_mlops.operators.base import PlaceholderStage

    reasons = []
    for stage in stages:
        module_name, class_name = STAGES[stage]
        cls = getattr(importlib.import_module(module_name), class_name)
        if issubclass(cls, PlaceholderStage):
            path = module_name.replace(".", "/") + ".py"
            reasons.append(f"{stage} stage not landed: {path} {class_name} is a placeholder")
    return reasons


def require(*stages: str) -> None:
    """Skip the calling test unless every one of ``stages`` has landed."""
    reasons = missing(*stages)
    if reasons:
        pytest.skip("; ".join(reasons))
