"""Live model quality: metrics on scored rows whose labels arrived, and the spec's quality rules.

Metric names match training's (``mae``, ``rmse``, ``r2``, ``bias``; ``auc``, ``logloss``, ``f1``,
``precision``, ``recall``, ``accuracy``), so a quality rule reads like a promotion rule:
``metrics["mae"] <= 6``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def quality_metrics(task: str, labels: Sequence[float], predictions: Sequence[float]) -> dict[str, float]:
    """Metrics of ``predictions`` against ``labels`` (probabilities of the positive class for classification)."""
    import numpy as np
    from sklearn import metrics as m

    y = np.asarray(labels, dtype=float)
    p = np.asarray(predictions, dtype=float)
    if task == "regression":
        return {
            "mae": float(m.mean_absolute_error(y, p)),
            "rmse": float(np.sqrt(m.mean_squared_error(y, p))),
            "r2": float(m.r2_score(y, p)) if len(y) > 1 else float("nan"),
            "bias": float(np.mean(p - y)),
        }
    hard = (p >= 0.5).astype(int)
    out = {
        "accuracy": float(m.accuracy_score(y, hard)),
        "f1": float(m.f1_score(y, hard, zero_division=0)),
        "precision": float(m.precision_score(y, hard, zero_division=0)),
        "recall": float(m.recall_score(y, hard, zero_division=0)),
        "logloss": float(m.log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1])),
    }
    out["auc"] = float(m.roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else float("nan")
    return out


def failed_rules(rules: Sequence[str], metrics: dict[str, float], context: dict[str, Any] | None = None) -> list[str]:
    """The rules of ``rules`` that do not hold for ``metrics`` (a metric the rule needs but lacks fails it)."""
    evaluate = _evaluator()
    names = {"metrics": metrics, **(context or {})}
    return [text for text in rules if not evaluate(text, names)]


def _evaluator() -> Callable[[str, dict[str, Any]], bool]:
    """The rule language's :func:`airflow_mlops.rules.evaluate_condition` (same language as promotion)."""
    from airflow_mlops.rules import evaluate_condition

    return lambda text, names: bool(evaluate_condition(text, names))
