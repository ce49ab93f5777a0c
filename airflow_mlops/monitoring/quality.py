"""Live model quality: metrics on scored rows whose labels arrived, and the spec's quality rules.

Metric names match training's (``mae``, ``rmse``, ``r2``, ``bias``; ``auc``, ``logloss``, ``f1``,
``precision``, ``recall``, ``accuracy``), so a quality rule reads like a promotion rule:
``metrics["mae"] <= 6``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def quality_metrics(
    task: str, labels: Sequence[float], predictions: Sequence[float], names: Sequence[str] | None = None
) -> dict[str, float]:
    """Training's metrics (:func:`airflow_mlops.training.metrics.task_metrics`) of the champion on labelled rows.

    ``predictions`` are values (regression) or positive-class probabilities (binary classification).
    """
    import numpy as np

    from airflow_mlops.scoring.predict import Predictions
    from airflow_mlops.spec.schema import CLASSIFICATION_METRICS, REGRESSION_METRICS
    from airflow_mlops.training.metrics import task_metrics

    p = np.asarray(predictions, dtype=float)
    if task == "regression":
        scored = Predictions(p)
        y = np.asarray(labels, dtype=float)
    else:
        y = np.asarray(labels).astype(int)
        scored = Predictions((p >= 0.5).astype(int), np.column_stack([1 - p, p]), [0, 1])
    default = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    return task_metrics(task, list(names or default), y, scored)


def failed_rules(rules: Sequence[str], metrics: dict[str, float], context: dict[str, Any] | None = None) -> list[str]:
    """The rules of ``rules`` that do not hold for ``metrics`` (a metric the rule needs but lacks fails it)."""
    evaluate = _evaluator()
    names = {"metrics": metrics, **(context or {})}
    return [text for text in rules if not evaluate(text, names)]


def _evaluator() -> Callable[[str, dict[str, Any]], bool]:
    """The rule language's :func:`airflow_mlops.rules.evaluate_condition` (same language as promotion)."""
    from airflow_mlops.rules import evaluate_condition

    return lambda text, names: bool(evaluate_condition(text, names))
